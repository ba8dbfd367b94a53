import type { ChangeInput, Plan } from '../../core/types';
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

/** The confirmation page a GET shows: the plan, and a form whose POST is the only thing that decides. */
export function confirmationPage(input: ChangeInput, plan: Plan, approver: string, params: URLSearchParams): string {
  const hidden = [...params.entries()]
    .map(([k, v]) => `<input type="hidden" name="${escapeHtml(k)}" value="${escapeHtml(v)}">`)
    .join('');
  return layout(
    'keymat: approve a deletion of imported key material?',
    `<p>This link was sent to <strong>${escapeHtml(approver)}</strong>. Nothing has been decided yet.</p>` +
      `<ul id="plan">${describePlan(plan, input)
        .map((l) => `<li>${escapeHtml(l)}</li>`)
        .join('')}</ul>` +
      `<form method="post">${hidden}<p><label>Comment <input name="comment" maxlength="500" size="40"></label></p>` +
      `<button type="submit" name="decision" value="approve">Approve</button>` +
      `<button type="submit" name="decision" value="reject">Reject</button></form>`,
  );
}

export const messagePage = (title: string, text: string): string => layout(title, `<p>${escapeHtml(text)}</p>`);
