import {
  CancelKeyDeletionCommand,
  CreateAliasCommand,
  CreateKeyCommand,
  DecryptCommand,
  DeleteImportedKeyMaterialCommand,
  DescribeKeyCommand,
  DisableKeyCommand,
  EncryptCommand,
  GetKeyLastUsageCommand,
  GetParametersForImportCommand,
  ImportKeyMaterialCommand,
  ListAliasesCommand,
  ListKeyRotationsCommand,
  ListKeysCommand,
  ListResourceTagsCommand,
  ReplicateKeyCommand,
  RotateKeyOnDemandCommand,
  ScheduleKeyDeletionCommand,
  TagResourceCommand,
  paginateListKeyRotations,
  type KMSClient,
  type RotationsListEntry,
} from '@aws-sdk/client-kms';
import { createHash, createPublicKey } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { importKeyMaterial, loadMaterial, newKeyMaterial, type CreatedKey } from '../../../local/kms/byok';
import { errorOf, startTestStack, type TestStack } from '../../helpers/local-stack';
import { keySupply, seedExternalKeys } from '../../helpers/seeded-keys';

let dir: string;
let t: TestStack;
let kms: KMSClient;
/**
 * Keys with current imported material for the tests that are not about importing, seeded into the state before the
 * stack starts: each import makes the local KMS generate an RSA wrapping key pair (costly CPU), and the
 * import and rotation tests below import for real.
 */
let seeded: { plain: ReturnType<typeof keySupply>; multiRegion: ReturnType<typeof keySupply> };

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'keymat-contract-'));
  const seed = (count: number, multiRegion: boolean) =>
    keySupply(
      seedExternalKeys(
        dir,
        join(dir, 'byok'),
        Array.from({ length: count }, () => ({ multiRegion })),
      ),
    );
  seeded = { plain: seed(9, false), multiRegion: seed(1, true) };
  t = await startTestStack(undefined, dir);
  kms = t.kms();
});
afterAll(async () => {
  await t.close();
  rmSync(dir, { recursive: true, force: true });
});

const describe_ = async (keyId: string, client = kms) =>
  (await client.send(new DescribeKeyCommand({ KeyId: keyId }))).KeyMetadata!;

async function materials(keyId: string, client = kms): Promise<RotationsListEntry[]> {
  const all: RotationsListEntry[] = [];
  for await (const page of paginateListKeyRotations(
    { client, pageSize: 1 },
    { KeyId: keyId, IncludeKeyMaterial: 'ALL_KEY_MATERIAL' },
  )) {
    all.push(...(page.Rotations ?? []));
  }
  return all;
}

async function externalKey(options: { multiRegion?: boolean; client?: KMSClient } = {}) {
  const client = options.client ?? kms;
  const created = await client.send(new CreateKeyCommand({ Origin: 'EXTERNAL', MultiRegion: options.multiRegion }));
  const keyId = created.KeyMetadata!.KeyId!;
  const material = newKeyMaterial();
  const { keyMaterialId } = await importKeyMaterial(client, keyId, material);
  return { keyId, arn: created.KeyMetadata!.Arn!, material, keyMaterialId };
}

const encrypt = (keyId: string, client = kms) =>
  client.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('secret') }));

describe('importing key material', () => {
  it('creates an EXTERNAL key in PendingImport with no material', async () => {
    const created = await kms.send(new CreateKeyCommand({ Origin: 'EXTERNAL' }));
    expect(created.KeyMetadata).toMatchObject({ Origin: 'EXTERNAL', KeyState: 'PendingImport', Enabled: false });
    expect(await materials(created.KeyMetadata!.KeyId!)).toEqual([]);
  });

  it.each([
    ['RSA_2048', 'RSAES_OAEP_SHA_256', 2048],
    ['RSA_3072', 'RSAES_OAEP_SHA_1', 3072],
    ['RSA_4096', 'RSAES_OAEP_SHA_256', 4096],
  ] as const)('returns a real %s public key and a 24 h token for %s, and imports with it', async (spec, alg, bits) => {
    const created = await kms.send(new CreateKeyCommand({ Origin: 'EXTERNAL' }));
    const keyId = created.KeyMetadata!.KeyId!;
    const params = await kms.send(
      new GetParametersForImportCommand({ KeyId: keyId, WrappingKeySpec: spec, WrappingAlgorithm: alg }),
    );
    const publicKey = createPublicKey({ key: Buffer.from(params.PublicKey!), format: 'der', type: 'spki' });
    expect(publicKey.asymmetricKeyDetails?.modulusLength).toBe(bits);
    const hoursValid = (params.ParametersValidTo!.getTime() - Date.now()) / 3_600_000;
    expect(hoursValid).toBeGreaterThan(23.9);
    expect(hoursValid).toBeLessThanOrEqual(24);
    const material = newKeyMaterial();
    const imported = await importKeyMaterial(kms, keyId, material, { wrappingAlgorithm: alg, wrappingKeySpec: spec });
    expect(imported.keyMaterialId).toBe(createHash('sha256').update(keyId).update(material).digest('hex'));
    expect(await describe_(keyId)).toMatchObject({
      KeyState: 'Enabled',
      CurrentKeyMaterialId: imported.keyMaterialId,
      ExpirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE',
    });
  });

  it('refuses an import token issued for another key', async () => {
    const a = await kms.send(new CreateKeyCommand({ Origin: 'EXTERNAL' }));
    const b = await kms.send(new CreateKeyCommand({ Origin: 'EXTERNAL' }));
    const params = await kms.send(
      new GetParametersForImportCommand({
        KeyId: a.KeyMetadata!.KeyId,
        WrappingKeySpec: 'RSA_2048',
        WrappingAlgorithm: 'RSAES_OAEP_SHA_256',
      }),
    );
    const err = await errorOf(() =>
      kms.send(
        new ImportKeyMaterialCommand({
          KeyId: b.KeyMetadata!.KeyId,
          ImportToken: params.ImportToken,
          EncryptedKeyMaterial: Buffer.alloc(256),
          ExpirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE',
        }),
      ),
    );
    expect(err.name).toBe('InvalidImportTokenException');
    expect((await describe_(b.KeyMetadata!.KeyId!)).KeyState).toBe('PendingImport');
  });

  it('refuses material that is not 256 bits', async () => {
    const created = await kms.send(new CreateKeyCommand({ Origin: 'EXTERNAL' }));
    const err = await errorOf(() => importKeyMaterial(kms, created.KeyMetadata!.KeyId!, Buffer.alloc(16, 1)));
    expect(err.name).toBe('IncorrectKeyMaterialException');
    expect(err.message).toMatch(/256 bits; got 128/);
  });

  it.each([
    ['more than 365 days ahead', 366 * 86_400_000, /more than 365 days/],
    ['in the past', -60_000, /in the past/],
  ])('refuses a ValidTo %s', async (_label, offsetMs, message) => {
    const created = await kms.send(new CreateKeyCommand({ Origin: 'EXTERNAL' }));
    const err = await errorOf(() =>
      importKeyMaterial(kms, created.KeyMetadata!.KeyId!, newKeyMaterial(), {
        validTo: new Date(Date.now() + offsetMs),
      }),
    );
    expect(err.name).toBe('ValidationException');
    expect(err.message).toMatch(message);
  });

  it('refuses different material on reimport with IncorrectKeyMaterialException', async () => {
    const key = await externalKey();
    await kms.send(new DeleteImportedKeyMaterialCommand({ KeyId: key.keyId }));
    const err = await errorOf(() => importKeyMaterial(kms, key.keyId, newKeyMaterial()));
    expect(err.name).toBe('IncorrectKeyMaterialException');
    expect((await describe_(key.keyId)).KeyState).toBe('PendingImport');
  });

  it('gives the same KeyMaterialId when the same material is reimported', async () => {
    const key = await externalKey();
    await kms.send(new DeleteImportedKeyMaterialCommand({ KeyId: key.keyId }));
    const again = await importKeyMaterial(kms, key.keyId, key.material);
    expect(again.keyMaterialId).toBe(key.keyMaterialId);
  });
});

describe('rotation', () => {
  it('holds new material PENDING_ROTATION, one at a time, until RotateKeyOnDemand promotes it', async () => {
    const key = await externalKey();
    const next = await importKeyMaterial(kms, key.keyId, newKeyMaterial(), { importType: 'NEW_KEY_MATERIAL' });
    expect(await materials(key.keyId)).toEqual([
      expect.objectContaining({
        KeyMaterialId: key.keyMaterialId,
        KeyMaterialState: 'CURRENT',
        ImportState: 'IMPORTED',
      }),
      expect.objectContaining({ KeyMaterialId: next.keyMaterialId, KeyMaterialState: 'PENDING_ROTATION' }),
    ]);
    const second = await errorOf(() =>
      importKeyMaterial(kms, key.keyId, newKeyMaterial(), { importType: 'NEW_KEY_MATERIAL' }),
    );
    expect(second.name).toBe('KMSInvalidStateException');

    await kms.send(new RotateKeyOnDemandCommand({ KeyId: key.keyId }));
    expect(await materials(key.keyId)).toEqual([
      expect.objectContaining({ KeyMaterialId: key.keyMaterialId, KeyMaterialState: 'NON_CURRENT' }),
      expect.objectContaining({
        KeyMaterialId: next.keyMaterialId,
        KeyMaterialState: 'CURRENT',
        RotationType: 'ON_DEMAND',
      }),
    ]);
    expect((await describe_(key.keyId)).CurrentKeyMaterialId).toBe(next.keyMaterialId);
    const rotationsOnly = await kms.send(new ListKeyRotationsCommand({ KeyId: key.keyId }));
    expect(rotationsOnly.Rotations?.map((r) => r.KeyMaterialId)).toEqual([next.keyMaterialId]);
  });

  it('pages ListKeyRotations with Limit and Marker', async () => {
    const key = await externalKey();
    await importKeyMaterial(kms, key.keyId, newKeyMaterial(), { importType: 'NEW_KEY_MATERIAL' });
    const first = await kms.send(
      new ListKeyRotationsCommand({ KeyId: key.keyId, IncludeKeyMaterial: 'ALL_KEY_MATERIAL', Limit: 1 }),
    );
    expect(first).toMatchObject({
      Truncated: true,
      Rotations: [expect.objectContaining({ KeyMaterialState: 'CURRENT' })],
    });
    const second = await kms.send(
      new ListKeyRotationsCommand({
        KeyId: key.keyId,
        IncludeKeyMaterial: 'ALL_KEY_MATERIAL',
        Limit: 1,
        Marker: first.NextMarker,
      }),
    );
    expect(second.Truncated).toBe(false);
    expect(second.Rotations).toEqual([expect.objectContaining({ KeyMaterialState: 'PENDING_ROTATION' })]);
    const bad = await errorOf(() => kms.send(new ListKeyRotationsCommand({ KeyId: key.keyId, Marker: 'bm9wZQ' })));
    expect(bad.name).toBe('InvalidMarkerException');
  });

  it('refuses RotateKeyOnDemand with no material pending rotation', async () => {
    const key = await externalKey();
    const err = await errorOf(() => kms.send(new RotateKeyOnDemandCommand({ KeyId: key.keyId })));
    expect(err.name).toBe('KMSInvalidStateException');
    expect(err.message).toMatch(/no key material in PENDING_ROTATION/);
  });
});

describe('DeleteImportedKeyMaterial and the key state afterwards', () => {
  it('deleting the current material makes the key PendingImport and unusable until the same material returns', async () => {
    const key = seeded.plain.next();
    const ciphertext = (await encrypt(key.keyId)).CiphertextBlob!;
    const deleted = await kms.send(new DeleteImportedKeyMaterialCommand({ KeyId: key.keyId }));
    expect(deleted).toMatchObject({ KeyId: key.keyArn, KeyMaterialId: key.keyMaterialId });
    const meta = await describe_(key.keyId);
    expect(meta).toMatchObject({ KeyState: 'PendingImport', Enabled: false, CurrentKeyMaterialId: key.keyMaterialId });
    expect((await errorOf(() => encrypt(key.keyId))).name).toBe('KMSInvalidStateException');
    expect((await errorOf(() => kms.send(new DecryptCommand({ CiphertextBlob: ciphertext })))).name).toBe(
      'KMSInvalidStateException',
    );

    await importKeyMaterial(kms, key.keyId, loadMaterial(key.materialFile!));
    expect((await describe_(key.keyId)).KeyState).toBe('Enabled');
    const plaintext = (await kms.send(new DecryptCommand({ CiphertextBlob: ciphertext }))).Plaintext!;
    expect(Buffer.from(plaintext).toString()).toBe('secret');
  });

  it('deleting a NON_CURRENT material makes the key PendingImport although the current one is still there', async () => {
    const key = seeded.plain.next();
    const next = await importKeyMaterial(kms, key.keyId, newKeyMaterial(), { importType: 'NEW_KEY_MATERIAL' });
    await kms.send(new RotateKeyOnDemandCommand({ KeyId: key.keyId }));
    await kms.send(new DeleteImportedKeyMaterialCommand({ KeyId: key.keyId, KeyMaterialId: key.keyMaterialId }));
    expect((await describe_(key.keyId)).KeyState).toBe('PendingImport');
    expect(await materials(key.keyId)).toEqual([
      expect.objectContaining({ KeyMaterialId: key.keyMaterialId, ImportState: 'PENDING_IMPORT' }),
      expect.objectContaining({ KeyMaterialId: next.keyMaterialId, ImportState: 'IMPORTED' }),
    ]);
    expect((await errorOf(() => encrypt(key.keyId))).name).toBe('KMSInvalidStateException');
  });

  it('deleting a PENDING_ROTATION material leaves the key state unchanged and frees the slot', async () => {
    const key = seeded.plain.next();
    await kms.send(new DisableKeyCommand({ KeyId: key.keyId }));
    const next = await importKeyMaterial(kms, key.keyId, newKeyMaterial(), { importType: 'NEW_KEY_MATERIAL' });
    await kms.send(new DeleteImportedKeyMaterialCommand({ KeyId: key.keyId, KeyMaterialId: next.keyMaterialId }));
    expect((await describe_(key.keyId)).KeyState).toBe('Disabled');
    expect((await materials(key.keyId)).map((m) => m.KeyMaterialId)).toEqual([key.keyMaterialId]);
    await importKeyMaterial(kms, key.keyId, newKeyMaterial(), { importType: 'NEW_KEY_MATERIAL' });
  });

  it('deleting from a disabled key makes it PendingImport', async () => {
    const key = seeded.plain.next();
    await kms.send(new DisableKeyCommand({ KeyId: key.keyId }));
    await kms.send(new DeleteImportedKeyMaterialCommand({ KeyId: key.keyId }));
    expect((await describe_(key.keyId)).KeyState).toBe('PendingImport');
  });

  it('deleting while PendingDeletion succeeds and leaves the key PendingDeletion', async () => {
    const key = seeded.plain.next();
    await kms.send(new ScheduleKeyDeletionCommand({ KeyId: key.keyId, PendingWindowInDays: 7 }));
    await kms.send(new DeleteImportedKeyMaterialCommand({ KeyId: key.keyId }));
    expect((await describe_(key.keyId)).KeyState).toBe('PendingDeletion');
    expect((await materials(key.keyId))[0]?.ImportState).toBe('PENDING_IMPORT');
    await kms.send(new CancelKeyDeletionCommand({ KeyId: key.keyId }));
    expect((await describe_(key.keyId)).KeyState).toBe('PendingImport');
  });

  it('deleting again from a PendingImport key succeeds with no effect', async () => {
    const key = seeded.plain.next();
    await kms.send(new DeleteImportedKeyMaterialCommand({ KeyId: key.keyId }));
    const again = await kms.send(new DeleteImportedKeyMaterialCommand({ KeyId: key.keyId }));
    expect(again.KeyMaterialId).toBe(key.keyMaterialId);
    expect((await describe_(key.keyId)).KeyState).toBe('PendingImport');
  });
});

describe('request validation as KMS does it', () => {
  let key: CreatedKey;
  beforeAll(async () => {
    key = seeded.plain.next();
    await kms.send(new CreateAliasCommand({ AliasName: 'alias/contract', TargetKeyId: key.keyId }));
  });

  it.each([
    ['an alias', 'alias/contract', 'NotFoundException', /Invalid keyId 'alias\/contract'/],
    ['a malformed key id', 'not-a-key', 'NotFoundException', /Invalid keyId 'not-a-key'/],
    ['an empty key id', '', 'ValidationException', /keyId/],
    [
      'an ARN of another Region',
      'arn:aws:kms:eu-west-1:111122223333:key/00000000-0000-0000-0000-000000000000',
      'NotFoundException',
      /Invalid arn eu-west-1/,
    ],
    ['an ARN of another service', 'arn:aws:s3:::bucket', 'InvalidArnException', /Invalid arn/],
    ['an unknown key', '00000000-0000-0000-0000-000000000000', 'NotFoundException', /does not exist/],
  ])('refuses %s for DeleteImportedKeyMaterial with a 400 the SDK does not retry', async (_l, keyId, name, message) => {
    const err = await errorOf(() => kms.send(new DeleteImportedKeyMaterialCommand({ KeyId: keyId })));
    expect(err.name).toBe(name);
    expect(err.message).toMatch(message);
    expect(err.$metadata).toMatchObject({ httpStatusCode: 400, attempts: 1 });
    expect((await describe_(key.keyId)).KeyState).toBe('Enabled');
  });

  it.each([
    ['upper-case', 'A'.repeat(64)],
    ['short', 'a'.repeat(63)],
  ])('refuses a %s KeyMaterialId with ValidationException', async (_l, id) => {
    const err = await errorOf(() =>
      kms.send(new DeleteImportedKeyMaterialCommand({ KeyId: key.keyId, KeyMaterialId: id })),
    );
    expect(err.name).toBe('ValidationException');
    expect(err.message).toContain('keyMaterialId');
    expect((await describe_(key.keyId)).KeyState).toBe('Enabled');
  });

  it('refuses an unknown KeyMaterialId with NotFoundException', async () => {
    const err = await errorOf(() =>
      kms.send(new DeleteImportedKeyMaterialCommand({ KeyId: key.keyId, KeyMaterialId: 'f'.repeat(64) })),
    );
    expect(err.name).toBe('NotFoundException');
  });

  it('refuses a key whose origin is not EXTERNAL with UnsupportedOperationException', async () => {
    const awsKey = await kms.send(new CreateKeyCommand({}));
    const err = await errorOf(() =>
      kms.send(new DeleteImportedKeyMaterialCommand({ KeyId: awsKey.KeyMetadata!.KeyId })),
    );
    expect(err.name).toBe('UnsupportedOperationException');
    expect((await describe_(awsKey.KeyMetadata!.KeyId!)).KeyState).toBe('Enabled');
  });

  it('resolves aliases where KMS accepts them', async () => {
    expect((await describe_('alias/contract')).KeyId).toBe(key.keyId);
    expect((await encrypt('alias/contract')).KeyId).toBe(key.keyArn);
    const aliases = await kms.send(new ListAliasesCommand({ KeyId: key.keyId }));
    expect(aliases.Aliases?.map((a) => a.AliasName)).toEqual(['alias/contract']);
  });
});

describe('other operations the workflow and the scan use', () => {
  it('reports the last cryptographic use through GetKeyLastUsage', async () => {
    const key = seeded.plain.next();
    const before = await kms.send(new GetKeyLastUsageCommand({ KeyId: key.keyId }));
    expect(before.KeyLastUsage?.Timestamp).toBeUndefined();
    const encrypted = await encrypt(key.keyId);
    await kms.send(new DecryptCommand({ CiphertextBlob: encrypted.CiphertextBlob }));
    const after = await kms.send(new GetKeyLastUsageCommand({ KeyId: key.keyId }));
    expect(after.KeyLastUsage).toMatchObject({ Operation: 'Decrypt' });
    expect(Date.now() - after.KeyLastUsage!.Timestamp!.getTime()).toBeLessThan(10_000);
  });

  it('lists keys in pages and keeps tags', async () => {
    const key = seeded.plain.next();
    await kms.send(
      new TagResourceCommand({ KeyId: key.keyId, Tags: [{ TagKey: 'retire-on', TagValue: '2026-12-01' }] }),
    );
    expect((await kms.send(new ListResourceTagsCommand({ KeyId: key.keyId }))).Tags).toEqual([
      { TagKey: 'retire-on', TagValue: '2026-12-01' },
    ]);
    const first = await kms.send(new ListKeysCommand({ Limit: 2 }));
    expect(first.Keys).toHaveLength(2);
    expect(first.Truncated).toBe(true);
  });

  it('applies expiry when ValidTo passes: the material is deleted and the key becomes PendingImport', async () => {
    const created = await kms.send(new CreateKeyCommand({ Origin: 'EXTERNAL' }));
    const keyId = created.KeyMetadata!.KeyId!;
    const validTo = new Date(Date.now() + 1500);
    const { keyMaterialId } = await importKeyMaterial(kms, keyId, newKeyMaterial(), { validTo });
    expect(await describe_(keyId)).toMatchObject({ KeyState: 'Enabled', ExpirationModel: 'KEY_MATERIAL_EXPIRES' });
    expect((await describe_(keyId)).ValidTo?.getTime()).toBe(validTo.getTime());
    await new Promise((r) => setTimeout(r, 1700));
    expect((await describe_(keyId)).KeyState).toBe('PendingImport');
    expect(await materials(keyId)).toEqual([
      expect.objectContaining({ KeyMaterialId: keyMaterialId, ImportState: 'PENDING_IMPORT' }),
    ]);
  });
});

describe('multi-Region keys', () => {
  it('replicates into another Region of the same server and cascades deletion of pending material', async () => {
    const west = t.kms({ region: 'eu-west-1' });
    const primary = await externalKey({ multiRegion: true });
    expect(primary.keyId).toMatch(/^mrk-[0-9a-f]{32}$/);
    const replicated = await kms.send(new ReplicateKeyCommand({ KeyId: primary.keyId, ReplicaRegion: 'eu-west-1' }));
    expect(replicated.ReplicaKeyMetadata?.Arn).toBe(primary.arn.replace('us-east-1', 'eu-west-1'));
    expect((await describe_(primary.keyId, west)).KeyState).toBe('PendingImport');
    expect((await errorOf(() => describe_(primary.arn, west))).name).toBe('NotFoundException');

    await importKeyMaterial(west, primary.keyId, primary.material);
    const replica = await describe_(primary.keyId, west);
    expect(replica).toMatchObject({
      KeyState: 'Enabled',
      CurrentKeyMaterialId: primary.keyMaterialId,
      MultiRegionConfiguration: { MultiRegionKeyType: 'REPLICA', PrimaryKey: { Region: 'us-east-1' } },
    });

    const next = newKeyMaterial();
    const pending = await importKeyMaterial(kms, primary.keyId, next, { importType: 'NEW_KEY_MATERIAL' });
    expect((await materials(primary.keyId))[1]?.KeyMaterialState).toBe('PENDING_MULTI_REGION_IMPORT_AND_ROTATION');
    await importKeyMaterial(west, primary.keyId, next);
    expect((await materials(primary.keyId))[1]?.KeyMaterialState).toBe('PENDING_ROTATION');

    await kms.send(
      new DeleteImportedKeyMaterialCommand({ KeyId: primary.keyId, KeyMaterialId: pending.keyMaterialId }),
    );
    expect((await materials(primary.keyId)).map((m) => m.KeyMaterialId)).toEqual([primary.keyMaterialId]);
    expect((await materials(primary.keyId, west)).map((m) => m.KeyMaterialId)).toEqual([primary.keyMaterialId]);
    expect((await describe_(primary.keyId, west)).KeyState).toBe('Enabled');
    expect((await describe_(primary.keyId)).KeyState).toBe('Enabled');
  });

  it('deleting a replica current material affects only the replica', async () => {
    const west = t.kms({ region: 'eu-west-1' });
    const primary = seeded.multiRegion.next();
    await kms.send(new ReplicateKeyCommand({ KeyId: primary.keyId, ReplicaRegion: 'eu-west-1' }));
    await importKeyMaterial(west, primary.keyId, loadMaterial(primary.materialFile!));
    await west.send(new DeleteImportedKeyMaterialCommand({ KeyId: primary.keyId }));
    expect((await describe_(primary.keyId, west)).KeyState).toBe('PendingImport');
    expect((await describe_(primary.keyId)).KeyState).toBe('Enabled');
  });
});

describe('the request log', () => {
  it('records operation, key, status and error, and never material or tokens', async () => {
    const key = await externalKey();
    await errorOf(() => kms.send(new DeleteImportedKeyMaterialCommand({ KeyId: 'alias/nope' })));
    const entries = t.stack.requestLog.read();
    expect(entries).toContainEqual(
      expect.objectContaining({ operation: 'ImportKeyMaterial', keyId: key.arn, status: 200 }),
    );
    expect(entries).toContainEqual(
      expect.objectContaining({
        operation: 'DeleteImportedKeyMaterial',
        keyId: 'alias/nope',
        status: 400,
        error: 'NotFoundException',
      }),
    );
    const text = JSON.stringify(t.stack.requestLog.read());
    expect(text).not.toContain(key.material.toString('base64'));
    expect(text).not.toContain(key.material.toString('hex'));
    const allowed = [
      'time',
      'service',
      'region',
      'operation',
      'keyId',
      'keyMaterialId',
      'status',
      'error',
      'caller',
      'account',
      'sourceIdentity',
      'requestId',
    ];
    for (const entry of entries) expect(allowed).toEqual(expect.arrayContaining(Object.keys(entry)));
  });
});
