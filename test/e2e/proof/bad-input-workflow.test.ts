import {
  DeleteImportedKeyMaterialCommand,
  DescribeKeyCommand,
  KMSClient,
  ListKeyRotationsCommand,
} from '@aws-sdk/client-kms';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { mockClient } from 'aws-sdk-client-mock';
import { createDeleteMaterial } from '../../../functions/delete-material/delete-material';
import { createValidateOrigin } from '../../../functions/validate-origin/validate-origin';
import { signedApprovals } from '../../helpers/attestor';
import { DEPLOYMENT_RULES, KEY_ARN, KEY_ID, input, planFor, snapshot } from '../../helpers/kms-fixtures';
import { printTable } from '../../helpers/table';
import { deleteMaterialDeps, validateOriginDeps } from '../../helpers/task-deps';

/**
 * The bad-input corpus, part 1: malformed execution input and malformed approval answers. Each is refused with an
 * error that names the field, and none reaches a mutating KMS call (execution input reaches no KMS call at all).
 */
const kms = mockClient(KMSClient);
const sns = mockClient(SNSClient);
const validateOrigin = createValidateOrigin(validateOriginDeps());
const deleteMaterial = createDeleteMaterial(deleteMaterialDeps());
const rows: string[][] = [];
afterAll(() =>
  printTable('Bad-input corpus: execution input and approval answers', ['case', 'refused with', 'names'], rows),
);

const valid = { keyId: KEY_ARN, changeId: 'CHG-1', reason: 'retire', requestedBy: 'alice' };
const long = (n: number) => 'x'.repeat(n);

const EXECUTION_INPUT: [string, unknown, string, string][] = [
  ['empty object', {}, 'InvalidInput', 'keyId'],
  ['null input', null, 'InvalidInput', 'input'],
  ['array input', [valid], 'InvalidInput', 'input'],
  ['string input', 'CHG-1', 'InvalidInput', 'input'],
  ['missing keyId', { ...valid, keyId: undefined }, 'InvalidInput', 'keyId'],
  ['empty keyId', { ...valid, keyId: '' }, 'InvalidInput', 'keyId'],
  ['numeric keyId', { ...valid, keyId: 42 }, 'InvalidInput', 'keyId'],
  ['oversized keyId', { ...valid, keyId: long(2049) }, 'InvalidInput', 'keyId'],
  ['alias name', { ...valid, keyId: 'alias/payroll' }, 'AliasNotAllowed', 'keyId'],
  ['alias ARN', { ...valid, keyId: 'arn:aws:kms:us-east-1:111122223333:alias/payroll' }, 'AliasNotAllowed', 'keyId'],
  [
    'key ARN of another account',
    { ...valid, keyId: `arn:aws:kms:us-east-1:444455556666:key/${KEY_ID}` },
    'KeyNotInThisAccountOrRegion',
    'keyId',
  ],
  [
    'key ARN of another Region',
    { ...valid, keyId: `arn:aws:kms:eu-west-1:111122223333:key/${KEY_ID}` },
    'KeyNotInThisAccountOrRegion',
    'keyId',
  ],
  [
    'key ARN of another partition Region',
    { ...valid, keyId: `arn:aws-cn:kms:cn-north-1:111122223333:key/${KEY_ID}` },
    'KeyNotInThisAccountOrRegion',
    'keyId',
  ],
  ['S3 ARN', { ...valid, keyId: 'arn:aws:s3:::payroll-bucket' }, 'InvalidInput', 'keyId'],
  ['IAM role ARN', { ...valid, keyId: 'arn:aws:iam::111122223333:role/admin' }, 'InvalidInput', 'keyId'],
  ['KMS ARN with no key id', { ...valid, keyId: 'arn:aws:kms:us-east-1:111122223333:key/' }, 'InvalidInput', 'keyId'],
  ['upper-case key id', { ...valid, keyId: KEY_ID.toUpperCase() }, 'InvalidInput', 'keyId'],
  ['key id with a trailing space', { ...valid, keyId: `${KEY_ID} ` }, 'InvalidInput', 'keyId'],
  [
    'key id with a zero-width space',
    { ...valid, keyId: `${KEY_ID.slice(0, 8)}\u200b${KEY_ID.slice(8)}` },
    'InvalidInput',
    'keyId',
  ],
  ['key id in full-width digits', { ...valid, keyId: KEY_ID.replace(/1/g, '\uff11') }, 'InvalidInput', 'keyId'],
  ['upper-case KeyMaterialId', { ...valid, keyMaterialId: 'A'.repeat(64) }, 'InvalidInput', 'keyMaterialId'],
  ['short KeyMaterialId', { ...valid, keyMaterialId: 'a'.repeat(63) }, 'InvalidInput', 'keyMaterialId'],
  ['long KeyMaterialId', { ...valid, keyMaterialId: 'a'.repeat(65) }, 'InvalidInput', 'keyMaterialId'],
  ['KeyMaterialId with non-hex', { ...valid, keyMaterialId: 'g'.repeat(64) }, 'InvalidInput', 'keyMaterialId'],
  ['empty KeyMaterialId', { ...valid, keyMaterialId: '' }, 'InvalidInput', 'keyMaterialId'],
  ['numeric KeyMaterialId', { ...valid, keyMaterialId: 7 }, 'InvalidInput', 'keyMaterialId'],
  ['missing changeId', { ...valid, changeId: undefined }, 'InvalidInput', 'changeId'],
  ['empty changeId', { ...valid, changeId: '' }, 'InvalidInput', 'changeId'],
  ['changeId with a space', { ...valid, changeId: 'CHG 1' }, 'InvalidInput', 'changeId'],
  ['changeId with a script payload', { ...valid, changeId: '<script>alert(1)</script>' }, 'InvalidInput', 'changeId'],
  ['oversized changeId', { ...valid, changeId: long(65) }, 'InvalidInput', 'changeId'],
  ['changeId as an object', { ...valid, changeId: { id: 1 } }, 'InvalidInput', 'changeId'],
  ['missing reason', { ...valid, reason: undefined }, 'InvalidInput', 'reason'],
  ['blank reason', { ...valid, reason: '\t ' }, 'InvalidInput', 'reason'],
  ['oversized reason', { ...valid, reason: long(1001) }, 'InvalidInput', 'reason'],
  ['reason with a right-to-left override', { ...valid, reason: 'ok \u202egnp.exe' }, 'InvalidInput', 'reason'],
  ['reason with a NUL byte', { ...valid, reason: 'ok\u0000' }, 'InvalidInput', 'reason'],
  ['reason as a number', { ...valid, reason: 5 }, 'InvalidInput', 'reason'],
  ['missing requestedBy', { ...valid, requestedBy: undefined }, 'InvalidInput', 'requestedBy'],
  ['requestedBy with a newline', { ...valid, requestedBy: 'alice\nApproved-by: bob' }, 'InvalidInput', 'requestedBy'],
  ['oversized requestedBy', { ...valid, requestedBy: long(257) }, 'InvalidInput', 'requestedBy'],
  ['negative waitSeconds', { ...valid, waitSeconds: -1 }, 'InvalidInput', 'waitSeconds'],
  ['fractional waitSeconds', { ...valid, waitSeconds: 1.5 }, 'InvalidInput', 'waitSeconds'],
  ['waitSeconds as a string', { ...valid, waitSeconds: '30' }, 'InvalidInput', 'waitSeconds'],
  ['waitSeconds over an hour', { ...valid, waitSeconds: 3601 }, 'InvalidInput', 'waitSeconds'],
  ['dryRun as a string', { ...valid, dryRun: 'false' }, 'InvalidInput', 'dryRun'],
  ['an extra field', { ...valid, approved: true }, 'InvalidInput', 'approved'],
  [
    "a recovery proof weaker than the deployment's",
    { ...valid, recoveryProof: 'off' },
    'InvalidInput',
    'recoveryProof',
  ],
  ['a recovery proof keymat does not know', { ...valid, recoveryProof: 'maybe' }, 'InvalidInput', 'recoveryProof'],
  [
    'an extra field that looks like a decision',
    { ...valid, approvals: [{ approver: 'bob' }] },
    'InvalidInput',
    'approvals',
  ],
];

describe('execution input', () => {
  beforeEach(() => kms.reset());
  it.each(EXECUTION_INPUT)('%s → %s naming %s, with no KMS call', async (label, raw, name, field) => {
    const err = (await validateOrigin({
      executionId: 'e',
      input: raw,
      rules: DEPLOYMENT_RULES,
      recoveryProof: 'offered',
    }).catch((e: Error) => e)) as Error;
    rows.push([`input: ${label}`, err.name, field]);
    expect(err.name).toBe(name);
    expect(err.message).toContain(field);
    expect(kms.calls()).toHaveLength(0);
  });
});

const plan = planFor(snapshot());
/** An approval as keymat's signers make it for execution `e` (so a refusal below is for the stated reason). */
const signed = (approver: string) => signedApprovals('e', plan.digest, approver)[0]!;
const approval = (value: unknown) => ({
  executionId: 'e',
  input: input(),
  plan,
  approval: value,
  // Before the signed approvals' time, as the workflow passes $$.Execution.StartTime.
  executionStartTime: '2026-11-21T23:00:00Z',
  recovery: {},
});
const APPROVALS: [string, unknown, string, string][] = [
  [
    'approval for another plan digest',
    { planDigest: 'f'.repeat(64), approvals: [signed('bob')] },
    'ApprovalInvalid',
    'plan',
  ],
  ['approval with no approver', { planDigest: plan.digest, approvals: [] }, 'ApprovalInvalid', 'approver'],
  [
    'the requester approving',
    { planDigest: plan.digest, approvals: [signed('alice')] },
    'ApprovalInvalid',
    'requester',
  ],
  [
    'a forged approval (names, no attestation)',
    { planDigest: plan.digest, approvals: [{ ...signed('bob'), mac: 'Zm9yZ2Vk' }] },
    'ApprovalInvalid',
    'not attested',
  ],
  [
    'an approval without its attestation',
    { planDigest: plan.digest, approvals: [{ approver: 'bob', at: '2026-11-22T00:00:00Z', channel: 'cli', round: 1 }] },
    'ApprovalInvalid',
    'approval.approvals.0.mac',
  ],
  [
    'an approval whose time is not a time',
    { planDigest: plan.digest, approvals: [{ ...signed('bob'), at: 'not-a-date' }] },
    'ApprovalInvalid',
    'approval.approvals.0.at',
  ],
  ['approvals not a list', { planDigest: plan.digest, approvals: 'bob' }, 'ApprovalInvalid', 'approval.approvals'],
  [
    'approver not a string',
    { planDigest: plan.digest, approvals: [{ ...signed('bob'), approver: 7 }] },
    'ApprovalInvalid',
    'approval.approvals.0.approver',
  ],
  ['missing plan digest', { approvals: [signed('bob')] }, 'ApprovalInvalid', 'approval.planDigest'],
  ['approval as a string', 'approved', 'ApprovalInvalid', 'approval'],
  ['approval missing', undefined, 'ApprovalInvalid', 'approval'],
  [
    'approval with a script payload as approver',
    { planDigest: 'x<script>', approvals: [{ ...signed('bob'), approver: '<script>' }] },
    'ApprovalInvalid',
    'plan',
  ],
];

describe('approval answers reaching DeleteMaterial', () => {
  beforeEach(() => {
    kms.reset();
    sns.reset();
    kms.on(DescribeKeyCommand).resolves({ KeyMetadata: snapshot().metadata });
    kms.on(ListKeyRotationsCommand).resolves({ Rotations: snapshot().materials });
    sns.on(PublishCommand).resolves({ MessageId: 'm' });
  });
  it.each(APPROVALS)('%s → %s naming %s, with no deletion', async (label, value, name, field) => {
    const err = (await deleteMaterial(approval(value)).catch((e: Error) => e)) as Error;
    rows.push([`approval: ${label}`, err.name, field]);
    expect(err.name).toBe(name);
    expect(err.message).toContain(field);
    expect(kms.commandCalls(DeleteImportedKeyMaterialCommand)).toHaveLength(0);
  });
});
