import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readOrganization } from '../../../local/state/organization';
import { keymatInProcess } from '../../helpers/run-cli';

/** `keymat demo --org`, run in this process on a fresh state folder. */
let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'keymat-demo-org-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

it('deletes a member key approved at the hub by two approvers, then shows the member request log, a fleet scan and the doctor', async () => {
  const r = await keymatInProcess(['demo', '--org', '--state-dir', join(dir, 'state')]);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  const out = r.stdout;
  // The plan names the member account, its OU and the Region, and the production rule's quorum.
  expect(out).toContain('Where: account 444455556666 (payments-prod), OU Production, eu-west-1');
  // The custodian proved the material before anyone was asked to approve.
  expect(out).toContain("proven by arn:aws:iam::111122223333:user/dave, through payments-prod's member recovery role");
  expect(out).toMatch(/│ Recovery proven by arn:aws:iam::111122223333:user\/dave /);
  expect(out).toContain('arn:aws:iam::111122223333:user/bob: 1 of 2 approvals');
  expect(out).toContain('arn:aws:iam::111122223333:user/carol: 2 of 2 approvals');
  expect(out).toContain('SUCCEEDED: DELETED in 444455556666 eu-west-1, key PendingImport');
  // The member's request log: the deletion under the member delete role, with the change as SourceIdentity.
  const change = /alice starts change (ORG-[0-9a-f]{8})/.exec(out)?.[1] as string;
  expect(out).toMatch(/DeleteImportedKeyMaterial 200\n/);
  expect(out).toContain(`caller arn:aws:sts::444455556666:assumed-role/keymat-member-delete/keymat-${change}`);
  expect(out).toContain(`sourceIdentity keymat-${change}`);
  // The fleet scan over 3 members × 2 Regions: legacy-batch's two children fail with the cause, the others complete.
  expect(out).toContain('4 of 6 account × Region items scanned (2 accounts)');
  expect(out).toMatch(/failed 666677778888 eu-west-1: MemberRoleUnavailable: /);
  expect(out).toMatch(/failed 666677778888 us-east-1: MemberRoleUnavailable: /);
  // The doctor's table: the account without roles fails, the others pass, with what to do.
  expect(out).toMatch(
    /666677778888 legacy-batch\s+global\s+read role\s+FAIL: .*deploy the members StackSet keymat-member-roles/,
  );
  expect(out).toMatch(/555566667777 analytics-sandbox\s+global\s+read role\s+ok/);
  expect(out).toContain('   1 failure\n');
});

it('refuses a state folder that holds an organisation already, changing nothing', async () => {
  const state = join(dir, 'state');
  await keymatInProcess(['local', 'org', 'init', '--organization-id', 'o-a1b2c3d4e5', '--state-dir', state]);
  const r = await keymatInProcess(['demo', '--org', '--state-dir', state]);
  expect(r.code).toBe(1);
  expect(r.stderr).toContain(`${state} holds an organisation already`);
  expect(r.stdout).toBe('');
  expect(readOrganization(state)?.record).toMatchObject({ id: 'o-a1b2c3d4e5', accounts: [expect.anything()] });
});
