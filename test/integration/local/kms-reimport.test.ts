import {
  DescribeKeyCommand,
  GetParametersForImportCommand,
  ImportKeyMaterialCommand,
  ListKeyRotationsCommand,
  type ImportKeyMaterialCommandInput,
  type KMSClient,
} from '@aws-sdk/client-kms';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { wrapKeyMaterial, type WrappingAlgorithm } from '../../../core/key-wrap';
import { loadMaterial, newKeyMaterial } from '../../../local/kms/byok';
import { errorOf, startTestStack, type TestStack } from '../../helpers/local-stack';
import { keySupply, seedExternalKeys } from '../../helpers/seeded-keys';

/**
 * Reimporting the material a key still holds, as a recovery proof does: the same material with its own id and expiry
 * changes nothing, any other material is refused and changes nothing either.
 */

let dir: string;
let t: TestStack;
let kms: KMSClient;
let keys: ReturnType<typeof keySupply>;
/** A whole second: KMS's timestamps are epoch seconds, so the ValidTo read back is this exactly. */
const validTo = new Date(Math.floor(Date.now() / 1000) * 1000 + 30 * 86_400_000);

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'keymat-reimport-'));
  keys = keySupply(
    seedExternalKeys(
      dir,
      join(dir, 'byok'),
      Array.from({ length: 4 }, () => ({ validTo })),
    ),
  );
  t = await startTestStack(undefined, dir);
  kms = t.kms();
});
afterAll(async () => {
  await t.close();
  rmSync(dir, { recursive: true, force: true });
});

/** What a proof compares: the key's metadata and every material. */
async function keyAsItIs(keyId: string) {
  const { KeyMetadata } = await kms.send(new DescribeKeyCommand({ KeyId: keyId }));
  const { Rotations } = await kms.send(
    new ListKeyRotationsCommand({ KeyId: keyId, IncludeKeyMaterial: 'ALL_KEY_MATERIAL' }),
  );
  return { KeyMetadata, Rotations };
}

async function reimport(
  keyId: string,
  material: Buffer,
  fields: Partial<ImportKeyMaterialCommandInput>,
  algorithm: WrappingAlgorithm = 'RSAES_OAEP_SHA_256',
  spec: 'RSA_2048' | 'RSA_4096' = 'RSA_2048',
) {
  const params = await kms.send(
    new GetParametersForImportCommand({ KeyId: keyId, WrappingAlgorithm: algorithm, WrappingKeySpec: spec }),
  );
  return kms.send(
    new ImportKeyMaterialCommand({
      KeyId: keyId,
      ImportToken: params.ImportToken,
      EncryptedKeyMaterial: wrapKeyMaterial(params.PublicKey!, material, algorithm),
      ImportType: 'EXISTING_KEY_MATERIAL',
      ExpirationModel: 'KEY_MATERIAL_EXPIRES',
      ValidTo: validTo,
      ...fields,
    }),
  );
}

describe('reimporting material into a key that holds it', () => {
  it('accepts the same material with its id and expiry and leaves the key exactly as it was', async () => {
    const key = keys.next();
    const before = await keyAsItIs(key.keyId);
    const result = await reimport(key.keyId, loadMaterial(key.materialFile!), { KeyMaterialId: key.keyMaterialId });
    expect(result.KeyMaterialId).toBe(key.keyMaterialId);
    expect(await keyAsItIs(key.keyId)).toEqual(before);
    expect(before.KeyMetadata).toMatchObject({ KeyState: 'Enabled', ValidTo: validTo });
  });

  it.each([
    ['naming the material', true, /does not match KeyMaterialId/],
    ['without naming it', false, /different from the key material previously imported/],
  ])('refuses other material %s with IncorrectKeyMaterialException and changes nothing', async (_l, named, message) => {
    const key = keys.next();
    const before = await keyAsItIs(key.keyId);
    const err = await errorOf(() =>
      reimport(key.keyId, newKeyMaterial(), named ? { KeyMaterialId: key.keyMaterialId } : {}),
    );
    expect(err.name).toBe('IncorrectKeyMaterialException');
    expect(err.message).toMatch(message);
    expect(await keyAsItIs(key.keyId)).toEqual(before);
  });

  it('unwraps RSA_AES_KEY_WRAP_SHA_256 under an RSA_4096 wrapping key', async () => {
    const key = keys.next();
    const before = await keyAsItIs(key.keyId);
    const result = await reimport(
      key.keyId,
      loadMaterial(key.materialFile!),
      { KeyMaterialId: key.keyMaterialId },
      'RSA_AES_KEY_WRAP_SHA_256',
      'RSA_4096',
    );
    expect(result.KeyMaterialId).toBe(key.keyMaterialId);
    expect(await keyAsItIs(key.keyId)).toEqual(before);
  });
});
