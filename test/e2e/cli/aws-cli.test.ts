import { constants, createPublicKey, publicEncrypt, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestStack, type TestStack } from '../../helpers/local-stack';
import { awsKmsCli } from '../../helpers/aws-cli';

/** The AWS CLI (`aws`, installed by .ci/run when missing) against the local KMS, as a user would point it. */
let t: TestStack;
let dir: string;
beforeAll(async () => {
  t = await startTestStack();
  dir = mkdtempSync(join(tmpdir(), 'keymat-awscli-'));
});
afterAll(async () => {
  await t.close();
  rmSync(dir, { recursive: true, force: true });
});

const aws = (...args: string[]) => awsKmsCli(t.stack.endpoint, dir)(...args);

it('describes, imports into and deletes material from a key with the AWS CLI', async () => {
  const created = (await aws('create-key', '--origin', 'EXTERNAL')).KeyMetadata as { KeyId: string };
  const params = await aws(
    'get-parameters-for-import',
    '--key-id',
    created.KeyId,
    '--wrapping-algorithm',
    'RSAES_OAEP_SHA_256',
    '--wrapping-key-spec',
    'RSA_2048',
  );
  const publicKey = createPublicKey({
    key: Buffer.from(params.PublicKey as string, 'base64'),
    format: 'der',
    type: 'spki',
  });
  const wrapped = publicEncrypt(
    { key: publicKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' },
    randomBytes(32),
  );
  writeFileSync(join(dir, 'material.bin'), wrapped);
  writeFileSync(join(dir, 'token.bin'), Buffer.from(params.ImportToken as string, 'base64'));
  // With no expiry, KMS's default model (KEY_MATERIAL_EXPIRES) needs a ValidTo: refused as the SDK sees it.
  await expect(
    aws(
      'import-key-material',
      '--key-id',
      created.KeyId,
      '--encrypted-key-material',
      `fileb://${join(dir, 'material.bin')}`,
      '--import-token',
      `fileb://${join(dir, 'token.bin')}`,
    ),
  ).rejects.toThrow('A validTo date must be set if the ExpirationModel is KEY_MATERIAL_EXPIRES');
  await aws(
    'import-key-material',
    '--key-id',
    created.KeyId,
    '--encrypted-key-material',
    `fileb://${join(dir, 'material.bin')}`,
    '--import-token',
    `fileb://${join(dir, 'token.bin')}`,
    '--expiration-model',
    'KEY_MATERIAL_DOES_NOT_EXPIRE',
  );
  expect(((await aws('describe-key', '--key-id', created.KeyId)).KeyMetadata as { KeyState: string }).KeyState).toBe(
    'Enabled',
  );
  await aws('delete-imported-key-material', '--key-id', created.KeyId);
  const after = (await aws('describe-key', '--key-id', created.KeyId)).KeyMetadata as Record<string, unknown>;
  expect(after.KeyState).toBe('PendingImport');
  expect(after).not.toHaveProperty('ExpirationModel');
  expect(after).not.toHaveProperty('ValidTo');
  expect(t.stack.requestLog.read().map((e) => e.operation)).toEqual([
    'CreateKey',
    'GetParametersForImport',
    'ImportKeyMaterial',
    'ImportKeyMaterial',
    'DescribeKey',
    'DeleteImportedKeyMaterial',
    'DescribeKey',
  ]);
});
