import {
  canonicalPrincipal,
  checkApproverPattern,
  displayName,
  distinctApprovers,
  matchesApprover,
  samePrincipal,
} from '../../../core/identity';

const ACCOUNT = '111122223333';

describe('canonicalPrincipal', () => {
  it('keeps an IAM user ARN', () => {
    expect(canonicalPrincipal(`arn:aws:iam::${ACCOUNT}:user/ops/alice`)).toBe(`arn:aws:iam::${ACCOUNT}:user/ops/alice`);
  });

  it('maps an assumed-role session to its role: the session name is the caller’s choice', () => {
    expect(canonicalPrincipal(`arn:aws:sts::${ACCOUNT}:assumed-role/KeyAdmins/alice`)).toBe(
      `arn:aws:iam::${ACCOUNT}:role/KeyAdmins`,
    );
    expect(canonicalPrincipal(`arn:aws:sts::${ACCOUNT}:assumed-role/KeyAdmins/pretend-bob`)).toBe(
      `arn:aws:iam::${ACCOUNT}:role/KeyAdmins`,
    );
  });

  it('keeps the session name of an IAM Identity Center role, which the service sets', () => {
    const arn = `arn:aws:sts::${ACCOUNT}:assumed-role/AWSReservedSSO_KeyApprovers_0123456789abcdef/alice@example.com`;
    expect(canonicalPrincipal(arn)).toBe(arn);
  });

  it('keeps the session name of a role the deployment names as session-bound', () => {
    const arn = `arn:aws:sts::${ACCOUNT}:assumed-role/Approvers/alice`;
    expect(canonicalPrincipal(arn, { sessionBoundRoles: ['Approvers'] })).toBe(arn);
  });

  it.each([
    ['a plain name', 'alice'],
    ['a trailing space', `arn:aws:iam::${ACCOUNT}:user/alice `],
    ['a Cyrillic letter', `arn:aws:iam::${ACCOUNT}:user/\u0430lice`],
    ['a no-break space', `arn:aws:iam::${ACCOUNT}:user/al\u00a0ice`],
    ['a control character', `arn:aws:iam::${ACCOUNT}:user/alice\u001b[2K`],
    ['a zero-width space', `arn:aws:iam::${ACCOUNT}:user/al\u200bice`],
    ['another service', `arn:aws:s3:::${ACCOUNT}`],
    ['a malformed session', `arn:aws:sts::${ACCOUNT}:assumed-role/OnlyRole`],
  ])('refuses %s as InvalidIdentity, naming the value', (_what, arn) => {
    expect(() => canonicalPrincipal(arn)).toThrow(expect.objectContaining({ name: 'InvalidIdentity' }));
    expect(() => canonicalPrincipal(arn)).toThrow(JSON.stringify(arn));
  });
});

describe('samePrincipal', () => {
  it('ignores case, as IAM names are unique regardless of case', () => {
    expect(samePrincipal(`arn:aws:iam::${ACCOUNT}:user/Alice`, `arn:aws:iam::${ACCOUNT}:user/alice`)).toBe(true);
    expect(samePrincipal(`arn:aws:iam::${ACCOUNT}:user/alice`, `arn:aws:iam::${ACCOUNT}:user/bob`)).toBe(false);
  });
});

describe('approver patterns', () => {
  it('refuses a plain name', () => {
    expect(() => checkApproverPattern('bob')).toThrow(/plain names cannot be authenticated/);
  });

  it('accepts principal ARNs and patterns', () => {
    expect(checkApproverPattern(`arn:aws:iam::${ACCOUNT}:user/bob`)).toBe(`arn:aws:iam::${ACCOUNT}:user/bob`);
    expect(checkApproverPattern(`arn:aws:sts::${ACCOUNT}:assumed-role/AWSReservedSSO_Approvers_*/*`)).toContain('*');
  });

  it('matches a wildcard within one path segment only', () => {
    const pattern = `arn:aws:iam::${ACCOUNT}:user/*`;
    expect(matchesApprover(`arn:aws:iam::${ACCOUNT}:user/bob`, pattern)).toBe(true);
    expect(matchesApprover(`arn:aws:iam::${ACCOUNT}:user/ops/bob`, pattern)).toBe(false);
    expect(matchesApprover(`arn:aws:iam::999999999999:user/bob`, pattern)).toBe(false);
  });

  it('treats regular-expression characters in a pattern literally', () => {
    expect(matchesApprover(`arn:aws:iam::${ACCOUNT}:user/bobXcom`, `arn:aws:iam::${ACCOUNT}:user/bob.com`)).toBe(false);
  });
});

it('shows the last segment of a principal as its display name', () => {
  expect(displayName(`arn:aws:iam::${ACCOUNT}:user/ops/alice`)).toBe('alice');
  expect(displayName(`arn:aws:iam::${ACCOUNT}:root`)).toBe('root');
});

describe('distinctApprovers', () => {
  const bob = `arn:aws:iam::${ACCOUNT}:user/bob`;
  const carol = `arn:aws:iam::${ACCOUNT}:user/carol`;
  const role = `arn:aws:iam::${ACCOUNT}:role/KeyOps`;
  const session = (name: string) => `arn:aws:sts::${ACCOUNT}:assumed-role/KeyOps/${name}`;

  it('keeps approvers that name different principals, in their order', () => {
    expect(distinctApprovers([carol, bob, `arn:aws:iam::${ACCOUNT}:role/Key*`])).toEqual([
      carol,
      bob,
      `arn:aws:iam::${ACCOUNT}:role/Key*`,
    ]);
  });

  it.each([
    ['differ only in case', bob, `arn:aws:iam::${ACCOUNT}:user/Bob`, bob.replace('bob', 'Bob')],
    ['are one entry twice', bob, bob, bob],
    ['are a role and a session of it', role, session('alice'), role],
    ['are two sessions of one role', session('alice'), session('bob'), role],
    [
      'are one pattern in two cases',
      `arn:aws:iam::${ACCOUNT}:role/Key*`,
      `arn:aws:iam::${ACCOUNT}:role/key*`,
      `arn:aws:iam::${ACCOUNT}:role/key*`,
    ],
  ])('refuses two entries that %s, naming both and the principal', (_case, first, again, principal) => {
    expect(() => distinctApprovers([first, carol, again])).toThrow(
      expect.objectContaining({
        name: 'InvalidIdentity',
        message: `"${first}" and "${again}" are the same principal, "${principal}" (a session of a role is the role unless the role is session-bound; IAM names ignore case): list each principal once`,
      }),
    );
  });

  it('keeps sessions of a session-bound role apart from each other and from the role', () => {
    const approvers = [role, session('alice'), session('bob')];
    expect(distinctApprovers(approvers, { sessionBoundRoles: ['KeyOps'] })).toEqual(approvers);
  });

  it('keeps sessions of an IAM Identity Center role apart without being told', () => {
    const sso = (name: string) => `arn:aws:sts::${ACCOUNT}:assumed-role/AWSReservedSSO_Approvers_0123/${name}`;
    expect(distinctApprovers([sso('alice'), sso('bob')])).toEqual([sso('alice'), sso('bob')]);
  });

  it('refuses a plain name with the pattern check', () => {
    expect(() => distinctApprovers([carol, 'bob'])).toThrow(
      expect.objectContaining({ name: 'InvalidIdentity', message: expect.stringContaining('"bob" must be') }),
    );
  });
});
