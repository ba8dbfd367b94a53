import {
  CreateKeyCommand,
  DescribeKeyCommand,
  DisableKeyCommand,
  ListKeyRotationsCommand,
  RotateKeyOnDemandCommand,
  ScheduleKeyDeletionCommand,
  type KMSClient,
} from '@aws-sdk/client-kms';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { localApprover, type ApproveMode } from '../../../local/workflow/approver';
import {
  createExternalKey,
  loadMaterial,
  importKeyMaterial,
  localKmsClient,
  newKeyMaterial,
  type CreatedKey,
} from '../../../local/kms/byok';
import type { FaultFile } from '../../../local/kms/faults';
import { LocalStack } from '../../../local/services/server';
import { DELETION_PATH, PROVEN_DELETION_PATH } from '../../helpers/history';
import { localCustodian } from '../../../local/workflow/custodian';
import { keySupply, seedExternalKeys } from '../../helpers/seeded-keys';
import { type LocalRunResult, type LocalWorkflow, openLocalWorkflow } from '../../../local/workflow/workflow';

/**
 * The synthesized definition, end to end on the local engine against the local KMS: each case asserts the outcome,
 * the error name and which KMS calls were (not) made.
 */
let dir: string;
let stack: LocalStack;
let workflow: LocalWorkflow;
/** The workflow without the recovery proof, for the tests of everything else: each proof costs an RSA-4096 key pair. */
let unproven: LocalWorkflow;
let shortApproval: LocalWorkflow;
let quorumOfTwo: LocalWorkflow;
let kms: KMSClient;
let keys: { next: () => CreatedKey };

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'keymat-wf-'));
  keys = keySupply(
    seedExternalKeys(
      dir,
      join(dir, 'byok'),
      Array.from({ length: 24 }, () => ({})),
    ),
  );
  stack = await LocalStack.start({ stateDir: dir });
  workflow = await openLocalWorkflow({ stateDir: dir, approvalTimeoutSeconds: 3600 });
  unproven = await openLocalWorkflow({ stateDir: dir, approvalTimeoutSeconds: 3600, recoveryProof: 'off' });
  shortApproval = await openLocalWorkflow({ stateDir: dir, approvalTimeoutSeconds: 1, recoveryProof: 'off' });
  quorumOfTwo = await openLocalWorkflow({
    stateDir: dir,
    approvalTimeoutSeconds: 3600,
    quorum: 2,
    recoveryProof: 'off',
  });
  kms = localKmsClient(stack.endpoint);
});
afterAll(async () => {
  await stack.close();
  rmSync(dir, { recursive: true, force: true });
});
afterEach(() => stack.setFaults({ rules: [] }));

const newKey = async (): Promise<CreatedKey> => keys.next();

let changes = 0;
async function run(
  keyId: string,
  options: {
    keyMaterialId?: string;
    approve?: ApproveMode;
    approvers?: string[];
    dryRun?: boolean;
    faults?: FaultFile;
    on?: LocalWorkflow;
  } = {},
): Promise<LocalRunResult> {
  if (options.faults) stack.setFaults(options.faults);
  return (options.on ?? unproven).run(
    {
      keyId,
      ...(options.keyMaterialId && { keyMaterialId: options.keyMaterialId }),
      changeId: `CHG-${++changes}`,
      reason: 'workflow test',
      requestedBy: 'alice',
      ...(options.dryRun && { dryRun: true }),
    },
    {
      // No custodian answers these runs: on the default path (offered) the proof goes unproven, so each approver confirms it.
      decide: localApprover(options.approve ?? 'auto', options.approvers ?? 'bob', { irreversible: true }),
      waitMs: 5,
      retryIntervalMs: 5,
    },
  );
}

const calls = (r: LocalRunResult, operation: string) => r.kmsCalls.filter((c) => c.operation === operation);
const MUTATING = ['DeleteImportedKeyMaterial', 'ImportKeyMaterial', 'RotateKeyOnDemand', 'DisableKey', 'EnableKey'];
const keyState = async (keyId: string) =>
  (await kms.send(new DescribeKeyCommand({ KeyId: keyId }))).KeyMetadata?.KeyState;

describe('deletions that succeed', () => {
  it('deletes the current material of an Enabled key and verifies PendingImport', async () => {
    const key = await newKey();
    const r = await run(key.keyArn, { on: workflow });
    expect(r.status).toBe('SUCCEEDED');
    expect(r.output).toMatchObject({
      status: 'DELETED',
      keyArn: key.keyArn,
      keyMaterialId: key.keyMaterialId,
      keyStateBefore: 'Enabled',
      keyStateAfter: 'PendingImport',
      approvals: [expect.objectContaining({ approver: 'bob' })],
      kmsRequestId: expect.stringMatching(/^[0-9a-f-]{36}$/),
    });
    expect(calls(r, 'DeleteImportedKeyMaterial')).toEqual([
      { operation: 'DeleteImportedKeyMaterial', keyId: key.keyArn, status: 200, error: null },
    ]);
    expect(await keyState(key.keyId)).toBe('PendingImport');
    expect(r.history.filter((e) => e.type === 'StateEntered').map((e) => e.state)).toEqual(DELETION_PATH);
  });

  it('deletes from a Disabled key, which becomes PendingImport', async () => {
    const key = await newKey();
    await kms.send(new DisableKeyCommand({ KeyId: key.keyId }));
    const r = await run(key.keyId);
    expect(r.output).toMatchObject({ status: 'DELETED', keyStateBefore: 'Disabled', keyStateAfter: 'PendingImport' });
  });

  it('deletes a named NON_CURRENT material: the key becomes PendingImport', async () => {
    const key = await newKey();
    await importKeyMaterial(kms, key.keyId, newKeyMaterial(), { importType: 'NEW_KEY_MATERIAL' });
    await kms.send(new RotateKeyOnDemandCommand({ KeyId: key.keyId }));
    const r = await run(key.keyArn, { keyMaterialId: key.keyMaterialId });
    expect(r.output).toMatchObject({
      status: 'DELETED',
      keyMaterialId: key.keyMaterialId,
      keyStateAfter: 'PendingImport',
    });
    expect(calls(r, 'DeleteImportedKeyMaterial')).toHaveLength(1);
  });

  it('deletes a PENDING_ROTATION material: the key state stays Enabled and the material is gone', async () => {
    const key = await newKey();
    const pending = await importKeyMaterial(kms, key.keyId, newKeyMaterial(), { importType: 'NEW_KEY_MATERIAL' });
    const r = await run(key.keyArn, { keyMaterialId: pending.keyMaterialId });
    expect(r.output).toMatchObject({ status: 'DELETED', keyStateBefore: 'Enabled', keyStateAfter: 'Enabled' });
    const rotations = await kms.send(
      new ListKeyRotationsCommand({ KeyId: key.keyId, IncludeKeyMaterial: 'ALL_KEY_MATERIAL' }),
    );
    expect(rotations.Rotations?.map((m) => m.KeyMaterialId)).toEqual([key.keyMaterialId]);
  });

  it('ends ALREADY_DELETED without a deletion when the material is already gone', async () => {
    const key = await newKey();
    await run(key.keyArn);
    const r = await run(key.keyArn);
    expect(r.status).toBe('SUCCEEDED');
    expect(r.output).toMatchObject({ status: 'ALREADY_DELETED', keyStateAfter: 'PendingImport', approvals: [] });
    expect(calls(r, 'DeleteImportedKeyMaterial')).toEqual([]);
    expect(r.history.some((e) => e.state === 'RequestApproval')).toBe(false);
  });

  it('a dry run stops after the plan with PLANNED and makes no mutating call', async () => {
    const key = await newKey();
    const r = await run(key.keyArn, { dryRun: true });
    expect(r.output).toMatchObject({ status: 'PLANNED', keyStateBefore: 'Enabled' });
    expect(r.kmsCalls.filter((c) => MUTATING.includes(c.operation))).toEqual([]);
    expect(await keyState(key.keyId)).toBe('Enabled');
  });
});

describe('refusals: nothing is deleted', () => {
  it('refuses a key that is PendingDeletion with KeyPendingDeletion', async () => {
    const key = await newKey();
    await kms.send(new ScheduleKeyDeletionCommand({ KeyId: key.keyId, PendingWindowInDays: 7 }));
    const r = await run(key.keyArn);
    expect(r).toMatchObject({ status: 'FAILED', error: 'KeyPendingDeletion' });
    expect(r.cause).toContain('PendingDeletion');
    expect(calls(r, 'DeleteImportedKeyMaterial')).toEqual([]);
  });

  it('refuses a key whose origin is not EXTERNAL with OriginNotExternal', async () => {
    const created = await kms.send(new CreateKeyCommand({}));
    const r = await run(created.KeyMetadata!.Arn!);
    expect(r).toMatchObject({ status: 'FAILED', error: 'OriginNotExternal' });
    expect(calls(r, 'DeleteImportedKeyMaterial')).toEqual([]);
  });

  it('refuses an alias with AliasNotAllowed before any KMS call', async () => {
    const r = await run('alias/payroll');
    expect(r).toMatchObject({ status: 'FAILED', error: 'AliasNotAllowed' });
    expect(r.kmsCalls).toEqual([]);
  });

  it('refuses a malformed KeyMaterialId with InvalidInput naming the field, before any KMS call', async () => {
    const key = await newKey();
    const r = await run(key.keyArn, { keyMaterialId: 'ABC' });
    expect(r).toMatchObject({ status: 'FAILED', error: 'InvalidInput' });
    expect(r.cause).toContain('keyMaterialId');
    expect(r.cause).toContain('"ABC"');
    expect(r.kmsCalls).toEqual([]);
  });

  it('a rejected approval ends ApprovalRejected with no DeleteImportedKeyMaterial call', async () => {
    const key = await newKey();
    const r = await run(key.keyArn, { approve: 'reject' });
    expect(r).toMatchObject({ status: 'FAILED', error: 'ApprovalRejected' });
    expect(calls(r, 'DeleteImportedKeyMaterial')).toEqual([]);
    expect(await keyState(key.keyId)).toBe('Enabled');
  });

  it('an unanswered approval ends ApprovalTimedOut with no DeleteImportedKeyMaterial call', async () => {
    const key = await newKey();
    const r = await run(key.keyArn, { approve: 'none', on: shortApproval });
    expect(r).toMatchObject({ status: 'FAILED', error: 'ApprovalTimedOut' });
    expect(calls(r, 'DeleteImportedKeyMaterial')).toEqual([]);
    expect(r.history.some((e) => e.state === 'MarkApprovalTimedOut')).toBe(true);
  });
});

describe('a quorum of two', () => {
  it('asks for a second approval and deletes once two distinct people approved', async () => {
    const key = await newKey();
    const r = await run(key.keyArn, { on: quorumOfTwo, approvers: ['bob', 'carol'] });
    expect(r.output).toMatchObject({
      status: 'DELETED',
      approvals: [expect.objectContaining({ approver: 'bob' }), expect.objectContaining({ approver: 'carol' })],
    });
    expect(r.history.filter((e) => e.type === 'StateEntered' && e.state === 'RequestApproval')).toHaveLength(2);
  });

  it('refuses the same person approving twice with ApprovalInvalid and deletes nothing', async () => {
    const key = await newKey();
    const r = await run(key.keyArn, { on: quorumOfTwo, approvers: ['bob'] });
    expect(r).toMatchObject({ status: 'FAILED', error: 'ApprovalInvalid' });
    expect(r.cause).toContain('bob has already approved this change');
    expect(calls(r, 'DeleteImportedKeyMaterial')).toEqual([]);
  });
});

describe('faults', () => {
  it('retries 500s on DeleteImportedKeyMaterial and then succeeds', async () => {
    const key = await newKey();
    const r = await run(key.keyArn, {
      faults: {
        rules: [{ kind: 'error', operation: 'DeleteImportedKeyMaterial', error: 'KMSInternalException', count: 2 }],
      },
    });
    expect(r.output).toMatchObject({ status: 'DELETED', keyStateAfter: 'PendingImport' });
    expect(calls(r, 'DeleteImportedKeyMaterial').map((c) => c.status)).toEqual([500, 500, 200]);
    expect(r.history.filter((e) => e.type === 'StateRetried' && e.state === 'DeleteMaterial')).toHaveLength(2);
  });

  it('fails under the KMS error name when 500s outlast the retry budget, and the key is untouched', async () => {
    const key = await newKey();
    const r = await run(key.keyArn, {
      faults: {
        rules: [
          { kind: 'error', operation: 'DeleteImportedKeyMaterial', error: 'DependencyTimeoutException', count: 99 },
        ],
      },
    });
    expect(r).toMatchObject({ status: 'FAILED', error: 'DependencyTimeoutException' });
    expect(calls(r, 'DeleteImportedKeyMaterial').map((c) => c.status)).toEqual([500, 500, 500, 500, 500]);
    expect(await keyState(key.keyId)).toBe('Enabled');
  });

  it('retries throttling', async () => {
    const key = await newKey();
    const r = await run(key.keyArn, {
      faults: { rules: [{ kind: 'error', operation: 'DescribeKey', error: 'ThrottlingException', count: 2 }] },
    });
    expect(r.output).toMatchObject({ status: 'DELETED' });
    expect(calls(r, 'DescribeKey').filter((c) => c.error === 'ThrottlingException')).toHaveLength(2);
  });

  it('apply-then-500 ends in success with exactly one deletion', async () => {
    const key = await newKey();
    const r = await run(key.keyArn, {
      faults: { rules: [{ kind: 'applyThenFail', operation: 'DeleteImportedKeyMaterial', count: 1 }] },
    });
    expect(r.output).toMatchObject({ status: 'DELETED', keyStateAfter: 'PendingImport', kmsRequestId: null });
    expect(calls(r, 'DeleteImportedKeyMaterial').map((c) => c.status)).toEqual([500]);
  });

  it('retries verification through stale reads and then succeeds', async () => {
    const key = await newKey();
    const r = await run(key.keyArn, { faults: { rules: [{ kind: 'staleReads', calls: 3 }] } });
    expect(r.output).toMatchObject({ status: 'DELETED', keyStateAfter: 'PendingImport' });
    expect(
      r.history.filter((e) => e.type === 'StateRetried' && e.state === 'VerifyPendingImport').length,
    ).toBeGreaterThan(0);
  });

  it('ends VerificationFailed when the expected state never arrives', async () => {
    const key = await newKey();
    const r = await run(key.keyArn, { faults: { rules: [{ kind: 'staleReads', calls: 1000 }] } });
    expect(r).toMatchObject({ status: 'FAILED', error: 'VerificationFailed' });
    expect(r.cause).toContain('still shows Enabled');
    expect(calls(r, 'DeleteImportedKeyMaterial')).toHaveLength(1);
    expect(r.history.filter((e) => e.type === 'StateRetried' && e.state === 'VerifyPendingImport')).toHaveLength(7);
  });
});

describe('several local stacks in one process', () => {
  it('runs each workflow against its own stack, with its own settings: a proven change deletes without confirmation', async () => {
    const otherDir = mkdtempSync(join(tmpdir(), 'keymat-wf-other-'));
    const other = await LocalStack.start({ stateDir: otherDir });
    try {
      const otherWorkflow = await openLocalWorkflow({
        stateDir: otherDir,
        approvalTimeoutSeconds: 600,
        defaultWaitSeconds: 1,
      });
      // The key exists only in the second stack's KMS: the deletion can succeed only if the tasks call that stack.
      const key = await createExternalKey(localKmsClient(other.endpoint), { materialDir: join(otherDir, 'byok') });
      const r = await otherWorkflow.run(
        { keyId: key.keyArn, changeId: `CHG-${++changes}`, reason: 'workflow test', requestedBy: 'alice' },
        {
          decide: localApprover('auto', 'bob'),
          custodian: localCustodian(loadMaterial(key.materialFile as string), 'carol'),
          waitMs: 5,
          retryIntervalMs: 5,
        },
      );
      expect(r.output).toMatchObject({
        status: 'DELETED',
        keyStateAfter: 'PendingImport',
        recovery: { provedBy: 'carol', keyMaterialId: key.keyMaterialId },
      });
      expect(r.history.filter((e) => e.type === 'StateEntered').map((e) => e.state)).toEqual(PROVEN_DELETION_PATH);
      expect(calls(r, 'DeleteImportedKeyMaterial')).toHaveLength(1);
      expect(await keyState(key.keyId).catch((e: Error) => e.name)).toBe('NotFoundException');

      const first = await run((await newKey()).keyArn);
      expect(first.output).toMatchObject({ status: 'DELETED' });
    } finally {
      await other.close();
      rmSync(otherDir, { recursive: true, force: true });
    }
  });
});
