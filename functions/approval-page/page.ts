import { linkFields, type SignedLink } from '../../core/links';
import { MAX_COMMENT_LENGTH } from '../../core/text';
import type { PendingApprovalTask } from '../../core/history';
import { irreversibleToConfirm, recoveryLine } from '../../core/recovery';
import { describePlan } from '../../core/words';

/** Escapes text for HTML element content and attribute values. */
export const escapeHtml = (s: string): string =>
  s.replace(
    /[&<>"'`]/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;', '`': '&#96;' })[c] as string,
  );

const layout = (title: string, body: string): string =>
  `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">` +
  `<meta name="referrer" content="no-referrer"><title>${escapeHtml(title)}</title>` +
  `<style>body{font-family:system-ui,sans-serif;max-width:46rem;margin:2rem auto;padding:0 1rem}` +
  `li{margin:.3rem 0}button{font-size:1rem;margin-right:1rem;padding:.4rem 1rem}</style></head>` +
  `<body><h1>${escapeHtml(title)}</h1>${body}</body></html>`;

/**
 * The confirmation page a GET shows: the plan, and a form whose POST is the only thing that decides. The form carries
 * exactly the signed link's fields (built from the verified claims, never copied from the request), a comment and
 * the two buttons, and posts to the page itself with no query string, so nothing the request added can ride along.
 *
 * @param signedInAs the signed-in user, in identity mode (the page then says who decides rather than warning that
 *   the link decides for whoever holds it)
 * @default signedInAs none: the page is possession-based
 */
export function confirmationPage(
  task: Pick<PendingApprovalTask, 'input' | 'plan' | 'recovery'>,
  link: SignedLink,
  signedInAs?: string,
): string {
  const { input, plan } = task;
  const proof = task.recovery.proof;
  const recovery = recoveryLine(plan, proof);
  // An unproven deletion needs the approver's own confirmation, as `keymat approve --irreversible` gives it.
  const confirm = irreversibleToConfirm(plan, proof)
    ? `<p><label><input type="checkbox" name="irreversible" value="yes"> I confirm that this deletion may be ` +
      `irreversible: nobody proved that a copy of the material still exists.</label></p>`
    : '';
  const approver = link.claims.approver;
  const who =
    signedInAs === undefined
      ? `<p>This link was sent to <strong>${escapeHtml(approver)}</strong> only. Whoever holds it decides as ` +
        `${escapeHtml(approver)}: do not forward it. Nothing has been decided yet.</p>`
      : `<p>You are signed in as <strong>${escapeHtml(signedInAs)}</strong> and decide as ` +
        `<strong>${escapeHtml(approver)}</strong>. Nothing has been decided yet.</p>`;
  const hidden = linkFields(link)
    .map(([k, v]) => `<input type="hidden" name="${k}" value="${escapeHtml(v)}">`)
    .join('');
  return layout(
    `keymat: approve a ${plan.restore ? 'restore' : 'deletion'} of imported key material?`,
    (recovery ? `<p id="recovery"><strong>${escapeHtml(recovery)}</strong></p>` : '') +
      who +
      `<ul id="plan">${describePlan(plan, input)
        .map((l) => `<li>${escapeHtml(l)}</li>`)
        .join('')}</ul>` +
      `<form method="post" action="?">${hidden}` +
      confirm +
      `<p><label>Comment <input name="comment" maxlength="${MAX_COMMENT_LENGTH}" size="40"></label></p>` +
      `<button type="submit" name="decision" value="approve">Approve</button>` +
      `<button type="submit" name="decision" value="reject">Reject</button></form>`,
  );
}

/** A page with a title and one paragraph of text. */
export const messagePage = (title: string, text: string): string => layout(title, `<p>${escapeHtml(text)}</p>`);
