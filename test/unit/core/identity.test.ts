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

  it('keeps approvers that name different principals, in their order', () => {
    expect(distinctApprovers([carol, bob])).toEqual([carol, bob]);
  });

  it.each([
    ['only in case', `arn:aws:iam::${ACCOUNT}:user/Bob`],
    ['not at all', bob],
  ])('refuses two entries that differ %s, naming both', (_case, again) => {
    expect(() => distinctApprovers([bob, carol, again])).toThrow(
      expect.objectContaining({
        name: 'InvalidIdentity',
        message: `approvers "${bob}" and "${again}" are the same principal (IAM names ignore case): list each approver once`,
      }),
    );
  });
});
