import { createHmac, timingSafeEqual } from 'node:crypto';
import { refusal, type Refusal } from './approvals';
import { isExactPrincipal, samePrincipal } from './identity';
import type { ApprovalResult, ApprovalRules, ChangeInput } from './types';

/**
 * Approval links: each names one execution and the one approver it was sent to, and expires. An HMAC-SHA256 over
 * those three, with a secret only keymat holds, makes a forged or edited link detectable. The link carries no task
 * token: the page finds the pending token in the execution history when it decides.
 *
 * A link proves possession, not identity: whoever holds it decides as the approver it names. That is why a link is
 * only ever made for one approver named exactly (never a pattern, never the requester), is sent to that approver
 * alone, and stops working once that approver's decision is in.
 */
export interface LinkClaims {
  executionArn: string;
  approver: string;
  /** Epoch seconds. */
  expiresAt: number;
}

/** The parameters a link carries, and the only ones its confirmation form sends back: execution, approver, expiry, signature. */
export const LINK_FIELDS = ['e', 'a', 'x', 's'] as const;

/** A verified link: its claims and the signature that proved them. */
export interface SignedLink {
  claims: LinkClaims;
  signature: string;
}

const signatureOf = (secret: string, c: LinkClaims): string =>
  createHmac('sha256', secret).update(`${c.executionArn}\n${c.approver}\n${c.expiresAt}`).digest('base64url');

/** A link's parameters, in the order of {@link LINK_FIELDS}. */
export const linkFields = (link: SignedLink): [(typeof LINK_FIELDS)[number], string][] => [
  ['e', link.claims.executionArn],
  ['a', link.claims.approver],
  ['x', String(link.claims.expiresAt)],
  ['s', link.signature],
];

/** The link for `claims` under the page's URL, signed with the link secret. */
export function signLink(baseUrl: string, secret: string, claims: LinkClaims): string {
  const q = new URLSearchParams(linkFields({ claims, signature: signatureOf(secret, claims) }));
  return `${baseUrl}?${q.toString()}`;
}

export type LinkCheck = ({ ok: true } & SignedLink) | { ok: false; status: 400 | 403 | 410; reason: string };

/**
 * Checks a link's parameters: each present once, signed with the secret, not expired. A repeated parameter is
 * refused rather than read first-wins, so no value but the signed one can ever be acted on.
 */
export function verifyLink(params: URLSearchParams, secret: string, now: Date): LinkCheck {
  if (LINK_FIELDS.some((f) => params.getAll(f).length > 1)) {
    return {
      ok: false,
      status: 400,
      reason: 'This approval link repeats a parameter: use the link as you received it.',
    };
  }
  const executionArn = params.get('e');
  const approver = params.get('a');
  const x = params.get('x');
  const s = params.get('s');
  if (!executionArn || !approver || !x || !s || !/^\d{1,12}$/.test(x)) {
    return { ok: false, status: 400, reason: 'This approval link is incomplete.' };
  }
  const claims = { executionArn, approver, expiresAt: Number(x) };
  const expected = Buffer.from(signatureOf(secret, claims));
  const given = Buffer.from(s);
  if (expected.length !== given.length || !timingSafeEqual(expected, given)) {
    return {
      ok: false,
      status: 403,
      reason: 'This approval link is not valid: it was not issued by keymat or was changed.',
    };
  }
  if (claims.expiresAt * 1000 <= now.getTime()) {
    return { ok: false, status: 410, reason: 'This approval link has expired.' };
  }
  return { ok: true, claims, signature: s };
}

/**
 * Why `approver` may not decide with a link of their own on this round, or undefined when they may: the approval
 * rules (`refusal`: never the requester, once per approver, only allowed approvers), and, because a link stands for
 * one person, only an approver the configuration names exactly: a principal matched by a pattern gets no link.
 */
export function linkRefusal(
  approver: string,
  soFar: ApprovalResult['approvals'],
  input: ChangeInput,
  rules: ApprovalRules,
): Refusal | undefined {
  const why = refusal(approver, soFar, input, rules);
  if (why) return why;
  const named = rules.allowedApprovers.filter(isExactPrincipal);
  if (!named.some((p) => samePrincipal(p, approver))) {
    return {
      code: 'NOT_ALLOWED',
      message: `${approver} is not one of the allowed approvers named exactly (${named.join(', ') || 'none'}): approval links are made only for those`,
    };
  }
  return undefined;
}

/**
 * Who gets a link this round: each configured approver named exactly (not a pattern) who is not the requester and
 * may still approve, once however often the configuration spells them. None when the configuration names no
 * approver.
 */
export function linkRecipients(soFar: ApprovalResult['approvals'], input: ChangeInput, rules: ApprovalRules): string[] {
  const recipients: string[] = [];
  for (const p of rules.allowedApprovers) {
    if (!isExactPrincipal(p) || linkRefusal(p, soFar, input, rules)) continue;
    if (!recipients.some((r) => samePrincipal(r, p))) recipients.push(p);
  }
  return recipients;
}
