import { DisableKeyCommand, type KMSClient } from '@aws-sdk/client-kms';
import { type ProofWrappingAlgorithm } from '../../../core/proof-wrapping';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KmsCall } from '../../../core/aws-api';
import { errorName } from '../../../core/errors';
import { buildPlan } from '../../../core/plan';
import { type ImportParameters, type ProofSubmission } from '../../../core/recovery';
import type { Plan } from '../../../core/types';
import { createProveRecovery, importParameters } from '../../../functions/prove-recovery/prove-recovery';
import { kmsCall, readKey } from '../../../functions/runtime/aws';
import type { Logger } from '../../../functions/runtime/logger';
import type { CreatedKey } from '../../../local/kms/byok';
import { loadMaterial, newKeyMaterial } from '../../../local/kms/byok';
import { testAttestor, wrappedCopy } from '../../helpers/attestor';
import { HUB_CONTEXT, input as changeInput } from '../../helpers/kms-fixtures';
import { startTestStack, type TestStack } from '../../helpers/local-stack';
import { keySupply, seedExternalKeys } from '../../helpers/seeded-keys';

/**
 * The proving task against the local KMS, through the real SDK: the copy a custodian wraps under published import
 * parameters is reimported exactly as the key holds the material, and anything else ends RecoveryNotProven with the
 * key as it was and nothing deleted.
 */

const EXECUTION = 'arn:aws:states:us-east-1:000000000000:execution:keymat:chg-1';
const CUSTODIAN = 'arn:aws:iam::000000000000:role/custodian';

let dir: string;
let t: TestStack;
let sdk: KMSClient;
let kms: KmsCall;
let expiring: ReturnType<typeof keySupply>;
let lasting: ReturnType<typeof keySupply>;
const attestor = testAttestor();
/** A whole second: KMS's timestamps are epoch seconds. */
const validTo = new Date(Math.floor(Date.now() / 1000) * 1000 + 60 * 86_400_000);

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'keymat-prove-'));
  const seeded = seedExternalKeys(dir, join(dir, 'byok'), [
    ...Array.from({ length: 8 }, () => ({ validTo })),
    ...Array.from({ length: 1 }, () => ({})),
  ]);
  expiring = keySupply(seeded.slice(0, 8));
  lasting = keySupply(seeded.slice(8));
  t = await startTestStack(undefined, dir);
  sdk = t.kms();
  kms = kmsCall(sdk);
});
afterAll(async () => {
  await t.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Every line the task logs, as one text, so a test can say what never appears in it. */
function recordingLogger(): Logger & { text: () => string } {
  const lines: unknown[] = [];
  const record = (...args: unknown[]) => void lines.push(args);
  return {
    info: record,
    warn: record,
    error: record,
    debug: record,
    resetKeys: () => undefined,
    appendKeys: (keys: unknown) => void lines.push(keys),
    text: () => JSON.stringify(lines),
  } as unknown as Logger & { text: () => string };
}

const planOf = async (key: CreatedKey): Promise<Plan> =>
  buildPlan(await readKey(kms, key.keyArn), [], undefined, key.keyMaterialId, HUB_CONTEXT);

/** What the gateway passes on: the custodian's wrapped copy under the parameters, attested for this execution. */
const submit = async (
  plan: Plan,
  params: ImportParameters,
  material: Buffer,
  overrides: Partial<ProofSubmission> = {},
): Promise<ProofSubmission> => ({
  ...(await wrappedCopy(attestor, EXECUTION, plan, params, material, CUSTODIAN)),
  ...overrides,
});

/** Runs the task on a fresh plan of `key`, with the submission `make` builds; returns what it threw or gave. */
async function prove(
  key: CreatedKey,
  make: (plan: Plan, params: ImportParameters) => Promise<unknown>,
  options: { algorithm?: ProofWrappingAlgorithm; plan?: (plan: Plan) => Plan; asked?: ImportParameters } = {},
) {
  const plan = (options.plan ?? ((p) => p))(await planOf(key));
  const params = await importParameters(kms, EXECUTION, plan, options.algorithm ?? 'RSAES_OAEP_SHA_256');
  const logger = recordingLogger();
  const before = await readKey(kms, key.keyArn);
  const calls = t.operations().length;
  const run = createProveRecovery({
    keys: () => async () => kms,
    sns: async () => {
      throw new Error('ProveRecovery publishes nothing');
    },
    attestor,
    config: {
      scope: { account: '111122223333', region: 'us-east-1' },
      approvalTopicArn: 'unused',
      attestationKeyArn: 'unused',
    },
    logger,
  });
  const submission = await make(plan, params);
  const asked = options.asked ?? params;
  const outcome = await run({
    executionId: EXECUTION,
    input: changeInput(),
    plan,
    submission,
    importParameters: asked,
  }).then(
    (proven) => ({ proven, error: undefined }),
    (error: Error) => ({ proven: undefined, error }),
  );
  return {
    ...outcome,
    params,
    submission,
    logged: logger.text(),
    before,
    after: await readKey(kms, key.keyArn),
    operations: t.operations().slice(calls),
  };
}

describe('ProveRecovery', () => {
  it.each([
    ['an expiring material wrapped with RSAES_OAEP_SHA_256', () => expiring.next(), 'RSAES_OAEP_SHA_256'],
    ['a lasting material wrapped with RSA_AES_KEY_WRAP_SHA_256', () => lasting.next(), 'RSA_AES_KEY_WRAP_SHA_256'],
  ] as const)('proves %s and leaves the key exactly as it was', async (_label, next, algorithm) => {
    const key = next();
    const r = await prove(key, (plan, params) => submit(plan, params, loadMaterial(key.materialFile!)), { algorithm });
    expect(r.error).toBeUndefined();
    expect(r.proven).toMatchObject({ keyArn: key.keyArn, keyMaterialId: key.keyMaterialId, provedBy: CUSTODIAN });
    expect(r.after).toEqual(r.before);
    expect(r.operations).toContain('ImportKeyMaterial');
    expect(r.operations).not.toContain('DeleteImportedKeyMaterial');
  });

  it('ends RecoveryNotProven for another material, with the key as it was and nothing deleted', async () => {
    const key = expiring.next();
    const r = await prove(key, (plan, params) => submit(plan, params, newKeyMaterial()));
    expect(errorName(r.error)).toBe('RecoveryNotProven');
    expect(r.error?.message).toMatch(/IncorrectKeyMaterialException.*nothing was imported/);
    expect(r.after).toEqual(r.before);
    expect(r.after.metadata).toMatchObject({ KeyState: 'Enabled', ValidTo: validTo });
    expect(r.operations).not.toContain('DeleteImportedKeyMaterial');
  });

  it('ends RecoveryNotProven without importing a copy wrapped for a token this execution did not ask for', async () => {
    const key = expiring.next();
    // Another change's parameters, still valid at KMS, with a true copy wrapped under them: a replay from its history.
    const asked = await importParameters(kms, EXECUTION, await planOf(key), 'RSAES_OAEP_SHA_256');
    const r = await prove(key, (plan, params) => submit(plan, params, loadMaterial(key.materialFile!)), { asked });
    expect(r.error?.name).toBe('RecoveryNotProven');
    expect(r.error?.message).toContain('carries an import token this change did not ask for');
    expect(r.operations).not.toContain('ImportKeyMaterial');
    expect(r.after).toEqual(r.before);
  });

  it('ends RecoveryNotProven without importing when the gateway did not attest the submission', async () => {
    const key = expiring.next();
    const r = await prove(key, (plan, params) =>
      submit(plan, params, loadMaterial(key.materialFile!), { custodian: 'arn:aws:iam::000000000000:role/other' }),
    );
    expect(errorName(r.error)).toBe('RecoveryNotProven');
    expect(r.error?.message).toMatch(/role\/other .* is not attested by the gateway; nothing was imported/);
    expect(r.operations).not.toContain('ImportKeyMaterial');
  });

  it('ends RecoveryNotProven naming the field of a malformed submission', async () => {
    const key = expiring.next();
    const r = await prove(key, async (plan, params) => ({
      ...(await submit(plan, params, loadMaterial(key.materialFile!))),
      wrappingAlgorithm: 'RSAES_PKCS1_V1_5',
    }));
    expect(errorName(r.error)).toBe('RecoveryNotProven');
    expect(r.error?.message).toMatch(/submission\.wrappingAlgorithm: .*nothing was imported/);
    expect(r.operations).not.toContain('ImportKeyMaterial');
  });

  it('ends RecoveryNotProven without a call when the deletion leaves nothing to recover', async () => {
    const key = expiring.next();
    const r = await prove(key, (plan, params) => submit(plan, params, loadMaterial(key.materialFile!)), {
      plan: (plan) => ({ ...plan, expectedMaterial: 'REMOVED' }),
    });
    expect(errorName(r.error)).toBe('RecoveryNotProven');
    expect(r.error?.message).toMatch(/pending rotation/);
    expect(r.operations).not.toContain('ImportKeyMaterial');
  });

  it('ends PlanDrifted without importing when the key changed since it was planned', async () => {
    const key = expiring.next();
    const r = await prove(key, async (plan, params) => {
      const submission = await submit(plan, params, loadMaterial(key.materialFile!));
      await sdk.send(new DisableKeyCommand({ KeyId: key.keyArn }));
      return submission;
    });
    expect(errorName(r.error)).toBe('PlanDrifted');
    expect(r.error?.message).toMatch(/keyState was "Enabled", now "Disabled"; nothing was imported/);
    expect(r.operations).not.toContain('ImportKeyMaterial');
  });

  it('logs neither the token, the public key nor the wrapped copy', async () => {
    const key = expiring.next();
    for (const material of [loadMaterial(key.materialFile!), newKeyMaterial()]) {
      const r = await prove(key, (plan, params) => submit(plan, params, material));
      const submission = r.submission as ProofSubmission;
      expect(r.logged).toContain(key.keyMaterialId);
      for (const secretish of [r.params.importToken, r.params.publicKey, submission.wrappedKeyMaterial]) {
        expect(r.logged).not.toContain(secretish.slice(0, 24));
      }
    }
  });
});
