import type { KmsCall, OrganizationsCall } from '../../../core/aws-api';
import { KeymatError } from '../../../core/errors';
import { MEMBER_READ_ROLE, type MemberRole, type Members } from '../../../core/organisation';
import { createOrgDoctor } from '../../../functions/org-doctor/org-doctor';
import type { ChangeSession, KeyAccess } from '../../../functions/runtime/key-access';
import { silentLogger } from '../../helpers/task-deps';

/** The fleet doctor function: the diagnosis over its configured members, as its own role, answered as the report. */
const ORG = 'o-a1b2c3d4e5';
const HUB = '111122223333';
const MEMBER = '444455556666';
const members: Members = { organizationId: ORG, regions: ['eu-west-1'] };

const organizations = (async (operation: string, input: Record<string, unknown>) => {
  const answers: Record<string, () => unknown> = {
    DescribeOrganization: () => ({ Organization: { Id: ORG, MasterAccountId: HUB } }),
    ListAccounts: () => ({ Accounts: [{ Id: MEMBER, Name: 'payments', State: 'ACTIVE' }] }),
    DescribeAccount: () => ({
      Account: { Arn: `arn:aws:organizations::${HUB}:account/${ORG}/${String(input.AccountId)}`, State: 'ACTIVE' },
    }),
    ListParents: () => ({ Parents: [{ Id: 'r-ab12', Type: 'ROOT' }] }),
  };
  return answers[operation]?.();
}) as unknown as OrganizationsCall;

const kms = (async (operation: string) =>
  operation === 'ListKeys'
    ? { Keys: [{ KeyId: 'k1', KeyArn: `arn:aws:kms:eu-west-1:${MEMBER}:key/k1` }] }
    : { KeyMetadata: {} }) as unknown as KmsCall;

/** Key access where only the read role answers, recording each assumption with its partition and session. */
function keyAccess(): { access: (role: MemberRole) => KeyAccess; assumed: string[] } {
  const assumed: string[] = [];
  const access =
    (role: MemberRole): KeyAccess =>
    (session: ChangeSession) =>
    async (place) => {
      assumed.push(`${role} ${place.account} ${place.region} ${place.partition ?? ''} ${session.changeId}`);
      if (role !== MEMBER_READ_ROLE) throw new KeymatError('MemberRoleUnavailable', 'STS refused');
      return kms;
    };
  return { access, assumed };
}

it('checks the configured members from the hub in its partition and answers the report', async () => {
  const { access, assumed } = keyAccess();
  const orgDoctor = createOrgDoctor({
    organizations,
    keyAccess: access,
    config: { scope: { account: HUB, region: 'us-east-1' }, members, partition: 'aws-us-gov' },
    logger: silentLogger(),
  });
  const report = await orgDoctor({});
  expect(report).toMatchObject({
    organizationId: ORG,
    hub: { account: HUB, region: 'us-east-1' },
    managementAccount: HUB,
    failures: 0,
  });
  expect(report.rows.map((r) => [r.account, r.region, r.check, r.verdict])).toEqual([
    [MEMBER, 'global', 'read role', 'ok'],
    [MEMBER, 'global', 'delete role trust', 'ok'],
    [MEMBER, 'global', 'recovery role trust', 'ok'],
    [MEMBER, 'eu-west-1', 'keys', 'ok'],
  ]);
  // The read role in the hub's Region first, then in each member Region; the others only to see them refuse.
  expect(assumed).toEqual([
    `${MEMBER_READ_ROLE} ${MEMBER} us-east-1 aws-us-gov org-doctor`,
    `keymat-member-delete ${MEMBER} us-east-1 aws-us-gov org-doctor`,
    `keymat-member-recovery ${MEMBER} us-east-1 aws-us-gov org-doctor`,
    `${MEMBER_READ_ROLE} ${MEMBER} eu-west-1 aws-us-gov org-doctor`,
  ]);
});
