import {
  CancelKeyDeletionCommand,
  CreateAliasCommand,
  CreateKeyCommand,
  DecryptCommand,
  DeleteImportedKeyMaterialCommand,
  DescribeKeyCommand,
  DisableKeyCommand,
  GetParametersForImportCommand,
  ImportKeyMaterialCommand,
  ListKeyRotationsCommand,
  ListResourceTagsCommand,
  ReplicateKeyCommand,
  RotateKeyOnDemandCommand,
  ScheduleKeyDeletionCommand,
  TagResourceCommand,
  type ImportKeyMaterialCommandInput,
  type KMSClient,
  type Tag,
} from '@aws-sdk/client-kms';
import { constants, createPublicKey, publicEncrypt } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { importKeyMaterial, loadMaterial, newKeyMaterial } from '../../../local/kms/byok';
import { MAX_ON_DEMAND_ROTATIONS } from '../../../local/kms/materials';
import { errorOf, startTestStack, type TestStack } from '../../helpers/local-stack';
import { keySupply, seedExternalKeys, type SeededKeyOptions } from '../../helpers/seeded-keys';

/**
 * The local KMS against AWS's answers (recorded responses and the API reference): each behaviour the emulator once
 * got wrong, with the text AWS sends where it is known.
 */
let dir: string;
let t: TestStack;
let kms: KMSClient;
/**
 * Keys with current imported material for the tests that are not about importing, seeded into the state before the
 * stack starts: each import makes the local KMS generate an RSA wrapping key pair (costly CPU), and
 * kms-contract.test.ts's import tests prove what an import leaves.
 */
let seeded: Record<'plain' | 'expiring' | 'multiRegion', ReturnType<typeof keySupply>>;
const seed = (stateDir: string, count: number, options: SeededKeyOptions) =>
  keySupply(
    seedExternalKeys(
      stateDir,
      join(stateDir, 'byok'),
      Array.from({ length: count }, () => options),
    ),
  );
const DAY = 86_400_000;
const in30Days = () => new Date(Date.now() + 30 * DAY);

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'keymat-aws-'));
  seeded = {
    plain: seed(dir, 3, {}),
    expiring: seed(dir, 2, { validTo: in30Days() }),
    multiRegion: seed(dir, 3, { multiRegion: true, description: 'the primary' }),
  };
  t = await startTestStack(undefined, dir);
  kms = t.kms();
});
afterAll(async () => {
  await t.close();
  rmSync(dir, { recursive: true, force: true });
});

const describeKey = async (keyId: string, client = kms) =>
  (await client.send(new DescribeKeyCommand({ KeyId: keyId }))).KeyMetadata!;
const rotations = async (keyId: string, client = kms) =>
  (await client.send(new ListKeyRotationsCommand({ KeyId: keyId, IncludeKeyMaterial: 'ALL_KEY_MATERIAL' })))
    .Rotations ?? [];

/** ImportKeyMaterial with exactly the members given (none added), as a user of the raw API sends it. */
async function rawImport(keyId: string, material: Buffer, members: Partial<ImportKeyMaterialCommandInput>) {
  const params = await kms.send(
    new GetParametersForImportCommand({
      KeyId: keyId,
      WrappingAlgorithm: 'RSAES_OAEP_SHA_256',
      WrappingKeySpec: 'RSA_2048',
    }),
  );
  const encrypted = publicEncrypt(
    {
      key: createPublicKey({ key: Buffer.from(params.PublicKey!), format: 'der', type: 'spki' }),
      padding: constants.RSA_PKCS1_OAEP_PADDING,
      oaepHash: 'sha256',
    },
    material,
  );
  return kms.send(
    new ImportKeyMaterialCommand({
      KeyId: keyId,
      ImportToken: params.ImportToken,
      EncryptedKeyMaterial: encrypted,
      ...members,
    }),
  );
}

describe('a deletion takes the material expiry away (1)', () => {
  it('drops ExpirationModel and ValidTo from DescribeKey and from the deleted material ListKeyRotations entry', async () => {
    const key = seeded.expiring.next();
    expect(await describeKey(key.keyId)).toMatchObject({ ExpirationModel: 'KEY_MATERIAL_EXPIRES' });
    expect((await describeKey(key.keyId)).ValidTo).toBeInstanceOf(Date);

    await kms.send(new DeleteImportedKeyMaterialCommand({ KeyId: key.keyId }));

    const meta = await describeKey(key.keyId);
    expect(meta.KeyState).toBe('PendingImport');
    expect(meta).not.toHaveProperty('ExpirationModel');
    expect(meta).not.toHaveProperty('ValidTo');
    const [entry] = await rotations(key.keyId);
    expect(entry).toMatchObject({ KeyMaterialId: key.keyMaterialId, ImportState: 'PENDING_IMPORT' });
    expect(entry).not.toHaveProperty('ExpirationModel');
    expect(entry).not.toHaveProperty('ValidTo');
  });

  it('keeps them under the keepExpiryOnDeletion fault, the other reading', async () => {
    const keptDir = mkdtempSync(join(tmpdir(), 'keymat-aws-kept-'));
    const key = seed(keptDir, 1, { validTo: in30Days() }).next();
    const kept = await startTestStack({ rules: [{ kind: 'keepExpiryOnDeletion' }] }, keptDir);
    try {
      const client = kept.kms();
      await client.send(new DeleteImportedKeyMaterialCommand({ KeyId: key.keyId }));
      const meta = await describeKey(key.keyId, client);
      expect(meta).toMatchObject({ KeyState: 'PendingImport', ExpirationModel: 'KEY_MATERIAL_EXPIRES' });
      expect(meta.ValidTo).toBeInstanceOf(Date);
      expect((await rotations(key.keyId, client))[0]).toMatchObject({
        ImportState: 'PENDING_IMPORT',
        ExpirationModel: 'KEY_MATERIAL_EXPIRES',
      });
    } finally {
      await kept.close();
      rmSync(keptDir, { recursive: true, force: true });
    }
  });

  it('gives them back with the reimport', async () => {
    const key = seeded.expiring.next();
    await kms.send(new DeleteImportedKeyMaterialCommand({ KeyId: key.keyId }));
    await importKeyMaterial(kms, key.keyId, loadMaterial(key.materialFile!));
    expect(await describeKey(key.keyId)).toMatchObject({
      KeyState: 'Enabled',
      ExpirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE',
    });
    expect(await describeKey(key.keyId)).not.toHaveProperty('ValidTo');
  });
});

describe('ImportKeyMaterial members as AWS checks them (2, 3)', () => {
  it('refuses an import with neither ExpirationModel nor ValidTo: the default model expires', async () => {
    const created = await kms.send(new CreateKeyCommand({ Origin: 'EXTERNAL' }));
    const keyId = created.KeyMetadata!.KeyId!;
    const err = await errorOf(() => rawImport(keyId, newKeyMaterial(), {}));
    expect(err.name).toBe('ValidationException');
    expect(err.message).toBe('A validTo date must be set if the ExpirationModel is KEY_MATERIAL_EXPIRES');
    expect((await describeKey(keyId)).KeyState).toBe('PendingImport');
    expect(await rotations(keyId)).toEqual([]);
  });

  it('accepts a ValidTo alone as KEY_MATERIAL_EXPIRES', async () => {
    const created = await kms.send(new CreateKeyCommand({ Origin: 'EXTERNAL' }));
    const keyId = created.KeyMetadata!.KeyId!;
    await rawImport(keyId, newKeyMaterial(), { ValidTo: new Date(Date.now() + DAY) });
    expect(await describeKey(keyId)).toMatchObject({ KeyState: 'Enabled', ExpirationModel: 'KEY_MATERIAL_EXPIRES' });
  });

  it('refuses a ValidTo with KEY_MATERIAL_DOES_NOT_EXPIRE', async () => {
    const created = await kms.send(new CreateKeyCommand({ Origin: 'EXTERNAL' }));
    const keyId = created.KeyMetadata!.KeyId!;
    const err = await errorOf(() =>
      rawImport(keyId, newKeyMaterial(), {
        ExpirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE',
        ValidTo: new Date(Date.now() + DAY),
      }),
    );
    expect(err.name).toBe('ValidationException');
    expect((await describeKey(keyId)).KeyState).toBe('PendingImport');
  });

  it('refuses a KeyMaterialId with ImportType NEW_KEY_MATERIAL', async () => {
    const key = seeded.plain.next();
    const err = await errorOf(() =>
      rawImport(key.keyId, newKeyMaterial(), {
        ImportType: 'NEW_KEY_MATERIAL',
        KeyMaterialId: key.keyMaterialId,
        ExpirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE',
      }),
    );
    expect(err.name).toBe('ValidationException');
    expect(err.message).toBe('KeyMaterialId can be specified only when ImportType is EXISTING_KEY_MATERIAL');
    expect((await rotations(key.keyId)).map((r) => r.KeyMaterialId)).toEqual([key.keyMaterialId]);
  });
});

describe('scheduled deletion of a multi-Region primary (4)', () => {
  it('makes a primary with replicas PendingReplicaDeletion with no DeletionDate, and can be cancelled', async () => {
    const primary = seeded.multiRegion.next();
    await kms.send(new ReplicateKeyCommand({ KeyId: primary.keyId, ReplicaRegion: 'eu-west-1' }));
    const scheduled = await kms.send(new ScheduleKeyDeletionCommand({ KeyId: primary.keyId, PendingWindowInDays: 7 }));
    expect(scheduled).toMatchObject({
      KeyId: primary.keyArn,
      KeyState: 'PendingReplicaDeletion',
      PendingWindowInDays: 7,
    });
    expect(scheduled).not.toHaveProperty('DeletionDate');
    const meta = await describeKey(primary.keyId);
    expect(meta).toMatchObject({ KeyState: 'PendingReplicaDeletion', PendingDeletionWindowInDays: 7 });
    expect(meta).not.toHaveProperty('DeletionDate');

    const err = await errorOf(() =>
      kms.send(new ReplicateKeyCommand({ KeyId: primary.keyId, ReplicaRegion: 'ap-south-1' })),
    );
    expect(err.name).toBe('KMSInvalidStateException');
    expect(err.message).toBe(`${primary.keyArn} is pending replica deletion.`);

    await kms.send(new CancelKeyDeletionCommand({ KeyId: primary.keyId }));
    expect((await describeKey(primary.keyId)).KeyState).toBe('Disabled');
  });

  it('gives a key without replicas PendingDeletion with a DeletionDate and no PendingDeletionWindowInDays', async () => {
    const key = seeded.multiRegion.next();
    const scheduled = await kms.send(new ScheduleKeyDeletionCommand({ KeyId: key.keyId, PendingWindowInDays: 7 }));
    expect(scheduled).toMatchObject({ KeyState: 'PendingDeletion', PendingWindowInDays: 7 });
    expect(scheduled.DeletionDate).toBeInstanceOf(Date);
    const meta = await describeKey(key.keyId);
    expect(meta.KeyState).toBe('PendingDeletion');
    expect(meta.DeletionDate).toBeInstanceOf(Date);
    expect(meta).not.toHaveProperty('PendingDeletionWindowInDays');
  });

  it('words a window out of range as KMS does', async () => {
    const key = seeded.plain.next();
    const err = await errorOf(() =>
      kms.send(new ScheduleKeyDeletionCommand({ KeyId: key.keyId, PendingWindowInDays: 5 })),
    );
    expect(err.message).toBe(
      "1 validation error detected: Value '5' at 'pendingWindowInDays' failed to satisfy constraint: Member must have value greater than or equal to 7",
    );
    expect((await describeKey(key.keyId)).KeyState).toBe('Enabled');
  });
});

describe('RotateKeyOnDemand (5)', () => {
  it('answers the key ARN', async () => {
    const created = await kms.send(new CreateKeyCommand({}));
    const rotated = await kms.send(new RotateKeyOnDemandCommand({ KeyId: created.KeyMetadata!.KeyId }));
    expect(rotated.KeyId).toBe(created.KeyMetadata!.Arn);
  });

  it('refuses a disabled key with DisabledException', async () => {
    const created = await kms.send(new CreateKeyCommand({}));
    const { KeyId, Arn } = created.KeyMetadata!;
    await kms.send(new DisableKeyCommand({ KeyId }));
    const err = await errorOf(() => kms.send(new RotateKeyOnDemandCommand({ KeyId })));
    expect(err.name).toBe('DisabledException');
    expect(err.message).toBe(`${Arn} is disabled.`);
    expect(await rotations(KeyId!)).toHaveLength(1);
  });

  it(`refuses rotation ${MAX_ON_DEMAND_ROTATIONS + 1} with LimitExceededException`, async () => {
    const created = await kms.send(new CreateKeyCommand({}));
    const keyId = created.KeyMetadata!.KeyId!;
    for (let i = 0; i < MAX_ON_DEMAND_ROTATIONS; i++) await kms.send(new RotateKeyOnDemandCommand({ KeyId: keyId }));
    const before = await describeKey(keyId);
    const err = await errorOf(() => kms.send(new RotateKeyOnDemandCommand({ KeyId: keyId })));
    expect(err.name).toBe('LimitExceededException');
    expect(err.message).toBe(
      `The on-demand rotations limit has been reached for the given keyId. No more on-demand rotations can be performed for this key: ${created.KeyMetadata!.Arn}`,
    );
    expect((await describeKey(keyId)).CurrentKeyMaterialId).toBe(before.CurrentKeyMaterialId);
    expect(await rotations(keyId)).toHaveLength(MAX_ON_DEMAND_ROTATIONS + 1);
  });
});

describe('ReplicateKey (6)', () => {
  it('answers the replica policy, no empty tag list, no current material yet, and an empty description', async () => {
    // A primary seeded with the Description 'the primary', which a replica does not take.
    const { keyId } = seeded.multiRegion.next();
    const replicated = await kms.send(new ReplicateKeyCommand({ KeyId: keyId, ReplicaRegion: 'eu-west-1' }));
    expect(JSON.parse(replicated.ReplicaPolicy!)).toMatchObject({ Version: '2012-10-17' });
    expect(replicated).not.toHaveProperty('ReplicaTags');
    expect(replicated.ReplicaKeyMetadata).toMatchObject({ KeyState: 'Creating', Description: '' });
    expect(replicated.ReplicaKeyMetadata).not.toHaveProperty('CurrentKeyMaterialId');
    expect(replicated.ReplicaKeyMetadata).not.toHaveProperty('ExpirationModel');

    const tagged = await kms.send(
      new ReplicateKeyCommand({
        KeyId: keyId,
        ReplicaRegion: 'ap-south-1',
        Description: 'replica',
        Tags: [{ TagKey: 'team', TagValue: 'keys' }],
      }),
    );
    expect(tagged.ReplicaTags).toEqual([{ TagKey: 'team', TagValue: 'keys' }]);
    expect(tagged.ReplicaKeyMetadata?.Description).toBe('replica');
  });
});

describe('tags (7)', () => {
  const tags = async (keyId: string) => (await kms.send(new ListResourceTagsCommand({ KeyId: keyId }))).Tags;
  const tagged = async () => {
    const created = await kms.send(
      new CreateKeyCommand({
        Tags: [
          { TagKey: 'a', TagValue: '1' },
          { TagKey: 'b', TagValue: '2' },
        ],
      }),
    );
    return created.KeyMetadata!.KeyId!;
  };

  it('keeps an updated tag in its place', async () => {
    const keyId = await tagged();
    await kms.send(new TagResourceCommand({ KeyId: keyId, Tags: [{ TagKey: 'a', TagValue: 'one' }] }));
    expect(await tags(keyId)).toEqual([
      { TagKey: 'a', TagValue: 'one' },
      { TagKey: 'b', TagValue: '2' },
    ]);
  });

  const many = (n: number): Tag[] => Array.from({ length: n }, (_, i) => ({ TagKey: `k${i}`, TagValue: 'v' }));
  it.each([
    [
      'the same key twice',
      [
        { TagKey: 'c', TagValue: '1' },
        { TagKey: 'c', TagValue: '2' },
      ],
      'Duplicate tag keys',
    ],
    ['the reserved aws: prefix', [{ TagKey: 'AWS:owner', TagValue: 'x' }], 'Tags beginning with aws: are reserved'],
    ['more than 50 tags on the key', many(49), 'Too many tags'],
  ])('refuses %s with TagException in KMS words, and changes nothing', async (_what, added, message) => {
    const keyId = await tagged();
    const err = await errorOf(() => kms.send(new TagResourceCommand({ KeyId: keyId, Tags: added })));
    expect(err).toMatchObject({ name: 'TagException', message });
    expect(await tags(keyId)).toEqual([
      { TagKey: 'a', TagValue: '1' },
      { TagKey: 'b', TagValue: '2' },
    ]);
  });

  it('refuses more than 50 tags on CreateKey with TagException in KMS words', async () => {
    const err = await errorOf(() => kms.send(new CreateKeyCommand({ Tags: many(51) })));
    expect(err).toMatchObject({ name: 'TagException', message: 'Too many tags' });
  });

  it('refuses an alias name without its prefix in KMS words', async () => {
    const keyId = await tagged();
    const err = await errorOf(() => kms.send(new CreateAliasCommand({ AliasName: 'retired', TargetKeyId: keyId })));
    expect(err).toMatchObject({
      name: 'ValidationException',
      message:
        'Alias must start with the prefix "alias/". Please see https://docs.aws.amazon.com/kms/latest/developerguide/kms-alias.html',
    });
  });

  it('words a tag key that is too long as KMS does, naming its position', async () => {
    const keyId = await tagged();
    const long = 'k'.repeat(129);
    const err = await errorOf(() =>
      kms.send(
        new TagResourceCommand({
          KeyId: keyId,
          Tags: [
            { TagKey: 'ok', TagValue: '' },
            { TagKey: long, TagValue: '' },
          ],
        }),
      ),
    );
    expect(err.name).toBe('ValidationException');
    expect(err.message).toBe(
      `1 validation error detected: Value '${long}' at 'tags.2.member.tagKey' failed to satisfy constraint: Member must have length less than or equal to 128`,
    );
    expect(await tags(keyId)).toHaveLength(2);
  });
});

describe('error texts as AWS words them (8)', () => {
  it('says "is pending deletion." and "is pending import."', async () => {
    const created = await kms.send(new CreateKeyCommand({ Origin: 'EXTERNAL' }));
    const { KeyId, Arn } = created.KeyMetadata!;
    await kms.send(new ScheduleKeyDeletionCommand({ KeyId, PendingWindowInDays: 7 }));
    const pending = await errorOf(() => kms.send(new DisableKeyCommand({ KeyId })));
    expect(pending.name).toBe('KMSInvalidStateException');
    expect(pending.message).toBe(`${Arn} is pending deletion.`);

    const imported = seeded.plain.next();
    await kms.send(new DeleteImportedKeyMaterialCommand({ KeyId: imported.keyId }));
    const err = await errorOf(() => kms.send(new DisableKeyCommand({ KeyId: imported.keyId })));
    expect(err.message).toBe(`${imported.keyArn} is pending import.`);
  });

  it('names the origin without adding what the operation needs', async () => {
    const created = await kms.send(new CreateKeyCommand({}));
    const { KeyId, Arn } = created.KeyMetadata!;
    const err = await errorOf(() => kms.send(new DeleteImportedKeyMaterialCommand({ KeyId })));
    expect(err.name).toBe('UnsupportedOperationException');
    expect(err.message).toBe(`${Arn} origin is AWS_KMS which is not valid for this operation.`);
  });

  it.each([
    ['too short', 'f'.repeat(63), 'Member must have length greater than or equal to 64'],
    ['too long', 'f'.repeat(65), 'Member must have length less than or equal to 64'],
    ['not lowercase hex', 'F'.repeat(64), 'Member must satisfy regular expression pattern: ^[a-f0-9]+$'],
  ])('refuses a KeyMaterialId %s, naming the constraint it fails', async (_case, keyMaterialId, constraint) => {
    const { KeyId } = (await kms.send(new CreateKeyCommand({ Origin: 'EXTERNAL' }))).KeyMetadata!;
    const err = await errorOf(() =>
      kms.send(new DeleteImportedKeyMaterialCommand({ KeyId, KeyMaterialId: keyMaterialId })),
    );
    expect(err.name).toBe('ValidationException');
    expect(err.message).toBe(
      `1 validation error detected: Value '${keyMaterialId}' at 'keyMaterialId' failed to satisfy constraint: ${constraint}`,
    );
    expect((await kms.send(new DescribeKeyCommand({ KeyId }))).KeyMetadata?.KeyState).toBe('PendingImport');
  });

  it('sends InvalidCiphertextException with no message', async () => {
    const response = await fetch(t.stack.endpoint, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-amz-json-1.1',
        'x-amz-target': 'TrentService.Decrypt',
        authorization:
          'AWS4-HMAC-SHA256 Credential=local/20250101/us-east-1/kms/aws4_request, SignedHeaders=host, Signature=0',
      },
      body: JSON.stringify({ CiphertextBlob: Buffer.from('not a ciphertext').toString('base64') }),
    });
    expect(response.status).toBe(400);
    expect(await response.json()).toEqual({ __type: 'InvalidCiphertextException' });
    const err = await errorOf(() => kms.send(new DecryptCommand({ CiphertextBlob: Buffer.from('nope') })));
    expect(err.name).toBe('InvalidCiphertextException');
  });
});
