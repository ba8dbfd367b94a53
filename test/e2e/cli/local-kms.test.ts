import {
  DeleteImportedKeyMaterialCommand,
  DescribeKeyCommand,
  ListKeyRotationsCommand,
  ListKeysCommand,
  RotateKeyOnDemandCommand,
} from '@aws-sdk/client-kms';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { importKeyMaterial, newKeyMaterial } from '../../../local/kms/byok';
import { startTestStack } from '../../helpers/local-stack';
import { keymat } from '../../helpers/run-cli';

let dir: string;
beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'keymat-cli-'))));
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('keymat local kms create-key', () => {
  it('creates a key that deletes, reimports and rotates as KMS does, seen through the SDK', async () => {
    const created = await keymat(['local', 'kms', 'create-key', '--state-dir', dir, '--expires-in', '30', '--json']);
    expect(created.code).toBe(0);
    const key = JSON.parse(created.stdout) as { keyId: string; keyMaterialId: string; materialFile: string };
    expect(key.keyMaterialId).toMatch(/^[a-f0-9]{64}$/);

    const t = await startTestStack(undefined, dir);
    const kms = t.kms();
    try {
      const meta = (await kms.send(new DescribeKeyCommand({ KeyId: key.keyId }))).KeyMetadata!;
      expect(meta).toMatchObject({ KeyState: 'Enabled', Origin: 'EXTERNAL', ExpirationModel: 'KEY_MATERIAL_EXPIRES' });
      const days = (meta.ValidTo!.getTime() - Date.now()) / 86_400_000;
      expect(days).toBeGreaterThan(29.9);

      await kms.send(new DeleteImportedKeyMaterialCommand({ KeyId: key.keyId }));
      expect((await kms.send(new DescribeKeyCommand({ KeyId: key.keyId }))).KeyMetadata?.KeyState).toBe(
        'PendingImport',
      );

      const again = await importKeyMaterial(kms, key.keyId, readFileSync(key.materialFile));
      expect(again.keyMaterialId).toBe(key.keyMaterialId);
      expect((await kms.send(new DescribeKeyCommand({ KeyId: key.keyId }))).KeyMetadata?.KeyState).toBe('Enabled');

      const next = await importKeyMaterial(kms, key.keyId, newKeyMaterial(), { importType: 'NEW_KEY_MATERIAL' });
      await kms.send(new RotateKeyOnDemandCommand({ KeyId: key.keyId }));
      const rotations = await kms.send(
        new ListKeyRotationsCommand({ KeyId: key.keyId, IncludeKeyMaterial: 'ALL_KEY_MATERIAL' }),
      );
      expect(rotations.Rotations?.map((r) => [r.KeyMaterialId, r.KeyMaterialState])).toEqual([
        [key.keyMaterialId, 'NON_CURRENT'],
        [next.keyMaterialId, 'CURRENT'],
      ]);
    } finally {
      await t.close();
    }
  });

  it('creates a key without material when asked, left PendingImport', async () => {
    const created = await keymat(['local', 'kms', 'create-key', '--state-dir', dir, '--no-material', '--json']);
    const key = JSON.parse(created.stdout) as { keyId: string; keyMaterialId?: string };
    expect(key.keyMaterialId).toBeUndefined();
    const t = await startTestStack(undefined, dir);
    expect((await t.kms().send(new DescribeKeyCommand({ KeyId: key.keyId }))).KeyMetadata?.KeyState).toBe(
      'PendingImport',
    );
    await t.close();
  });

  it('saves the material copy before importing: a copy that cannot be saved leaves the key without material', async () => {
    // Where the copies go stands a file, so the copy cannot be written.
    writeFileSync(join(dir, 'byok'), 'not a folder');
    const created = await keymat(['local', 'kms', 'create-key', '--state-dir', dir]);
    expect(created.code).toBe(1);
    expect(created.stderr.trim().split('\n')).toEqual([
      expect.stringMatching(
        new RegExp(
          `could not save the key material's copy in ${join(dir, 'byok')} \\(EEXIST: .*\\), so none was imported: key arn:aws:kms:us-east-1:111122223333:key/[-0-9a-f]+ is left without material \\(PendingImport\\)$`,
        ),
      ),
    ]);

    const t = await startTestStack(undefined, dir);
    const kms = t.kms();
    try {
      const keys = (await kms.send(new ListKeysCommand({}))).Keys ?? [];
      const described = await Promise.all(
        keys.map(async (k) => (await kms.send(new DescribeKeyCommand({ KeyId: k.KeyId }))).KeyMetadata!),
      );
      const external = described.filter((m) => m.Origin === 'EXTERNAL');
      expect(external.map((m) => m.KeyState)).toEqual(['PendingImport']);
      expect(t.operations()).not.toContain('ImportKeyMaterial');
    } finally {
      await t.close();
    }
  });

  it('refuses an out-of-range --expires-in with one line naming the option and value', async () => {
    const result = await keymat(['local', 'kms', 'create-key', '--state-dir', dir, '--expires-in', '400']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("--expires-in must be a whole number from 1 to 365; got '400'");
  });
});
