import { signLink, verifyLink } from '../../core/links';
import { confirmationPage, escapeHtml } from '../../functions/approval-page/page';
import { input, planFor, snapshot } from '../helpers/kms-fixtures';

const SECRET = 'test-secret';
const claims = {
  executionArn: 'arn:aws:states:us-east-1:111122223333:execution:m:keymat-CHG-1',
  approver: 'bob',
  expiresAt: 2_000_000_000,
};
const now = new Date('2026-11-22T00:00:00Z');
const paramsOf = (url: string) => new URL(url).searchParams;

describe('approval links', () => {
  const link = signLink('https://example.test/approval', SECRET, claims);

  it('verifies a link keymat signed', () => {
    expect(verifyLink(paramsOf(link), SECRET, now)).toEqual({ ok: true, claims });
  });

  it.each([
    ['another approver', (p: URLSearchParams) => p.set('a', 'mallory'), 403],
    ['another execution', (p: URLSearchParams) => p.set('e', `${claims.executionArn}x`), 403],
    ['a later expiry', (p: URLSearchParams) => p.set('x', String(claims.expiresAt + 1)), 403],
    ['a changed signature', (p: URLSearchParams) => p.set('s', `${p.get('s')}A`), 403],
    ['no signature', (p: URLSearchParams) => p.delete('s'), 400],
  ])('refuses a link edited to name %s', (_l, edit, status) => {
    const p = paramsOf(link);
    edit(p);
    expect(verifyLink(p, SECRET, now)).toMatchObject({ ok: false, status });
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

describe('the confirmation page', () => {
  it('shows every value as text, never as markup', () => {
    const html = confirmationPage(
      input({ reason: '<script>alert(1)</script>', requestedBy: '"><img src=x onerror=alert(2)>' }),
      planFor(snapshot()),
      "bob'><script>",
      new URLSearchParams({ e: '"><script>', a: 'bob', x: '1', s: 'sig' }),
    );
    expect(html).not.toMatch(/<script>|<img/);
    expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(html).toContain('method="post"');
  });

  it('escapes the characters that matter in content and attributes', () => {
    expect(escapeHtml(`<a href="x" onclick='y'>&\``)).toBe(
      '&lt;a href=&quot;x&quot; onclick=&#39;y&#39;&gt;&amp;&#96;',
    );
  });
});
