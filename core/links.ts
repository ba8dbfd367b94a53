import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Approval links: each names one execution and the one approver it was sent to, and expires. An HMAC-SHA256 over
 * those three, with a secret only keymat holds, makes a forged or edited link detectable. The link carries no task
 * token: the page finds the pending token in the execution history when it decides.
 */
export interface LinkClaims {
  executionArn: string;
  approver: string;
  /** Epoch seconds. */
  expiresAt: number;
}

const signature = (secret: string, c: LinkClaims): string =>
  createHmac('sha256', secret).update(`${c.executionArn}\n${c.approver}\n${c.expiresAt}`).digest('base64url');

export function signLink(baseUrl: string, secret: string, claims: LinkClaims): string {
  const q = new URLSearchParams({
    e: claims.executionArn,
    a: claims.approver,
    x: String(claims.expiresAt),
    s: signature(secret, claims),
  });
  return `${baseUrl}?${q.toString()}`;
}

export type LinkCheck = { ok: true; claims: LinkClaims } | { ok: false; status: 400 | 403 | 410; reason: string };

/** Checks a link's parameters: present, signed with the secret, not expired. */
export function verifyLink(params: URLSearchParams, secret: string, now: Date): LinkCheck {
  const executionArn = params.get('e');
  const approver = params.get('a');
  const x = params.get('x');
  const s = params.get('s');
  if (!executionArn || !approver || !x || !s || !/^\d{1,12}$/.test(x)) {
    return { ok: false, status: 400, reason: 'This approval link is incomplete.' };
  }
  const claims = { executionArn, approver, expiresAt: Number(x) };
  const expected = Buffer.from(signature(secret, claims));
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
  return { ok: true, claims };
}
