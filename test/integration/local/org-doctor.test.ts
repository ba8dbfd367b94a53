import { DescribeKeyCommand, GetKeyPolicyCommand, PutKeyPolicyCommand } from '@aws-sdk/client-kms';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DoctorReport, DoctorRow } from '../../../functions/runtime/org-doctor';
import { LOCAL_ACCOUNT_ID, ORGANIZATION_FILE } from '../../../local/constants';
import { createExternalKey, localKmsClient, type CreatedKey } from '../../../local/kms/byok';
import { memberRoles } from '../../../local/services/member-roles';
import { LocalStack } from '../../../local/services/server';
import {
  addAccount,
  addOrganizationalUnit,
  initOrganization,
  type OrganizationRecord,
} from '../../../local/state/organization';
import { keymatInProcess } from '../../helpers/run-cli';

/**
 * `keymat org doctor --local` on an organisation with one healthy member, one without keymat's roles, one whose roles
 * trust nobody, a key whose policy leaves the read role out, and a management account that is not the hub.
 */
const ORGANIZATION_ID = 'o-d0c70r0rg1';
const MANAGEMENT = '222233334444';
const MEMBER = '444455556666';
const NO_ROLES = '555566667777';
const NO_TRUST = '666677778888';
const SANDBOX = '777788889999';
const REGIONS = ['us-east-1', 'eu-west-1'];

let dir: string;
let stack: LocalStack;
let open: CreatedKey;
let closed: CreatedKey;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'keymat-doctor-'));
  stack = await LocalStack.start({ stateDir: dir });
  initOrganization(dir, { organizationId: ORGANIZATION_ID, managementAccountId: MANAGEMENT, roles: () => [] });
  // The hub is a member account, apart from the management account.
  addAccount(dir, { id: LOCAL_ACCOUNT_ID, name: 'security-hub', roles: () => [] });
  const production = addOrganizationalUnit(dir, { name: 'Production' }).id;
  addAccount(dir, { id: MEMBER, name: 'payments-prod', parentId: production, roles: memberRoles });
  addAccount(dir, { id: NO_ROLES, name: 'forgotten', parentId: production, roles: () => [] });
  addAccount(dir, {
    id: NO_TRUST,
    name: 'mistrusted',
    parentId: production,
    roles: (account, org) => memberRoles(account, org).map((role) => ({ ...role, trust: [] })),
  });
  const kms = (region: string) => localKmsClient(stack.endpoint, region, MEMBER);
  open = await createExternalKey(kms('eu-west-1'), { materialDir: join(dir, 'byok') });
  closed = await createExternalKey(kms('us-east-1'), { materialDir: join(dir, 'byok') });
  // A policy for the account's administrators alone: neither the member roles nor the root (IAM) are named.
  const policy = {
    Version: '2012-10-17',
    Statement: [
      { Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${MEMBER}:user/AKIAKEYMATLOCAL` }, Action: 'kms:*' },
    ],
  };
  await kms('us-east-1').send(new PutKeyPolicyCommand({ KeyId: closed.keyArn, Policy: JSON.stringify(policy) }));
});
afterAll(async () => {
  await stack.close();
  rmSync(dir, { recursive: true, force: true });
});

const doctor = async (...extra: string[]) => {
  const result = await keymatInProcess([
    'org',
    'doctor',
    '--local',
    '--state-dir',
    dir,
    '--regions',
    REGIONS.join(','),
    ...extra,
  ]);
  return result;
};
const report = async (): Promise<{ code: number | null; report: DoctorReport }> => {
  const { code, stdout } = await doctor('--json');
  return { code, report: JSON.parse(stdout) as DoctorReport };
};
const rowsOf = (r: DoctorReport, account: string, check?: string): DoctorRow[] =>
  r.rows.filter((row) => row.account === account && (check === undefined || row.check === check));

describe('keymat org doctor --local', () => {
  it('passes a member whose roles answer, in every Region, and its delete and recovery roles refuse the doctor', async () => {
    const { report: r } = await report();
    expect(rowsOf(r, MEMBER, 'read role')).toEqual([expect.objectContaining({ region: 'global', verdict: 'ok' })]);
    expect(rowsOf(r, MEMBER, 'delete role trust')).toEqual([expect.objectContaining({ verdict: 'ok' })]);
    expect(rowsOf(r, MEMBER, 'recovery role trust')).toEqual([expect.objectContaining({ verdict: 'ok' })]);
    expect(rowsOf(r, MEMBER, 'keys')).toEqual([
      expect.objectContaining({ region: 'us-east-1', verdict: 'ok', detail: '1 listed: 0 readable' }),
      expect.objectContaining({ region: 'eu-west-1', verdict: 'ok', detail: '1 listed: 1 readable' }),
    ]);
  });

  it('needs no member roles in the hub account', async () => {
    const { report: r } = await report();
    expect(rowsOf(r, LOCAL_ACCOUNT_ID)).toEqual([expect.objectContaining({ check: 'hub account', verdict: 'ok' })]);
  });

  it('names an account without the roles and one whose read role does not trust the hub, with the StackSet to deploy', async () => {
    const { code, report: r } = await report();
    expect(code).toBe(1);
    for (const account of [NO_ROLES, NO_TRUST]) {
      const [read] = rowsOf(r, account, 'read role');
      expect(read).toMatchObject({ verdict: 'FAIL', region: 'global' });
      expect(read?.detail).toContain('AccessDenied');
      expect(read?.todo).toContain('keymat-member-roles');
      // Without the read role, nothing of its Regions can be checked: no key rows.
      expect(rowsOf(r, account, 'keys')).toEqual([]);
    }
  });

  it('names a key whose policy leaves the read role out, and the statement to add', async () => {
    const { report: r } = await report();
    expect(rowsOf(r, MEMBER, 'key policy')).toEqual([
      expect.objectContaining({ region: 'us-east-1', keyArn: closed.keyArn, verdict: 'FAIL' }),
    ]);
    const [row] = rowsOf(r, MEMBER, 'key policy');
    for (const role of ['read', 'delete', 'recovery']) {
      expect(row?.todo).toContain(`arn:aws:iam::${MEMBER}:role/keymat-member-${role}`);
    }
    expect(row?.todo).toContain('kms:DescribeKey');
    // The doctor changed nothing: the key and its policy are as they were.
    const kms = localKmsClient(stack.endpoint, 'us-east-1', MEMBER);
    expect((await kms.send(new GetKeyPolicyCommand({ KeyId: closed.keyArn }))).Policy).not.toContain('keymat');
    expect(
      (await localKmsClient(stack.endpoint, 'eu-west-1', MEMBER).send(new DescribeKeyCommand({ KeyId: open.keyArn })))
        .KeyMetadata?.KeyState,
    ).toBe('Enabled');
  });

  it('names the management account not covered, then covered once its own stack gives it the roles', async () => {
    const before = (await report()).report;
    expect(rowsOf(before, MANAGEMENT, 'management account')).toEqual([
      expect.objectContaining({ verdict: 'FAIL', todo: expect.stringContaining('KeymatManagementRoles') }),
    ]);
    // What deploying KeymatManagementRoles does: the management account gets the member roles.
    const file = join(dir, ORGANIZATION_FILE);
    const record = JSON.parse(readFileSync(file, 'utf8')) as OrganizationRecord;
    writeFileSync(
      file,
      JSON.stringify({ ...record, roles: [...record.roles, ...memberRoles(MANAGEMENT, ORGANIZATION_ID)] }),
    );
    const after = (await report()).report;
    expect(rowsOf(after, MANAGEMENT, 'management account')).toEqual([
      expect.objectContaining({ verdict: 'ok', detail: 'covered: its member roles answer' }),
    ]);
    expect(rowsOf(after, MANAGEMENT, 'read role')).toEqual([expect.objectContaining({ verdict: 'ok' })]);
  });

  it('checks only the accounts the members name', async () => {
    addAccount(dir, { id: SANDBOX, name: 'sandbox', roles: () => [] });
    const members = join(dir, 'members.json');
    writeFileSync(
      members,
      JSON.stringify({ organizationId: ORGANIZATION_ID, accounts: [MEMBER], regions: ['eu-west-1'] }),
    );
    const { code, stdout } = await doctor('--members', members, '--json');
    const r = JSON.parse(stdout) as DoctorReport;
    expect(new Set(r.rows.map((row) => row.account))).toEqual(new Set([MEMBER, MANAGEMENT]));
    expect(rowsOf(r, MANAGEMENT)).toEqual([
      expect.objectContaining({ check: 'management account', verdict: 'skipped' }),
    ]);
    expect(r.failures).toBe(0);
    expect(code).toBe(0);
  });

  it('prints one table with what to do, and exits 1 on a failure', async () => {
    const { code, stdout } = await doctor();
    expect(code).toBe(1);
    const lines = stdout.split('\n');
    expect(lines[1]).toMatch(/^account\s+Region\s+check\s+verdict\s+what to do$/);
    expect(lines.find((l) => l.startsWith(`${NO_ROLES} forgotten`) && l.includes('read role'))).toMatch(
      /FAIL: .*deploy the members StackSet keymat-member-roles/,
    );
    expect(stdout).toMatch(/\d+ failures\n$/);
  });
});
