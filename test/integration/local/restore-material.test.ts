import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KmsCall } from '../../../core/aws-api';
import { buildPlan } from '../../../core/plan';
import { type ImportParameters, type ProofSubmission } from '../../../core/recovery';
import type { Plan } from '../../../core/types';
import { createProveRecovery, importParameters } from '../../../functions/prove-recovery/prove-recovery';
import { kmsCall, readKey } from '../../../functions/runtime/aws';
import { loadMaterial, newKeyMaterial, type CreatedKey } from '../../../local/kms/byok';
import { signedApprovals, testAttestor, wrappedCopy } from '../../helpers/attestor';
import { HUB_CONTEXT, input as changeInput } from '../../helpers/kms-fixtures';
import { startTestStack, type TestStack } from '../../helpers/local-stack';
import { keySupply, seedExternalKeys } from '../../helpers/seeded-keys';
import { silentLogger } from '../../helpers/task-deps';

/**
 * RestoreMaterial against the local KMS, through the real SDK: an approved restore imports the custodian's copy of a
 * deleted material back; an approval or a copy keymat did not attest for this restore imports nothing.
 */

const EXECUTION = 'arn:aws:states:us-east-1:000000000000:execution:keymat:chg-restore';
const CUSTODIAN = 'arn:aws:iam::000000000000:role/custodian';
const START = '2026-11-21T23:00:00Z';

let dir: string;
let t: TestStack;
let kms: KmsCall;
let keys: ReturnType<typeof keySupply>;
const attestor = testAttestor();

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'keymat-restore-material-'));
  keys = keySupply(
    seedExternalKeys(
      dir,
      join(dir, 'byok'),
      Array.from({ length: 12 }, () => ({})),
    ),
  );
  t = await startTestStack(undefined, dir);
  kms = kmsCall(t.kms());
});
afterAll(async () => {
  await t.close();
  rmSync(dir, { recursive: true, force: true });
});

const restoreTask = createProveRecovery({
  keys: () => async () => kms,
  sns: async () => {
    throw new Error('RestoreMaterial publishes nothing');
  },
  attestor,
  config: {
    scope: { account: '111122223333', region: 'us-east-1' },
    approvalTopicArn: 'unused',
    attestationKeyArn: 'unused',
  },
  logger: silentLogger(),
});

/** A key whose current material was deleted, and the plan of its restore (expiring at `validTo` when given). */
async function deletedKey(validTo?: string): Promise<{ key: CreatedKey; plan: Plan }> {
  const key = keys.next();
  await kms('DeleteImportedKeyMaterial', { KeyId: key.keyArn, KeyMaterialId: key.keyMaterialId });
  return { key, plan: await restorePlan(key, validTo) };
}

/** The plan of restoring the key's deleted material, as ValidateOrigin makes it from the key as it is now. */
const restorePlan = async (key: CreatedKey, validTo?: string): Promise<Plan> =>
  buildPlan(await readKey(kms, key.keyArn), [], undefined, key.keyMaterialId, {
    ...HUB_CONTEXT,
    restore: true,
    ...(validTo !== undefined && { validTo }),
  });

/** An instant `days` from now, to the second, in the form `checkValidTo` gives. */
const daysAhead = (days: number) => `${new Date(Date.now() + days * 86_400_000).toISOString().slice(0, 19)}Z`;

/** The import parameters each copy was wrapped for, by token: the restore's state carries the ones it asked for. */
const asked = new Map<string, ImportParameters>();

/** The import parameters `copyOf` asked for each key: KMS takes a token again until it expires. */
const paramsOfKey = new Map<string, ImportParameters>();

/**
 * The custodian's copy, wrapped under the key's import parameters (asked once per key: each is an RSA-4096 key pair
 * the local KMS makes) and attested as the gateway attests it.
 */
async function copyOf(plan: Plan, material: Buffer, overrides: Partial<ProofSubmission> = {}) {
  const params = paramsOfKey.get(plan.keyArn) ?? (await importParameters(kms, EXECUTION, plan, 'RSAES_OAEP_SHA_256'));
  paramsOfKey.set(plan.keyArn, params);
  asked.set(params.importToken, params);
  return { ...(await wrappedCopy(attestor, EXECUTION, plan, params, material, CUSTODIAN)), ...overrides };
}

/** Runs the task; returns what it gave or threw, and the KMS operations it made. */
async function restore(
  plan: Plan,
  submission: { importToken?: string },
  approvedDigest = plan.digest,
  importParameters = asked.get(submission.importToken ?? ''),
) {
  const calls = t.operations().length;
  const event = {
    importParameters,
    executionId: EXECUTION,
    input: changeInput({ restore: true, keyMaterialId: plan.keyMaterialId }),
    plan,
    approval: { planDigest: approvedDigest, approvals: signedApprovals(EXECUTION, approvedDigest, 'bob') },
    submission,
    executionStartTime: START,
  };
  const outcome = await restoreTask(event).then(
    (result) => ({ result, error: undefined }),
    (error: Error) => ({ result: undefined, error }),
  );
  return {
    ...outcome,
    operations: t.operations().slice(calls),
  };
}

describe('RestoreMaterial', () => {
  it('imports the copy of a deleted material back, and the key reads Enabled with the material IMPORTED', async () => {
    const { key, plan } = await deletedKey();
    expect(plan).toMatchObject({
      keyStateBefore: 'PendingImport',
      expectedKeyState: 'Enabled',
      expectedMaterial: 'IMPORTED',
    });
    const r = await restore(plan, await copyOf(plan, loadMaterial(key.materialFile as string)));
    expect(r.error).toBeUndefined();
    expect(r.result).toMatchObject({
      appliedBy: 'THIS_ATTEMPT',
      custodian: CUSTODIAN,
      kmsRequestId: expect.any(String),
    });
    expect(r.operations).toContain('ImportKeyMaterial');
    const after = await readKey(kms, key.keyArn);
    expect(after.metadata.KeyState).toBe('Enabled');
    expect(after.materials.find((m) => m.KeyMaterialId === key.keyMaterialId)?.ImportState).toBe('IMPORTED');
  });

  it('reports the earlier attempt without importing again when the material is already back', async () => {
    const { key, plan } = await deletedKey();
    await restore(plan, await copyOf(plan, loadMaterial(key.materialFile as string)));
    const again = await restore(plan, await copyOf(plan, loadMaterial(key.materialFile as string)));
    expect(again.result).toMatchObject({ appliedBy: 'EARLIER_ATTEMPT', kmsRequestId: null });
    expect(again.operations).not.toContain('ImportKeyMaterial');
  });

  it('refuses ApprovalInvalid for an approval of another plan, and imports nothing', async () => {
    const { key, plan } = await deletedKey();
    const deletionPlan = buildPlan(await readKey(kms, key.keyArn), [], undefined, key.keyMaterialId, HUB_CONTEXT);
    expect(deletionPlan.digest).not.toBe(plan.digest);
    const r = await restore(plan, await copyOf(plan, loadMaterial(key.materialFile as string)), deletionPlan.digest);
    expect(r.error).toMatchObject({ name: 'ApprovalInvalid' });
    expect(r.operations).not.toContain('ImportKeyMaterial');
    expect((await readKey(kms, key.keyArn)).metadata.KeyState).toBe('PendingImport');
  });

  it('ends RecoveryNotProven without importing when the gateway did not attest the copy', async () => {
    const { key, plan } = await deletedKey();
    const r = await restore(
      plan,
      await copyOf(plan, loadMaterial(key.materialFile as string), {
        custodian: 'arn:aws:iam::000000000000:role/other',
      }),
    );
    expect(r.error).toMatchObject({ name: 'RecoveryNotProven' });
    expect(r.error?.message).toContain('is not attested by the gateway; nothing was imported');
    expect(r.operations).not.toContain('ImportKeyMaterial');
  });

  it("ends RecoveryNotProven without importing a true copy wrapped for another change's token", async () => {
    const { key, plan } = await deletedKey();
    const thisRestore = await importParameters(kms, EXECUTION, plan, 'RSAES_OAEP_SHA_256');
    // The deletion's (or any other change's) copy and token, still valid at KMS, taken from its history.
    const replayed = await copyOf(plan, loadMaterial(key.materialFile as string));
    const r = await restore(plan, replayed, plan.digest, thisRestore);
    expect(r.error).toMatchObject({ name: 'RecoveryNotProven' });
    expect(r.error?.message).toContain('carries an import token this change did not ask for');
    expect(r.operations).not.toContain('ImportKeyMaterial');
    expect((await readKey(kms, key.keyArn)).metadata.KeyState).toBe('PendingImport');
  });

  it('ends RecoveryNotProven for a copy of another material, with the key still PendingImport', async () => {
    const { key, plan } = await deletedKey();
    const r = await restore(plan, await copyOf(plan, newKeyMaterial()));
    expect(r.error).toMatchObject({ name: 'RecoveryNotProven' });
    expect(r.error?.message).toContain('IncorrectKeyMaterialException');
    expect((await readKey(kms, key.keyArn)).metadata.KeyState).toBe('PendingImport');
  });

  describe('with a validTo', () => {
    it('imports the material KEY_MATERIAL_EXPIRES at that ValidTo, as the local KMS then reports it', async () => {
      const validTo = daysAhead(90);
      const { key, plan } = await deletedKey(validTo);
      const r = await restore(plan, await copyOf(plan, loadMaterial(key.materialFile as string)));
      expect(r.error).toBeUndefined();
      expect(r.result).toMatchObject({ appliedBy: 'THIS_ATTEMPT' });
      const after = await readKey(kms, key.keyArn);
      expect(after.metadata).toMatchObject({
        KeyState: 'Enabled',
        ExpirationModel: 'KEY_MATERIAL_EXPIRES',
        ValidTo: new Date(validTo),
      });
      expect(after.materials.find((m) => m.KeyMaterialId === key.keyMaterialId)).toMatchObject({
        ImportState: 'IMPORTED',
        ExpirationModel: 'KEY_MATERIAL_EXPIRES',
        ValidTo: new Date(validTo),
      });
    });

    it('reports the earlier attempt when the material is back with the planned ValidTo, importing nothing', async () => {
      const { key, plan } = await deletedKey(daysAhead(90));
      await restore(plan, await copyOf(plan, loadMaterial(key.materialFile as string)));
      const again = await restore(plan, await copyOf(plan, loadMaterial(key.materialFile as string)));
      expect(again.result).toMatchObject({ appliedBy: 'EARLIER_ATTEMPT', kmsRequestId: null });
      expect(again.operations).not.toContain('ImportKeyMaterial');
    });

    it('refuses PlanDrifted when the material is back with another expiry, importing nothing', async () => {
      const { key, plan } = await deletedKey(daysAhead(90));
      const unexpiring = await restorePlan(key);
      await restore(unexpiring, await copyOf(unexpiring, loadMaterial(key.materialFile as string)));
      const r = await restore(plan, await copyOf(plan, loadMaterial(key.materialFile as string)));
      expect(r.error).toMatchObject({ name: 'PlanDrifted' });
      expect(r.error?.message).toContain(
        'the material is imported again, but its ExpirationModel is KEY_MATERIAL_DOES_NOT_EXPIRE, not KEY_MATERIAL_EXPIRES',
      );
      expect(r.operations).not.toContain('ImportKeyMaterial');
    });

    it('refuses PlanDrifted for a validTo changed in the plan after it was approved, importing nothing', async () => {
      const { key, plan } = await deletedKey(daysAhead(90));
      const tampered = { ...plan, validTo: daysAhead(300) };
      const r = await restore(tampered, await copyOf(tampered, loadMaterial(key.materialFile as string)), plan.digest);
      expect(r.error).toMatchObject({ name: 'PlanDrifted' });
      expect(r.error?.message).toContain('validTo are not the ones its digest was made for');
      expect(r.operations).not.toContain('ImportKeyMaterial');
      expect((await readKey(kms, key.keyArn)).metadata.KeyState).toBe('PendingImport');
    });

    it('refuses ApprovalInvalid for a plan re-made with another validTo than the approved one, importing nothing', async () => {
      const { key, plan } = await deletedKey(daysAhead(90));
      const replanned = await restorePlan(key, daysAhead(300));
      const r = await restore(
        replanned,
        await copyOf(replanned, loadMaterial(key.materialFile as string)),
        plan.digest,
      );
      expect(r.error).toMatchObject({ name: 'ApprovalInvalid' });
      expect(r.operations).not.toContain('ImportKeyMaterial');
    });

    it('refuses InvalidInput naming validTo when it passed while the restore waited, importing nothing', async () => {
      const { key, plan } = await deletedKey('2026-01-01T00:00:00Z');
      const r = await restore(plan, await copyOf(plan, loadMaterial(key.materialFile as string)));
      expect(r.error).toMatchObject({
        name: 'InvalidInput',
        message: expect.stringMatching(/^validTo has passed while the restore waited .*; got "2026-01-01T00:00:00Z"$/),
      });
      expect(r.operations).not.toContain('ImportKeyMaterial');
      expect((await readKey(kms, key.keyArn)).metadata.KeyState).toBe('PendingImport');
    });
  });
});
