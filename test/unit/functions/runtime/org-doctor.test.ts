import type { KmsCall, OrganizationsCall } from '../../../../core/aws-api';
import { KeymatError } from '../../../../core/errors';
import { MEMBER_DELETE_ROLE, MEMBER_RECOVERY_ROLE, type MemberRole, type Members } from '../../../../core/organisation';
import type { KeyAccess } from '../../../../functions/runtime/key-access';
import { diagnoseFleet, type FleetDoctorDeps } from '../../../../functions/runtime/org-doctor';

/** The doctor's verdicts on answers the local stack does not give: another organisation, a key scope, a wide trust. */
const ORG = 'o-a1b2c3d4e5';
const HUB = '111122223333';
const MEMBER = '444455556666';
const members: Members = { organizationId: ORG, regions: ['eu-west-1'] };

const named = (name: string, message: string) => Object.assign(new Error(message), { name });

function organizations(organizationId = ORG): { call: OrganizationsCall; operations: string[] } {
  const operations: string[] = [];
  const answers: Record<string, (input: Record<string, unknown>) => unknown> = {
    DescribeOrganization: () => ({ Organization: { Id: organizationId, MasterAccountId: HUB } }),
    ListAccounts: () => ({
      Accounts: [HUB, MEMBER].map((Id) => ({ Id, Name: `n-${Id}`, State: 'ACTIVE' })),
    }),
    DescribeAccount: (input) => ({
      Account: { Arn: `arn:aws:organizations::${HUB}:account/${ORG}/${String(input.AccountId)}`, State: 'ACTIVE' },
    }),
    ListParents: () => ({ Parents: [{ Id: 'r-ab12', Type: 'ROOT' }] }),
  };
  const call = (async (operation: string, input: Record<string, unknown>) => {
    operations.push(operation);
    return answers[operation]?.(input);
  }) as unknown as OrganizationsCall;
  return { call, operations };
}

/** Key access where the read role answers with `kms` and the delete role lets in whom `deleteLetsIn` says. */
function access(kms: KmsCall, deleteLetsIn = false): { keyAccess: (role: MemberRole) => KeyAccess; assumed: string[] } {
  const assumed: string[] = [];
  const keyAccess =
    (role: MemberRole): KeyAccess =>
    () =>
    async (place) => {
      assumed.push(`${role} ${place.account}`);
      if (role === MEMBER_RECOVERY_ROLE || (role === MEMBER_DELETE_ROLE && !deleteLetsIn)) {
        throw new KeymatError('MemberRoleUnavailable', 'STS refused', {
          cause: named('AccessDenied', 'not authorized'),
        });
      }
      return kms;
    };
  return { keyAccess, assumed };
}

const keysKms = (describe: (keyArn: string) => unknown): KmsCall =>
  (async (operation: string, input: { KeyId?: string }) => {
    if (operation === 'ListKeys') {
      return { Keys: ['k1', 'k2'].map((k) => ({ KeyId: k, KeyArn: `arn:aws:kms:eu-west-1:${MEMBER}:key/${k}` })) };
    }
    return describe(input.KeyId as string);
  }) as unknown as KmsCall;

const deps = (orgs: OrganizationsCall, keyAccess: FleetDoctorDeps['keyAccess']): FleetDoctorDeps => ({
  organizations: orgs,
  keyAccess,
  hub: { account: HUB, region: 'us-east-1' },
});

it('fails one organisation row, assuming no role, when the hub is in another organisation than the members', async () => {
  const orgs = organizations('o-zzzzzzzzzz');
  const { keyAccess, assumed } = access(keysKms(() => ({})));
  const report = await diagnoseFleet(deps(orgs.call, keyAccess), members);
  expect(report.rows).toEqual([
    expect.objectContaining({
      check: 'organisation',
      verdict: 'FAIL',
      detail: expect.stringContaining('o-zzzzzzzzzz'),
    }),
  ]);
  expect(report.failures).toBe(1);
  expect(assumed).toEqual([]);
  expect(orgs.operations).toEqual(['DescribeOrganization']);
});

it("counts a key the role's own policy refuses as outside the key scope, and fails one its key policy refuses", async () => {
  const kms = keysKms((keyArn) => {
    const because = keyArn.endsWith('k1') ? 'identity-based' : 'resource-based';
    throw named(
      'AccessDeniedException',
      `User: x is not authorized to perform: kms:DescribeKey on resource: ${keyArn} because no ${because} policy allows the kms:DescribeKey action`,
    );
  });
  const report = await diagnoseFleet(deps(organizations().call, access(kms).keyAccess), members);
  const member = report.rows.filter((r) => r.account === MEMBER && r.region === 'eu-west-1');
  expect(member).toEqual([
    expect.objectContaining({ check: 'keys', verdict: 'ok', detail: '2 listed: 0 readable, 1 outside the key scope' }),
    expect.objectContaining({ check: 'key policy', verdict: 'FAIL', keyArn: `arn:aws:kms:eu-west-1:${MEMBER}:key/k2` }),
  ]);
  expect(report.failures).toBe(1);
});

it('fails the delete role trust when the delete role lets the doctor in, naming the redeployment', async () => {
  const report = await diagnoseFleet(
    deps(
      organizations().call,
      access(
        keysKms(() => ({})),
        true,
      ).keyAccess,
    ),
    members,
  );
  expect(report.rows.filter((r) => r.check === 'delete role trust')).toEqual([
    expect.objectContaining({
      account: MEMBER,
      verdict: 'FAIL',
      todo: expect.stringContaining("keymat-member-delete must trust only the hub's DeleteMaterial role"),
    }),
  ]);
});

it('assumes no member role in the hub account', async () => {
  const { keyAccess, assumed } = access(keysKms(() => ({})));
  const report = await diagnoseFleet(deps(organizations().call, keyAccess), members);
  expect(report.rows.filter((r) => r.account === HUB).map((r) => r.check)).toEqual([
    'hub account',
    'management account',
  ]);
  expect(assumed.some((a) => a.endsWith(HUB))).toBe(false);
});
