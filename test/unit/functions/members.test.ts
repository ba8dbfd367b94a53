import {
  DeleteImportedKeyMaterialCommand,
  DescribeKeyCommand,
  GetKeyLastUsageCommand,
  KMSClient,
  ListAliasesCommand,
  ListKeyRotationsCommand,
} from '@aws-sdk/client-kms';
import {
  AccountNotFoundException,
  DescribeAccountCommand,
  DescribeOrganizationalUnitCommand,
  ListParentsCommand,
  OrganizationsClient,
} from '@aws-sdk/client-organizations';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { AssumeRoleCommand, STSClient, STSServiceException } from '@aws-sdk/nested-clients/sts';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import { attestStart } from '../../../core/attestation';
import type { ApprovalRule, Members } from '../../../core/organisation';
import type { Plan } from '../../../core/types';
import { createOrganizationsClient } from '../../../functions/runtime/aws';
import { createDeleteMaterial } from '../../../functions/delete-material/delete-material';
import { createValidateOrigin } from '../../../functions/validate-origin/validate-origin';
import { createVerifyPendingImport } from '../../../functions/verify-pending-import/verify-pending-import';
import { signedApprovals, testAttestor } from '../../helpers/attestor';
import { DEPLOYMENT_RULES, M1, material } from '../../helpers/kms-fixtures';
import { SCOPE, deleteMaterialDeps, keyAccess, silentLogger, validateOriginDeps } from '../../helpers/task-deps';

/**
 * keymat acting in the organisation's member accounts: ValidateOrigin places a member key's account with
 * Organizations before anything reads the key, and every task reaches the key through the member role of the key's
 * account, with the execution's name as the session name and the change as SourceIdentity.
 */
const kms = mockClient(KMSClient);
const sts = mockClient(STSClient);
const orgs = mockClient(OrganizationsClient);
const sns = mockClient(SNSClient);

const ORG = 'o-a1b2c3d4e5';
const PROD_OU = 'ou-ab12-prod0001';
const WORKLOADS_OU = 'ou-ab12-work0001';
const SANDBOX_OU = 'ou-ab12-sand0001';
const MEMBER = '444455556666';
const STRANGER = '999988887777';
const KEY_ID = '0f0e0d0c-0b0a-0908-0706-050403020100';
const MEMBER_KEY = `arn:aws:kms:eu-west-1:${MEMBER}:key/${KEY_ID}`;
const EXECUTION = 'arn:aws:states:us-east-1:111122223333:execution:keymat-deletion:keymat-CHG-7';
const SECURITY = ['arn:aws:iam::111122223333:role/SecurityA', 'arn:aws:iam::111122223333:role/SecurityB'];

const MEMBERS: Members = { organizationId: ORG, organizationalUnits: [WORKLOADS_OU], regions: ['eu-west-1'] };
const PRODUCTION: ApprovalRule = {
  name: 'production',
  match: { organizationalUnit: PROD_OU },
  quorum: 2,
  approvers: SECURITY,
};
const SANDBOX: ApprovalRule = { name: 'sandbox', match: { organizationalUnit: SANDBOX_OU }, quorum: 1 };

/** Organizations' view: the member under Workloads / Production, the stranger unknown. */
function organisation() {
  orgs.on(DescribeAccountCommand, { AccountId: MEMBER }).resolves({
    Account: {
      Id: MEMBER,
      Arn: `arn:aws:organizations::111111111111:account/${ORG}/${MEMBER}`,
      Name: 'payments-prod',
      State: 'ACTIVE',
    },
  });
  orgs
    .on(DescribeAccountCommand, { AccountId: STRANGER })
    .rejects(new AccountNotFoundException({ message: 'not found', $metadata: {} }));
  orgs
    .on(ListParentsCommand, { ChildId: MEMBER })
    .resolves({ Parents: [{ Id: PROD_OU, Type: 'ORGANIZATIONAL_UNIT' }] });
  orgs
    .on(ListParentsCommand, { ChildId: PROD_OU })
    .resolves({ Parents: [{ Id: WORKLOADS_OU, Type: 'ORGANIZATIONAL_UNIT' }] });
  orgs.on(ListParentsCommand, { ChildId: WORKLOADS_OU }).resolves({ Parents: [{ Id: 'r-ab12', Type: 'ROOT' }] });
  orgs
    .on(DescribeOrganizationalUnitCommand, { OrganizationalUnitId: PROD_OU })
    .resolves({ OrganizationalUnit: { Id: PROD_OU, Name: 'Production' } });
  orgs
    .on(DescribeOrganizationalUnitCommand, { OrganizationalUnitId: WORKLOADS_OU })
    .resolves({ OrganizationalUnit: { Id: WORKLOADS_OU, Name: 'Workloads' } });
}

/** STS answers AssumeRole with credentials named after the role they are for. */
function rolesAssumable() {
  sts.on(AssumeRoleCommand).callsFake((input: { RoleArn: string }) => ({
    Credentials: {
      AccessKeyId: `ASIA-${input.RoleArn.split('/')[1]}`,
      SecretAccessKey: 'secret',
      SessionToken: 'token',
      Expiration: new Date(Date.now() + 3_600_000),
    },
  }));
}

function memberKey(keyState: 'Enabled' | 'PendingImport' = 'Enabled') {
  kms.on(DescribeKeyCommand).resolves({
    KeyMetadata: {
      KeyId: KEY_ID,
      Arn: MEMBER_KEY,
      KeyState: keyState,
      Origin: 'EXTERNAL',
      KeyManager: 'CUSTOMER',
      MultiRegion: false,
      CurrentKeyMaterialId: M1,
    },
  });
  kms.on(ListKeyRotationsCommand).resolves({
    Rotations: [
      material(M1, { KeyId: KEY_ID, ...(keyState === 'PendingImport' && { ImportState: 'PENDING_IMPORT' }) }),
    ],
  });
  kms.on(ListAliasesCommand).resolves({ Aliases: [] });
  kms.on(GetKeyLastUsageCommand).resolves({});
}

/** The access key id each KMS call of the test was signed with. */
async function kmsCallers(): Promise<string[]> {
  const clients = kms.send.thisValues as KMSClient[];
  return Promise.all(clients.map(async (c) => (await c.config.credentials()).accessKeyId));
}

const attestor = testAttestor();
const validateOrigin = (rules: ApprovalRule[] = [PRODUCTION, SANDBOX]) =>
  createValidateOrigin(
    validateOriginDeps({
      attestor,
      organizations: createOrganizationsClient({ region: SCOPE.region }),
      config: { ...validateOriginDeps().config, members: MEMBERS, approvalRules: rules },
    }),
  );

async function start(keyId: string) {
  const input = {
    keyId,
    changeId: 'CHG-7',
    reason: 'retire payments key',
    requestedBy: 'arn:aws:iam::111122223333:user/alice',
  };
  return {
    executionId: EXECUTION,
    input: await attestStart(attestor, 'keymat-CHG-7', input, 'cli', new Date()),
    rules: DEPLOYMENT_RULES,
    recoveryProof: 'off',
  };
}

beforeEach(() => {
  kms.reset();
  sts.reset();
  orgs.reset();
  sns.reset();
  sns.on(PublishCommand).resolves({ MessageId: 'm-1' });
  organisation();
  rolesAssumable();
});

describe('ValidateOrigin for a key of a member account', () => {
  it('reads the key with the member read role, named for the execution and the change', async () => {
    memberKey();
    const { plan } = await validateOrigin()(await start(MEMBER_KEY));
    expect(sts).toHaveReceivedCommandTimes(AssumeRoleCommand, 1);
    expect(sts).toHaveReceivedCommandWith(AssumeRoleCommand, {
      RoleArn: `arn:aws:iam::${MEMBER}:role/keymat-member-read`,
      RoleSessionName: 'keymat-CHG-7',
      SourceIdentity: 'keymat-CHG-7',
    });
    expect(new Set(await kmsCallers())).toEqual(new Set(['ASIA-keymat-member-read']));
    expect(plan.keyArn).toBe(MEMBER_KEY);
  });

  it('names the account, its OU path and the Region in the plan', async () => {
    memberKey();
    const { plan } = await validateOrigin()(await start(MEMBER_KEY));
    expect(plan.location).toEqual({
      account: MEMBER,
      accountName: 'payments-prod',
      ouPath: ['Workloads', 'Production'],
      region: 'eu-west-1',
    });
  });

  it('takes the first rule that matches an OU on the path: the production rule and its quorum', async () => {
    memberKey();
    const { plan } = await validateOrigin()(await start(MEMBER_KEY));
    expect(plan.rules).toEqual({ rule: 'production', quorum: 2, allowedApprovers: SECURITY });
  });

  it("takes the deployment's rules, named as such, when no rule matches", async () => {
    memberKey();
    const { plan } = await validateOrigin([SANDBOX])(await start(MEMBER_KEY));
    expect(plan.rules).toEqual(DEPLOYMENT_RULES);
    expect(plan.rules.rule).toBeUndefined();
  });

  it('binds the rule into the plan digest: another rule for the same key gives another digest', async () => {
    memberKey();
    const production = (await validateOrigin()(await start(MEMBER_KEY))).plan;
    const deployment = (await validateOrigin([SANDBOX])(await start(MEMBER_KEY))).plan;
    expect(production.digest).not.toBe(deployment.digest);
    expect({ ...production, rules: deployment.rules, digest: '' }).toEqual({ ...deployment, digest: '' });
  });

  it.each([
    ['an account outside the organisation', `arn:aws:kms:eu-west-1:${STRANGER}:key/${KEY_ID}`, STRANGER],
    ['a Region no member is in', `arn:aws:kms:ap-south-1:${MEMBER}:key/${KEY_ID}`, 'ap-south-1'],
  ])('refuses %s with KeyOutsideOrganisation, before any STS or KMS call', async (_l, keyId, named) => {
    await expect(validateOrigin()(await start(keyId))).rejects.toMatchObject({
      name: 'KeyOutsideOrganisation',
      message: expect.stringContaining(named),
    });
    expect(sts.calls()).toHaveLength(0);
    expect(kms.calls()).toHaveLength(0);
  });

  it('refuses an account of the organisation outside the member OUs with KeyOutsideOrganisation, reading nothing', async () => {
    const create = createValidateOrigin(
      validateOriginDeps({
        attestor,
        organizations: createOrganizationsClient({ region: SCOPE.region }),
        config: { ...validateOriginDeps().config, members: { ...MEMBERS, organizationalUnits: [SANDBOX_OU] } },
      }),
    );
    await expect(create(await start(MEMBER_KEY))).rejects.toMatchObject({
      name: 'KeyOutsideOrganisation',
      message: expect.stringContaining('payments-prod'),
    });
    expect(sts.calls()).toHaveLength(0);
    expect(kms.calls()).toHaveLength(0);
  });

  it('refuses an account of another organisation with KeyOutsideOrganisation', async () => {
    orgs.on(DescribeAccountCommand, { AccountId: MEMBER }).resolves({
      Account: {
        Id: MEMBER,
        Arn: `arn:aws:organizations::222222222222:account/o-zz9y8x7w6v/${MEMBER}`,
        State: 'ACTIVE',
      },
    });
    await expect(validateOrigin()(await start(MEMBER_KEY))).rejects.toMatchObject({ name: 'KeyOutsideOrganisation' });
    expect(kms.calls()).toHaveLength(0);
  });

  it('describes each OU of the path once', async () => {
    memberKey();
    await validateOrigin()(await start(MEMBER_KEY));
    expect(orgs).toHaveReceivedCommandTimes(DescribeOrganizationalUnitCommand, 2);
    expect(orgs).toHaveReceivedCommandTimes(DescribeAccountCommand, 1);
  });

  it('ends MemberRoleUnavailable, naming the account and the role, when STS refuses the role', async () => {
    sts.on(AssumeRoleCommand).rejects(
      new STSServiceException({
        name: 'AccessDenied',
        $fault: 'client',
        message: 'User is not authorized to perform: sts:AssumeRole',
        $metadata: { httpStatusCode: 403 },
      }),
    );
    await expect(validateOrigin()(await start(MEMBER_KEY))).rejects.toMatchObject({
      name: 'MemberRoleUnavailable',
      message: expect.stringMatching(
        new RegExp(`arn:aws:iam::${MEMBER}:role/keymat-member-read in account ${MEMBER} \\(AccessDenied`),
      ),
    });
    expect(kms.calls()).toHaveLength(0);
  });

  it('leaves STS throttling under its own name for the state machine to retry', async () => {
    sts
      .on(AssumeRoleCommand)
      .rejects(
        new STSServiceException({ name: 'Throttling', $fault: 'client', message: 'Rate exceeded', $metadata: {} }),
      );
    await expect(validateOrigin()(await start(MEMBER_KEY))).rejects.toMatchObject({ name: 'Throttling' });
  });

  it("reads a key of the hub's own account with the task's own credentials, assuming no role", async () => {
    kms.on(DescribeKeyCommand).resolves({
      KeyMetadata: {
        KeyId: KEY_ID,
        Arn: `arn:aws:kms:us-east-1:${SCOPE.account}:key/${KEY_ID}`,
        Origin: 'EXTERNAL',
        KeyManager: 'CUSTOMER',
        KeyState: 'Enabled',
        CurrentKeyMaterialId: M1,
      },
    });
    kms.on(ListKeyRotationsCommand).resolves({ Rotations: [material(M1)] });
    kms.on(ListAliasesCommand).resolves({ Aliases: [] });
    orgs.on(DescribeAccountCommand, { AccountId: SCOPE.account }).resolves({
      Account: {
        Arn: `arn:aws:organizations::111111111111:account/${ORG}/${SCOPE.account}`,
        Name: 'security-hub',
        State: 'ACTIVE',
      },
    });
    orgs.on(ListParentsCommand, { ChildId: SCOPE.account }).resolves({ Parents: [{ Id: 'r-ab12', Type: 'ROOT' }] });
    const { plan } = await validateOrigin()(await start(KEY_ID));
    expect(sts.calls()).toHaveLength(0);
    expect(plan.location).toEqual({
      account: SCOPE.account,
      accountName: 'security-hub',
      ouPath: [],
      region: SCOPE.region,
    });
  });
});

describe('DeleteMaterial and VerifyPendingImport for a key of a member account', () => {
  async function approvedPlan(): Promise<Plan> {
    memberKey();
    return (await validateOrigin()(await start(MEMBER_KEY))).plan;
  }
  const approvedEvent = (plan: Plan, ...approvers: string[]) => ({
    executionId: EXECUTION,
    input: {
      keyId: MEMBER_KEY,
      changeId: 'CHG-7',
      reason: 'retire',
      requestedBy: 'alice',
      waitSeconds: 0,
      dryRun: false,
    },
    plan,
    approval: { planDigest: plan.digest, approvals: signedApprovals(EXECUTION, plan.digest, ...approvers) },
    executionStartTime: '2026-11-21T23:00:00Z',
    recovery: {},
  });

  it('deletes with the member delete role, named for the execution and the change', async () => {
    const plan = await approvedPlan();
    kms.resetHistory();
    sts.resetHistory();
    kms.on(DeleteImportedKeyMaterialCommand).resolves({ $metadata: { requestId: 'req-member' } });
    const deleteMaterial = createDeleteMaterial(deleteMaterialDeps());
    const result = await deleteMaterial(approvedEvent(plan, ...SECURITY));
    expect(result.kmsRequestId).toBe('req-member');
    expect(sts).toHaveReceivedCommandTimes(AssumeRoleCommand, 1);
    expect(sts).toHaveReceivedCommandWith(AssumeRoleCommand, {
      RoleArn: `arn:aws:iam::${MEMBER}:role/keymat-member-delete`,
      RoleSessionName: 'keymat-CHG-7',
      SourceIdentity: 'keymat-CHG-7',
    });
    expect(kms).toHaveReceivedCommandWith(DeleteImportedKeyMaterialCommand, { KeyId: MEMBER_KEY, KeyMaterialId: M1 });
    expect(new Set(await kmsCallers())).toEqual(new Set(['ASIA-keymat-member-delete']));
  });

  it("holds the deletion to the production rule's quorum: one approval of two deletes nothing", async () => {
    const plan = await approvedPlan();
    kms.resetHistory();
    sts.resetHistory();
    const deleteMaterial = createDeleteMaterial(deleteMaterialDeps());
    await expect(deleteMaterial(approvedEvent(plan, SECURITY[0]!))).rejects.toMatchObject({
      name: 'ApprovalInvalid',
      message: expect.stringContaining('1 of the 2 distinct approvals needed'),
    });
    expect(kms).not.toHaveReceivedCommand(DeleteImportedKeyMaterialCommand);
    expect(sts.calls()).toHaveLength(0);
  });

  it('refuses PlanDrifted when the rule in the plan is not the one its digest was made for', async () => {
    const plan = await approvedPlan();
    const lowered = { ...plan, rules: { ...plan.rules, quorum: 1 } };
    const deleteMaterial = createDeleteMaterial(deleteMaterialDeps());
    await expect(deleteMaterial(approvedEvent(lowered, SECURITY[0]!))).rejects.toMatchObject({ name: 'PlanDrifted' });
    expect(kms).not.toHaveReceivedCommand(DeleteImportedKeyMaterialCommand);
  });

  it('verifies with the member read role', async () => {
    const plan = await approvedPlan();
    memberKey('PendingImport');
    kms.resetHistory();
    sts.resetHistory();
    const verify = createVerifyPendingImport({ keys: keyAccess(), logger: silentLogger() });
    await expect(verify({ executionId: EXECUTION, input: approvedEvent(plan).input, plan })).resolves.toMatchObject({
      keyStateAfter: 'PendingImport',
    });
    expect(sts).toHaveReceivedCommandWith(AssumeRoleCommand, {
      RoleArn: `arn:aws:iam::${MEMBER}:role/keymat-member-read`,
    });
    expect(new Set(await kmsCallers())).toEqual(new Set(['ASIA-keymat-member-read']));
  });
});
