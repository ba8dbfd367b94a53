import { DescribeKeyCommand } from '@aws-sdk/client-kms';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createExternalKey, loadMaterial, localKmsClient, type CreatedKey } from '../../../local/kms/byok';
import { memberRoles } from '../../../local/services/member-roles';
import { LocalStack } from '../../../local/services/server';
import { readRequestLog } from '../../../local/state/store';
import { addAccount, addOrganizationalUnit, initOrganization } from '../../../local/state/organization';
import { localApprover } from '../../../local/workflow/approver';
import { localCustodian } from '../../../local/workflow/custodian';
import { openLocalWorkflow, type LocalWorkflow } from '../../../local/workflow/workflow';

/**
 * A change on a key of a member account, in another Region, run by the hub's workflow on the local stack: the tasks
 * assume the member roles through the stack's STS with their own identities, and the member account's request log
 * shows the calls under the member role with the change's SourceIdentity.
 */
const ORGANIZATION_ID = 'o-a1b2c3d4e5';
const MEMBER = '444455556666';
const NO_ROLES = '555566667777';
const REGION = 'eu-west-1';

let dir: string;
let stack: LocalStack;
let workflow: LocalWorkflow;
let production: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'keymat-members-'));
  stack = await LocalStack.start({ stateDir: dir });
  initOrganization(dir, { organizationId: ORGANIZATION_ID, roles: () => [] });
  production = addOrganizationalUnit(dir, { name: 'Production' }).id;
  addAccount(dir, { id: MEMBER, name: 'payments-prod', parentId: production, roles: memberRoles });
  addAccount(dir, { id: NO_ROLES, name: 'forgotten', parentId: production, roles: () => [] });
  workflow = await openLocalWorkflow({
    stateDir: dir,
    approvalTimeoutSeconds: 3600,
    organisation: {
      members: { organizationId: ORGANIZATION_ID, regions: [REGION] },
      approvalRules: [{ name: 'production', match: { organizationalUnit: production }, quorum: 2 }],
    },
  });
});
afterAll(async () => {
  await workflow.close();
  await stack.close();
  rmSync(dir, { recursive: true, force: true });
});

const memberKey = (account: string): Promise<CreatedKey> =>
  createExternalKey(localKmsClient(stack.endpoint, REGION, account), { materialDir: join(dir, 'byok') });

let changes = 0;
const run = (keyId: string, approvers: string[]) =>
  workflow.run(
    { keyId, changeId: `CHG-M${++changes}`, reason: 'retire member key', requestedBy: 'alice' },
    { decide: localApprover('auto', approvers, { irreversible: true }), waitMs: 5, retryIntervalMs: 5 },
  );

describe('a change on a key of a member account', () => {
  it('is approved at the hub by the production quorum, deleted through the member delete role and verified', async () => {
    const key = await memberKey(MEMBER);
    const logStart = readRequestLog(dir).length;
    const r = await run(key.keyArn, ['bob', 'carol']);
    expect(r.status).toBe('SUCCEEDED');
    expect(r.output).toMatchObject({
      status: 'DELETED',
      keyArn: key.keyArn,
      keyStateAfter: 'PendingImport',
      location: { account: MEMBER, accountName: 'payments-prod', ouPath: ['Production'], region: REGION },
      rules: { rule: 'production', quorum: 2 },
      approvals: [expect.objectContaining({ approver: 'bob' }), expect.objectContaining({ approver: 'carol' })],
    });
    const state = await localKmsClient(stack.endpoint, REGION, MEMBER).send(
      new DescribeKeyCommand({ KeyId: key.keyArn }),
    );
    expect(state.KeyMetadata?.KeyState).toBe('PendingImport');
    const deletes = readRequestLog(dir)
      .slice(logStart)
      .filter((e) => e.service === 'kms' && e.operation === 'DeleteImportedKeyMaterial');
    expect(deletes).toEqual([
      expect.objectContaining({
        account: MEMBER,
        region: REGION,
        status: 200,
        caller: `arn:aws:sts::${MEMBER}:assumed-role/keymat-member-delete/${r.executionArn.split(':').at(-1)}`,
        sourceIdentity: `keymat-CHG-M${changes}`,
      }),
    ]);
  });

  it('proves recovery through the member recovery role before the approval, and deletes without a confirmation', async () => {
    const key = await memberKey(MEMBER);
    const logStart = readRequestLog(dir).length;
    const r = await workflow.run(
      { keyId: key.keyArn, changeId: `CHG-M${++changes}`, reason: 'retire member key', requestedBy: 'alice' },
      {
        decide: localApprover('auto', ['bob', 'carol']),
        custodian: localCustodian(loadMaterial(key.materialFile as string), 'dave'),
        waitMs: 5,
        retryIntervalMs: 5,
      },
    );
    expect(r.output).toMatchObject({
      status: 'DELETED',
      recovery: { provedBy: 'dave', keyMaterialId: key.keyMaterialId },
    });
    const session = r.executionArn.split(':').at(-1);
    const imports = readRequestLog(dir)
      .slice(logStart)
      .filter((e) => e.service === 'kms' && ['GetParametersForImport', 'ImportKeyMaterial'].includes(e.operation));
    expect(imports).toEqual(
      ['GetParametersForImport', 'ImportKeyMaterial'].map((operation) =>
        expect.objectContaining({
          operation,
          account: MEMBER,
          region: REGION,
          status: 200,
          caller: `arn:aws:sts::${MEMBER}:assumed-role/keymat-member-recovery/${session}`,
          sourceIdentity: `keymat-CHG-M${changes}`,
        }),
      ),
    );
  });

  it("restores a member key's material through the member recovery role, approved by the restore's own quorum", async () => {
    const key = await memberKey(MEMBER);
    const copy = localCustodian(loadMaterial(key.materialFile as string), 'dave');
    const fast = { waitMs: 5, retryIntervalMs: 5 };
    const deletion = await workflow.run(
      { keyId: key.keyArn, changeId: `CHG-M${++changes}`, reason: 'retire member key', requestedBy: 'alice' },
      { decide: localApprover('auto', ['bob', 'carol']), custodian: copy, ...fast },
    );
    expect(deletion.output).toMatchObject({ status: 'DELETED' });
    const logStart = readRequestLog(dir).length;
    const r = await workflow.run(
      {
        keyId: key.keyArn,
        keyMaterialId: key.keyMaterialId,
        changeId: `CHG-M${++changes}`,
        reason: 'back-out',
        requestedBy: 'alice',
        restore: true,
      },
      { decide: localApprover('auto', ['bob']), custodian: copy, ...fast },
    );
    expect(r.output).toMatchObject({
      status: 'RESTORED',
      keyStateAfter: 'Enabled',
      rules: { rule: 'production', quorum: 1 },
      approvals: [expect.objectContaining({ approver: 'bob' })],
    });
    const imports = readRequestLog(dir)
      .slice(logStart)
      .filter((e) => e.service === 'kms' && e.operation === 'ImportKeyMaterial');
    expect(imports).toEqual([
      expect.objectContaining({
        account: MEMBER,
        status: 200,
        caller: `arn:aws:sts::${MEMBER}:assumed-role/keymat-member-recovery/${r.executionArn.split(':').at(-1)}`,
      }),
    ]);
  });

  it('ends MemberRoleUnavailable, naming the account and role, where the member has no keymat roles', async () => {
    const key = await memberKey(NO_ROLES);
    const r = await run(key.keyArn, ['bob', 'carol']);
    expect(r.status).toBe('FAILED');
    expect(r.error).toBe('MemberRoleUnavailable');
    expect(r.cause).toContain(`arn:aws:iam::${NO_ROLES}:role/keymat-member-read in account ${NO_ROLES}`);
  });

  it('refuses a key outside the organisation before any approval is asked', async () => {
    const key = await memberKey('999988887777');
    const r = await run(key.keyArn, ['bob']);
    expect(r.error).toBe('KeyOutsideOrganisation');
    expect(r.history.some((e) => e.state === 'RequestApproval')).toBe(false);
  });
});
