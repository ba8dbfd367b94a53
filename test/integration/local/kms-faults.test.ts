import {
  CreateKeyCommand,
  DecryptCommand,
  DeleteImportedKeyMaterialCommand,
  DescribeKeyCommand,
  EncryptCommand,
  KMSClient,
} from '@aws-sdk/client-kms';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { importKeyMaterial, newKeyMaterial } from '../../../local/kms/byok';
import { loadFaultFile, type FaultFile } from '../../../local/kms/faults';
import { errorOf, startTestStack, type TestStack } from '../../helpers/local-stack';
import { serve } from '../../helpers/run-cli';
import { seedExternalKeys } from '../../helpers/seeded-keys';
import { LOCAL_CREDENTIALS } from '../../../local/constants';

/**
 * A stack with one EXTERNAL key with material, seeded into its state before the stack starts with the faults: an
 * import makes the local KMS generate an RSA wrapping key pair (costly CPU), and kms-contract.test.ts's
 * import tests prove what an import leaves. (The kill -9 test imports for real: its imports are what it checks.)
 */
async function stackWithKey(
  faults: FaultFile | ((keyId: string) => FaultFile),
): Promise<{ t: TestStack; keyId: string; dir: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'keymat-faults-'));
  const keyId = seedExternalKeys(dir, join(dir, 'byok'), [{}])[0]!.keyId;
  return { t: await startTestStack(typeof faults === 'function' ? faults(keyId) : faults, dir), keyId, dir };
}

const stacks: { t: TestStack; dir: string }[] = [];
async function withKey(faults: Parameters<typeof stackWithKey>[0]) {
  const s = await stackWithKey(faults);
  stacks.push(s);
  return s;
}
afterEach(async () => {
  for (const { t, dir } of stacks.splice(0)) {
    await t.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

const describeKeyLog = (t: TestStack) => t.stack.requestLog.read().filter((e) => e.operation === 'DescribeKey');
const describeKey = (client: KMSClient, keyId: string) => client.send(new DescribeKeyCommand({ KeyId: keyId }));

describe('fault injection as the SDK sees it', () => {
  it('a 500 within the SDK retry budget is retried by the SDK and succeeds', async () => {
    const { t, keyId } = await withKey({
      rules: [{ kind: 'error', operation: 'DescribeKey', error: 'KMSInternalException', count: 2 }],
    });
    const out = await describeKey(t.kms(), keyId);
    expect(out.$metadata.attempts).toBe(3);
    expect(describeKeyLog(t).map((e) => e.status)).toEqual([500, 500, 200]);
  });

  it('a 500 beyond the SDK retry budget surfaces as KMSInternalException with $fault server', async () => {
    const { t, keyId } = await withKey({
      rules: [{ kind: 'error', operation: 'DescribeKey', error: 'KMSInternalException', count: 3 }],
    });
    const err = await errorOf(() => describeKey(t.kms(), keyId));
    expect(err.name).toBe('KMSInternalException');
    expect(err.$fault).toBe('server');
    expect(err.$metadata).toMatchObject({ httpStatusCode: 500, attempts: 3 });
  });

  it('DependencyTimeoutException is a 500 the SDK retries', async () => {
    const { t, keyId } = await withKey({
      rules: [{ kind: 'error', operation: 'DescribeKey', error: 'DependencyTimeoutException', count: 1 }],
    });
    expect((await describeKey(t.kms(), keyId)).$metadata.attempts).toBe(2);
  });

  it('ThrottlingException is a 400 the SDK still retries', async () => {
    const { t, keyId } = await withKey({
      rules: [{ kind: 'error', operation: 'DescribeKey', error: 'ThrottlingException', count: 2 }],
    });
    expect((await describeKey(t.kms(), keyId)).$metadata.attempts).toBe(3);
    expect(describeKeyLog(t).map((e) => e.error)).toEqual(['ThrottlingException', 'ThrottlingException', undefined]);
  });

  it('an injected 400 is not retried', async () => {
    const { t, keyId } = await withKey({
      rules: [{ kind: 'error', operation: 'DescribeKey', error: 'KMSInvalidStateException', count: 1 }],
    });
    const err = await errorOf(() => describeKey(t.kms(), keyId));
    expect(err.name).toBe('KMSInvalidStateException');
    expect(err.$metadata).toMatchObject({ httpStatusCode: 400, attempts: 1 });
  });

  it('probability faults repeat exactly for the same seed', async () => {
    const faults: FaultFile = {
      seed: 7,
      rules: [{ kind: 'error', operation: 'DescribeKey', error: 'KMSInternalException', probability: 0.3 }],
    };
    const outcomes: string[] = [];
    for (const run of [1, 2]) {
      const { t, keyId } = await withKey(faults);
      const client = t.kms({ maxAttempts: 1 });
      let pattern = '';
      for (let i = 0; i < 40; i++)
        pattern += await describeKey(client, keyId).then(
          () => '.',
          () => 'x',
        );
      outcomes.push(pattern);
      expect(run).toBeGreaterThan(0);
    }
    expect(outcomes[0]).toBe(outcomes[1]);
    const failures = outcomes[0]!.split('').filter((c) => c === 'x').length;
    expect(failures).toBeGreaterThan(4);
    expect(failures).toBeLessThan(24);
  });

  it('adds latency to the named operation', async () => {
    const { t, keyId } = await withKey({ rules: [{ kind: 'latency', operation: 'DescribeKey', ms: 300 }] });
    const started = Date.now();
    await describeKey(t.kms(), keyId);
    expect(Date.now() - started).toBeGreaterThanOrEqual(300);
  });

  it('serves stale reads for K calls after a change', async () => {
    const { t, keyId } = await withKey({ rules: [{ kind: 'staleReads', calls: 2 }] });
    const kms = t.kms();
    await kms.send(new DeleteImportedKeyMaterialCommand({ KeyId: keyId }));
    const states = [];
    for (let i = 0; i < 3; i++) states.push((await describeKey(kms, keyId)).KeyMetadata?.KeyState);
    expect(states).toEqual(['Enabled', 'Enabled', 'PendingImport']);
  });

  it('apply-then-500 deletes the material and still answers 500', async () => {
    const { t, keyId } = await withKey({
      rules: [{ kind: 'applyThenFail', operation: 'DeleteImportedKeyMaterial', count: 1 }],
    });
    const err = await errorOf(() =>
      t.kms({ maxAttempts: 1 }).send(new DeleteImportedKeyMaterialCommand({ KeyId: keyId })),
    );
    expect(err.name).toBe('KMSInternalException');
    expect((await describeKey(t.kms(), keyId)).KeyMetadata?.KeyState).toBe('PendingImport');
  });

  it('apply-then-500 is hidden by the SDK retry, which deletes nothing more', async () => {
    const { t, keyId } = await withKey({
      rules: [{ kind: 'applyThenFail', operation: 'DeleteImportedKeyMaterial', count: 1 }],
    });
    const out = await t.kms().send(new DeleteImportedKeyMaterialCommand({ KeyId: keyId }));
    expect(out.$metadata.attempts).toBe(2);
    const deletes = t.stack.requestLog.read().filter((e) => e.operation === 'DeleteImportedKeyMaterial');
    expect(deletes.map((e) => e.status)).toEqual([500, 200]);
  });

  it('enforces a per-operation quota with ThrottlingException', async () => {
    const { t, keyId } = await withKey({ rules: [{ kind: 'quota', operation: 'DescribeKey', perSecond: 5 }] });
    const client = t.kms({ maxAttempts: 1 });
    const results = await Promise.allSettled(Array.from({ length: 15 }, () => describeKey(client, keyId)));
    const throttled = results.filter((r) => r.status === 'rejected');
    expect(throttled.length).toBeGreaterThanOrEqual(9);
    for (const r of throttled) expect((r as PromiseRejectedResult).reason.name).toBe('ThrottlingException');
    // other operations are not limited
    await t.kms({ maxAttempts: 1 }).send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('x') }));
  });

  it.each(['Creating', 'Updating'] as const)(
    'refuses deletion from a key pinned %s with KMSInvalidStateException',
    async (state) => {
      const { t: pinned, keyId } = await withKey((id) => ({ rules: [{ kind: 'keyState', keyId: id, state }] }));
      const err = await errorOf(() => pinned.kms().send(new DeleteImportedKeyMaterialCommand({ KeyId: keyId })));
      expect(err.name).toBe('KMSInvalidStateException');
      expect(err.message).toBe(`arn:aws:kms:us-east-1:111122223333:key/${keyId} is ${state.toLowerCase()}.`);
      expect((await describeKey(pinned.kms(), keyId)).KeyMetadata?.KeyState).toBe(state);
    },
  );

  it('names the field of a bad fault file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'keymat-faults-'));
    const file = join(dir, 'faults.json');
    writeFileSync(
      file,
      JSON.stringify({ rules: [{ kind: 'error', operation: 'DescribeKey', error: 'Boom', count: 1 }] }),
    );
    expect(() => loadFaultFile(file)).toThrow(/rules\.0\.error/);
    writeFileSync(
      file,
      JSON.stringify({ rules: [{ kind: 'error', operation: 'DescribeKey', error: 'KMSInternalException' }] }),
    );
    expect(() => loadFaultFile(file)).toThrow(/exactly one of "count" or "probability"/);
    rmSync(dir, { recursive: true });
  });
});

describe('persistence', () => {
  it('a restart keeps every key and material', async () => {
    const { t, keyId, dir } = await withKey({ rules: [] });
    const ciphertext = (await t.kms().send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('kept') })))
      .CiphertextBlob;
    await t.close();
    const again = await startTestStack(undefined, dir);
    stacks.push({ t: again, dir });
    const plaintext = (await again.kms().send(new DecryptCommand({ CiphertextBlob: ciphertext }))).Plaintext;
    expect(Buffer.from(plaintext!).toString()).toBe('kept');
  });

  it('a kill -9 at any moment leaves a readable state that keeps every acknowledged import', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'keymat-kill-'));
    // Killed a few milliseconds after an acknowledged import, while the next writes are in flight.
    for (const killAfterMs of [3, 37]) {
      const { endpoint, stop } = await serve(['local', 'kms', 'serve', '--state-dir', dir]);
      const kms = new KMSClient({ endpoint, region: 'us-east-1', credentials: LOCAL_CREDENTIALS, maxAttempts: 1 });
      const acknowledged: string[] = [];
      let killed: Promise<void> | undefined;
      const writer = (async () => {
        for (;;) {
          const created = await kms.send(new CreateKeyCommand({ Origin: 'EXTERNAL' }));
          await importKeyMaterial(kms, created.KeyMetadata!.KeyId!, newKeyMaterial());
          acknowledged.push(created.KeyMetadata!.KeyId!);
          if (acknowledged.length === 2) {
            killed = new Promise((r) => setTimeout(() => r(stop('SIGKILL')), killAfterMs));
          }
        }
      })().catch(() => undefined);
      await writer;
      await (killed ?? stop('SIGKILL'));
      const restarted = await startTestStack(undefined, dir);
      for (const keyId of acknowledged) {
        expect((await describeKey(restarted.kms(), keyId)).KeyMetadata?.KeyState).toBe('Enabled');
      }
      await restarted.close();
      expect(acknowledged.length).toBeGreaterThan(0);
    }
    rmSync(dir, { recursive: true, force: true });
  });
});
