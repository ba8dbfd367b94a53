import { DecryptCommand, DeleteImportedKeyMaterialCommand, EncryptCommand, type KMSClient } from '@aws-sdk/client-kms';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readImportParameters } from '../../../core/recovery';
import { approve, localTarget, proveRecovery, reject, startChange } from '../../../cli/operations';
import { EXIT } from '../../../cli/output';
import { kmsCall, readKey } from '../../../functions/runtime/aws';
import { loadMaterial, localKmsClient, newKeyMaterial, type CreatedKey } from '../../../local/kms/byok';
import { LocalStack } from '../../../local/services/server';
import { readEventsOutbox } from '../../../local/state/store';
import { localApprover } from '../../../local/workflow/approver';
import { localCustodian } from '../../../local/workflow/custodian';
import type { Decider } from '../../../local/workflow/engine';
import { openLocalWorkflow, prepareWorkflow, type LocalWorkflow } from '../../../local/workflow/workflow';
import { gatewayAs, published, waitFor } from '../../helpers/changes';
import { keymatInProcess } from '../../helpers/run-cli';
import { keySupply, seedExternalKeys } from '../../helpers/seeded-keys';

/**
 * The back-out as a change of its own (docs/recovery.md): the synthesized definition run end to end on the local
 * stack, deleting a material and then restoring it from a custodian's copy once approved.
 */
let dir: string;
let stack: LocalStack;
let workflow: LocalWorkflow;
let kms: KMSClient;
let keys: { next: () => CreatedKey };

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'keymat-restore-'));
  keys = keySupply(
    seedExternalKeys(
      dir,
      join(dir, 'byok'),
      Array.from({ length: 9 }, () => ({})),
    ),
  );
  stack = await LocalStack.start({
    stateDir: dir,
    workflow: (endpoint) => prepareWorkflow(endpoint, { approvalTimeoutSeconds: 120, proofTimeoutSeconds: 60 }),
  });
  // The deletions restored here need no proof of their own: a restore always takes a copy, whatever the mode.
  workflow = await openLocalWorkflow({ stateDir: dir, approvalTimeoutSeconds: 3600, recoveryProof: 'off' });
  kms = localKmsClient(stack.endpoint);
});
afterAll(async () => {
  await stack.close();
  rmSync(dir, { recursive: true, force: true });
});

let changes = 0;
const change = (key: CreatedKey, over: Record<string, unknown> = {}) => ({
  keyId: key.keyArn,
  changeId: `RESTORE-${++changes}`,
  reason: 'retire the material',
  requestedBy: 'alice',
  waitSeconds: 0,
  ...over,
});
const fast = { waitMs: 5, retryIntervalMs: 5 };

/** An instant `days` from now, to the second, as `keymat restore --valid-to` takes it. */
const daysAhead = (days: number) => `${new Date(Date.now() + days * 86_400_000).toISOString().slice(0, 19)}Z`;

/** A decider that keeps each approval request it is shown, then decides as `decide` does. */
function recording(decide: Decider): Decider & { messages: string[] } {
  const messages: string[] = [];
  const recorder = async (request: Parameters<Decider>[0]) => {
    messages.push(request.message.message);
    return decide(request);
  };
  return Object.assign(recorder, { messages });
}

/** Deletes the key's material through a proven change, and returns the deletion's output. */
async function deleted(key: CreatedKey): Promise<Record<string, unknown>> {
  const r = await workflow.run(change(key), {
    decide: localApprover('auto', 'bob'),
    custodian: localCustodian(loadMaterial(key.materialFile as string), 'carol'),
    ...fast,
  });
  expect(r.output).toMatchObject({ status: 'DELETED', keyStateAfter: 'PendingImport' });
  return r.output as Record<string, unknown>;
}

const entered = (history: { type: string; state?: string }[]) =>
  history.filter((e) => e.type === 'StateEntered').map((e) => e.state);

describe('a restore change', () => {
  it('names the restore command in the deletion output and Key Material Deleted', async () => {
    const key = keys.next();
    const output = await deleted(key);
    const command = `keymat restore --key-id ${key.keyArn} --key-material-id ${key.keyMaterialId} --change-id ${String(output.changeId)}-restore`;
    expect(output.restoreCommand).toContain(command);
    const event = readEventsOutbox(dir).find(
      (e) => e.detailType === 'Key Material Deleted' && e.detail.keyArn === key.keyArn,
    );
    expect(event?.detail).toMatchObject({ restoreCommand: output.restoreCommand });
  });

  it('brings the key back once approved: the old ciphertext decrypts, and Key Material Restored names the custodian', async () => {
    const key = keys.next();
    const plaintext = Buffer.from('made before the deletion');
    const { CiphertextBlob } = await kms.send(new EncryptCommand({ KeyId: key.keyArn, Plaintext: plaintext }));
    await deleted(key);
    await expect(kms.send(new DecryptCommand({ CiphertextBlob }))).rejects.toMatchObject({
      name: 'KMSInvalidStateException',
    });

    const decide = recording(localApprover('auto', 'dave'));
    const r = await workflow.run(change(key, { restore: true, keyMaterialId: key.keyMaterialId }), {
      decide,
      custodian: localCustodian(loadMaterial(key.materialFile as string), 'carol'),
      ...fast,
    });
    expect(r.output).toMatchObject({
      status: 'RESTORED',
      keyStateBefore: 'PendingImport',
      keyStateAfter: 'Enabled',
      approvals: [expect.objectContaining({ approver: 'dave' })],
    });
    expect(r.output).not.toHaveProperty('restoreCommand');
    expect(decide.messages).toHaveLength(1);
    expect(decide.messages[0]).toContain('keymat: a restore of imported key material needs your approval.');
    expect(decide.messages[0]).toContain(`Restore the CURRENT key material ${key.keyMaterialId}`);
    // The copy is asked for once approved, so that its 24-hour token outlasts no approval; then imported at once.
    const states = entered(r.history);
    expect(states.indexOf('RequestApproval')).toBeLessThan(states.indexOf('GetImportParameters'));
    expect(states.indexOf('AwaitRecoveryProof')).toBeLessThan(states.indexOf('RestoreMaterial'));
    expect(states).not.toContain('ProveRecovery');
    expect(states).not.toContain('DeleteMaterial');
    expect(r.kmsCalls.filter((c) => c.operation === 'ImportKeyMaterial')).toHaveLength(1);

    const { Plaintext } = await kms.send(new DecryptCommand({ CiphertextBlob }));
    expect(Buffer.from(Plaintext as Uint8Array)).toEqual(plaintext);
    const restored = readEventsOutbox(dir).filter(
      (e) => e.detailType === 'Key Material Restored' && e.detail.executionArn === r.executionArn,
    );
    expect(restored.map((e) => e.detail)).toEqual([
      expect.objectContaining({
        keyArn: key.keyArn,
        keyMaterialId: key.keyMaterialId,
        requestedBy: 'alice',
        approvedBy: ['dave'],
        custodian: 'carol',
        keyStateAfter: 'Enabled',
      }),
    ]);
  });

  it('brings the material back expiring at its validTo: the approvers are told, the key reports it, the outcome and Key Material Restored name it', async () => {
    const key = keys.next();
    await deleted(key);
    const validTo = daysAhead(180);
    const decide = recording(localApprover('auto', 'dave'));
    const r = await workflow.run(change(key, { restore: true, keyMaterialId: key.keyMaterialId, validTo }), {
      decide,
      custodian: localCustodian(loadMaterial(key.materialFile as string), 'carol'),
      ...fast,
    });
    expect(r.output).toMatchObject({ status: 'RESTORED', keyStateAfter: 'Enabled', validTo });
    expect(decide.messages[0]).toContain(`into a key that is PendingImport, expiring again at ${validTo}`);
    const imports = r.kmsCalls.filter((c) => c.operation === 'ImportKeyMaterial');
    expect(imports).toHaveLength(1);
    const { materials } = await readKey(kmsCall(kms), key.keyArn);
    expect(materials.find((m) => m.KeyMaterialId === key.keyMaterialId)).toMatchObject({
      ImportState: 'IMPORTED',
      ExpirationModel: 'KEY_MATERIAL_EXPIRES',
      ValidTo: new Date(validTo),
    });
    const restored = readEventsOutbox(dir).find(
      (e) => e.detailType === 'Key Material Restored' && e.detail.executionArn === r.executionArn,
    );
    expect(restored?.detail).toMatchObject({ keyMaterialId: key.keyMaterialId, validTo });
  });

  it('ends RecoveryNotProven for a copy of another material, after its approval, with the key still PendingImport', async () => {
    const key = keys.next();
    await deleted(key);
    const before = await readKey(kmsCall(kms), key.keyArn);
    const r = await workflow.run(change(key, { restore: true, keyMaterialId: key.keyMaterialId }), {
      decide: localApprover('auto', 'dave'),
      custodian: localCustodian(newKeyMaterial(), 'mallory'),
      ...fast,
    });
    expect(r).toMatchObject({ status: 'FAILED', error: 'RecoveryNotProven' });
    expect(r.cause).toContain('KMS refused the copy submitted by mallory: IncorrectKeyMaterialException');
    expect(await readKey(kmsCall(kms), key.keyArn)).toEqual(before);
  });

  it('refuses NothingToRestore for a material that is not deleted, before any copy is asked', async () => {
    const key = keys.next();
    const r = await workflow.run(change(key, { restore: true, keyMaterialId: key.keyMaterialId }), {
      decide: localApprover('auto', 'dave'),
      ...fast,
    });
    expect(r).toMatchObject({ status: 'FAILED', error: 'NothingToRestore' });
    expect(r.kmsCalls.map((c) => c.operation)).not.toContain('GetParametersForImport');
  });

  it('ends RecoveryNotProven when no copy comes after its approval, importing nothing', async () => {
    const key = keys.next();
    const decide = recording(localApprover('auto', 'dave'));
    await deleted(key);
    const r = await workflow.run(change(key, { restore: true, keyMaterialId: key.keyMaterialId }), {
      decide,
      ...fast,
    });
    expect(r).toMatchObject({ status: 'FAILED', error: 'RecoveryNotProven' });
    expect(entered(r.history)).toContain('MarkNoRestoreCopy');
    expect(decide.messages).toHaveLength(1);
    expect(r.kmsCalls.map((c) => c.operation)).not.toContain('ImportKeyMaterial');
  });
});

describe('a restore through the gateway', () => {
  const user = (name: string) => `arn:aws:iam::111122223333:user/${name}`;
  const as = (name: string) => localTarget(dir, { accessKeyId: name, secretAccessKey: 'local' });

  it("is started by keymat restore, refuses its requester as approver, takes a custodian's copy once approved, and restores", async () => {
    const key = keys.next();
    await kms.send(new DeleteImportedKeyMaterialCommand({ KeyId: key.keyArn, KeyMaterialId: key.keyMaterialId }));
    const { executionArn } = await startChange(as('alice'), {
      keyId: key.keyArn,
      keyMaterialId: key.keyMaterialId,
      changeId: `RESTORE-${++changes}`,
      reason: 'back-out',
      restore: true,
      waitSeconds: 0,
    });
    const [request] = await published(dir, executionArn, 'ApprovalRequested');
    expect(request.message).toContain('keymat: a restore of imported key material needs your approval.');
    expect(await gatewayAs(stack.endpoint, 'alice', '/approve', { execution: executionArn })).toMatchObject({
      status: 403,
      body: { error: 'ApprovalRefused' },
    });
    await approve(as('bob'), executionArn);

    // Approved, the restore asks the custodians for the copy, and imports it as it comes.
    const [asked] = await published(dir, executionArn, 'RecoveryProofRequested');
    expect(asked.message).toContain(`approved, restores material ${key.keyMaterialId} of key ${key.keyArn}`);
    const copy = loadMaterial(key.materialFile as string);
    await expect(
      proveRecovery(as('carol'), executionArn, readImportParameters(asked.message), { material: copy }),
    ).resolves.toMatchObject({ custodian: user('carol') });
    const done = await waitFor(async () => {
      const d = await as('alice').changes.describe(executionArn);
      return d.status === 'RUNNING' ? undefined : d;
    }, 'the end of the restore');
    expect(done.status).toBe('SUCCEEDED');
    expect(JSON.parse(done.output ?? '{}')).toMatchObject({
      status: 'RESTORED',
      keyStateAfter: 'Enabled',
      approvals: [expect.objectContaining({ approver: user('bob') })],
    });
    expect((await readKey(kmsCall(kms), key.keyArn)).metadata.KeyState).toBe('Enabled');
  });

  it('takes --valid-to from keymat restore into the started input, and refuses a bad one before starting anything', async () => {
    const key = keys.next();
    await kms.send(new DeleteImportedKeyMaterialCommand({ KeyId: key.keyArn, KeyMaterialId: key.keyMaterialId }));
    const restoreArgs = (changeId: string, validTo: string) => [
      'restore',
      '--local',
      '--state-dir',
      dir,
      '--key-id',
      key.keyArn,
      '--key-material-id',
      key.keyMaterialId as string,
      '--change-id',
      changeId,
      '--valid-to',
      validTo,
      '--json',
    ];
    const alice = { AWS_ACCESS_KEY_ID: 'alice', AWS_SECRET_ACCESS_KEY: 'local' };

    const refusedId = `RESTORE-${++changes}`;
    for (const [bad, problem] of [
      ['2020-01-01T00:00:00Z', 'validTo must be in the future'],
      ['30 June 2027', 'validTo must be an ISO 8601 date and time to the second'],
      [daysAhead(400), 'validTo must be at most 365 days ahead'],
    ] as const) {
      const r = await keymatInProcess(restoreArgs(refusedId, bad), alice);
      expect(r.code).toBe(EXIT.usage);
      expect(r.stderr).toContain("option '--valid-to <instant>' argument");
      expect(r.stderr).toContain(problem);
    }
    await expect(as('alice').changes.describe(`keymat-${refusedId}`)).rejects.toMatchObject({
      name: 'ExecutionNotFound',
    });

    const validTo = daysAhead(60);
    const started = await keymatInProcess(restoreArgs(`RESTORE-${++changes}`, validTo), alice);
    expect(started.code).toBe(0);
    const { executionArn } = JSON.parse(started.stdout) as { executionArn: string };
    const described = await as('alice').changes.describe(executionArn);
    expect(JSON.parse(described.input ?? '{}')).toMatchObject({ restore: true, validTo, requestedBy: user('alice') });
    const [request] = await published(dir, executionArn, 'ApprovalRequested');
    expect(request.message).toContain(`expiring again at ${validTo}`);
    await reject(as('alice'), executionArn, 'withdrawn: the expiry was the point');
  });
});
