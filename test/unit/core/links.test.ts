import { linkRecipients, linkRefusal, signLink, verifyLink } from '../../../core/links';
import type { Approval, ApprovalRules } from '../../../core/types';
import { confirmationPage, escapeHtml } from '../../../functions/approval-page/page';
import { HUB_CONTEXT, input, planFor, snapshot } from '../../helpers/kms-fixtures';

const SECRET = 'test-secret';
const user = (name: string) => `arn:aws:iam::111122223333:user/${name}`;
const claims = {
  executionArn: 'arn:aws:states:us-east-1:111122223333:execution:m:keymat-CHG-1',
  approver: user('bob'),
  expiresAt: 2_000_000_000,
};
const now = new Date('2026-11-22T00:00:00Z');
const paramsOf = (url: string) => new URL(url).searchParams;

describe('approval links', () => {
  const link = signLink('https://example.test/approval', SECRET, claims);

  it('verifies a link keymat signed', () => {
    expect(verifyLink(paramsOf(link), SECRET, now)).toEqual({
      ok: true,
      claims,
      signature: paramsOf(link).get('s'),
    });
  });

  it('carries exactly the execution, the approver, the expiry and the signature', () => {
    expect([...paramsOf(link).keys()]).toEqual(['e', 'a', 'x', 's']);
  });

  it.each([
    ['another approver', (p: URLSearchParams) => p.set('a', user('mallory')), 403],
    ['another execution', (p: URLSearchParams) => p.set('e', `${claims.executionArn}x`), 403],
    ['a later expiry', (p: URLSearchParams) => p.set('x', String(claims.expiresAt + 1)), 403],
    ['a changed signature', (p: URLSearchParams) => p.set('s', `${p.get('s')}A`), 403],
    ['no signature', (p: URLSearchParams) => p.delete('s'), 400],
  ])('refuses a link edited to name %s', (_l, edit, status) => {
    const p = paramsOf(link);
    edit(p);
    expect(verifyLink(p, SECRET, now)).toMatchObject({ ok: false, status });
  });

  it.each(['e', 'a', 'x', 's'])('refuses a link that gives %s twice, even with the signed value first', (field) => {
    const p = paramsOf(link);
    p.append(field, field === 'a' ? user('mallory') : '1');
    expect(verifyLink(p, SECRET, now)).toMatchObject({
      ok: false,
      status: 400,
      reason: expect.stringMatching(/repeats/),
    });
  });

  it('refuses a link signed with another secret', () => {
    expect(verifyLink(paramsOf(signLink('https://x/approval', 'other', claims)), SECRET, now)).toMatchObject({
      status: 403,
    });
  });

  it('refuses an expired link with 410', () => {
    expect(verifyLink(paramsOf(link), SECRET, new Date(claims.expiresAt * 1000))).toMatchObject({
      ok: false,
      status: 410,
    });
  });
});

describe('who gets a link', () => {
  const approval = (approver: string, round: number): Approval => ({
    approver,
    at: '2026-11-22T00:00:00Z',
    channel: 'cli',
    round,
    mac: 'bWFj',
  });
  const rules = (allowedApprovers: string[], quorum = 2): ApprovalRules => ({ quorum, allowedApprovers });
  const alice = input({ requestedBy: user('alice') });

  it('sends each approver named exactly who is not the requester and may still approve', () => {
    const r = rules([user('alice'), user('bob'), user('carol'), user('dave')], 3);
    expect(linkRecipients([approval(user('dave'), 1)], alice, r)).toEqual([user('bob'), user('carol')]);
  });

  it('sends no link to an approver pattern, nor to whoever it matches', () => {
    const pattern = 'arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_Approvers_*/*';
    expect(linkRecipients([], alice, rules([pattern]))).toEqual([]);
    expect(linkRefusal(pattern, [], alice, rules([pattern]))).toMatchObject({ code: 'NOT_ALLOWED' });
    const matched = 'arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_Approvers_1/bob';
    expect(linkRefusal(matched, [], alice, rules([pattern]))).toMatchObject({
      code: 'NOT_ALLOWED',
      message: expect.stringContaining('named exactly'),
    });
  });

  it('sends the requester no link, however the configuration spells them', () => {
    expect(linkRecipients([], alice, rules([user('ALICE'), user('bob')]))).toEqual([user('bob')]);
    expect(linkRefusal(user('Alice'), [], alice, rules([user('alice')]))).toMatchObject({ code: 'REQUESTER' });
  });

  it('sends one link per principal when the configuration repeats it', () => {
    expect(linkRecipients([], alice, rules([user('bob'), user('BOB')]))).toEqual([user('bob')]);
  });

  it('sends no link when the configuration names no approver', () => {
    expect(linkRecipients([], alice, rules([]))).toEqual([]);
    expect(linkRefusal(user('bob'), [], alice, rules([]))).toMatchObject({ code: 'NOT_ALLOWED' });
  });
});

describe('the confirmation page', () => {
  const link = { claims: { ...claims, executionArn: '"><script>', approver: "bob'><script>" }, signature: 'sig' };

  it('shows every value as text, never as markup', () => {
    const html = confirmationPage(
      {
        input: input({ reason: '<script>alert(1)</script>', requestedBy: '"><img src=x onerror=alert(2)>' }),
        plan: planFor(snapshot()),
        recovery: {},
      },
      link,
    );
    expect(html).not.toMatch(/<script>|<img/);
    expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(html).toContain('method="post"');
  });

  it('has a form of exactly the signed link fields, a comment and the two buttons, posted without a query', () => {
    const html = confirmationPage(
      { input: input(), plan: planFor(snapshot()), recovery: {} },
      { claims, signature: 'sig' },
    );
    const names = [...html.matchAll(/<(?:input|button)[^>]* name="([^"]+)"/g)].map((m) => m[1]);
    expect(names).toEqual(['e', 'a', 'x', 's', 'comment', 'decision', 'decision']);
    expect(html).toContain('<form method="post" action="?">');
    expect(html).toContain(`value="${claims.approver}"`);
  });

  it('opens with NOT SHOWN TO BE REVERSIBLE and asks for the confirmation when an offered proof did not come', () => {
    const plan = planFor(snapshot(), undefined, { ...HUB_CONTEXT, recoveryProof: 'offered' });
    const html = confirmationPage({ input: input(), plan, recovery: {} }, { claims, signature: 'sig' });
    expect(html).toMatch(/<h1>[^<]*<\/h1><p id="recovery"><strong>This deletion is NOT SHOWN TO BE REVERSIBLE/);
    const names = [...html.matchAll(/<(?:input|button)[^>]* name="([^"]+)"/g)].map((m) => m[1]);
    expect(names).toEqual(['e', 'a', 'x', 's', 'irreversible', 'comment', 'decision', 'decision']);
  });

  it('says that whoever holds the link decides as its approver', () => {
    const html = confirmationPage(
      { input: input(), plan: planFor(snapshot()), recovery: {} },
      { claims, signature: 'sig' },
    );
    expect(html).toContain(`Whoever holds it decides as ${claims.approver}: do not forward it.`);
  });

  it('escapes the characters that matter in content and attributes', () => {
    expect(escapeHtml(`<a href="x" onclick='y'>&\``)).toBe(
      '&lt;a href=&quot;x&quot; onclick=&#39;y&#39;&gt;&amp;&#96;',
    );
  });
});
