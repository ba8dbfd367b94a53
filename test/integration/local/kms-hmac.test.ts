import {
  CreateAliasCommand,
  CreateKeyCommand,
  DescribeKeyCommand,
  DisableKeyCommand,
  EnableKeyCommand,
  EncryptCommand,
  GenerateMacCommand,
  GetKeyLastUsageCommand,
  GetParametersForImportCommand,
  KMSClient,
  ListKeyRotationsCommand,
  RotateKeyOnDemandCommand,
  VerifyMacCommand,
  type MacAlgorithmSpec,
} from '@aws-sdk/client-kms';
import { createHmac, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalStack } from '../../../local/services/server';
import { errorOf, startTestStack, type TestStack } from '../../helpers/local-stack';
import { awsKmsCli } from '../../helpers/aws-cli';
import { ATTESTATION_KEY_ALIAS, DEFAULT_REGION, LOCAL_CREDENTIALS } from '../../../local/constants';

/** HMAC keys in the local KMS, through the real SDK client: KMS's shapes, errors and real HMAC cryptography. */
let t: TestStack;
let kms: KMSClient;

beforeAll(async () => {
  t = await startTestStack();
  kms = t.kms({ maxAttempts: 1 });
});
afterAll(() => t.close());

const SPECS = [
  ['HMAC_224', 'HMAC_SHA_224', 'sha224', 28],
  ['HMAC_256', 'HMAC_SHA_256', 'sha256', 32],
  ['HMAC_384', 'HMAC_SHA_384', 'sha384', 48],
  ['HMAC_512', 'HMAC_SHA_512', 'sha512', 64],
] as const;

async function hmacKey(spec: (typeof SPECS)[number][0] = 'HMAC_256'): Promise<string> {
  const created = await kms.send(new CreateKeyCommand({ KeySpec: spec, KeyUsage: 'GENERATE_VERIFY_MAC' }));
  return created.KeyMetadata!.Arn!;
}

async function symmetricKey(): Promise<string> {
  return (await kms.send(new CreateKeyCommand({}))).KeyMetadata!.Arn!;
}

/** The key's secret as the emulator keeps it, to check its MACs against Node's own HMAC. */
const secretOf = (arn: string): Buffer => Buffer.from(t.stack.kms.state.keys[arn]!.materials[0]!.material!, 'base64');

const lastUsage = async (arn: string) =>
  (await kms.send(new GetKeyLastUsageCommand({ KeyId: arn }))).KeyLastUsage?.Operation;

describe('CreateKey and DescribeKey', () => {
  it.each(SPECS)('creates a %s key with a secret of its size', async (spec, algorithm, _hash, bytes) => {
    const arn = await hmacKey(spec);
    const meta = (await kms.send(new DescribeKeyCommand({ KeyId: arn }))).KeyMetadata!;
    expect(meta).toMatchObject({
      KeySpec: spec,
      KeyUsage: 'GENERATE_VERIFY_MAC',
      MacAlgorithms: [algorithm],
      Origin: 'AWS_KMS',
      KeyState: 'Enabled',
    });
    expect(meta.EncryptionAlgorithms).toBeUndefined();
    expect(secretOf(arn)).toHaveLength(bytes);
  });

  it('refuses an HMAC key spec with KeyUsage ENCRYPT_DECRYPT', async () => {
    const err = await errorOf(() =>
      kms.send(new CreateKeyCommand({ KeySpec: 'HMAC_256', KeyUsage: 'ENCRYPT_DECRYPT' })),
    );
    expect(err.name).toBe('ValidationException');
    expect(err.message).toContain('KeyUsage ENCRYPT_DECRYPT is not valid for KeySpec HMAC_256');
  });

  it('refuses an HMAC key with Origin EXTERNAL', async () => {
    const before = Object.keys(t.stack.kms.state.keys).length;
    const err = await errorOf(() =>
      kms.send(new CreateKeyCommand({ KeySpec: 'HMAC_256', KeyUsage: 'GENERATE_VERIFY_MAC', Origin: 'EXTERNAL' })),
    );
    expect(err.name).toBe('UnsupportedOperationException');
    expect(Object.keys(t.stack.kms.state.keys)).toHaveLength(before);
  });
});

describe('GenerateMac and VerifyMac', () => {
  it.each(SPECS)('MACs with %s exactly as HMAC does, and verifies the MAC', async (spec, algorithm, hash) => {
    const arn = await hmacKey(spec);
    const message = Buffer.from('keymat-attestation/1\nstart');
    const generated = await kms.send(new GenerateMacCommand({ KeyId: arn, Message: message, MacAlgorithm: algorithm }));
    expect(generated.KeyId).toBe(arn);
    expect(generated.MacAlgorithm).toBe(algorithm);
    const expected = createHmac(hash, secretOf(arn)).update(message).digest();
    expect(Buffer.from(generated.Mac!)).toEqual(expected);
    const verified = await kms.send(
      new VerifyMacCommand({ KeyId: arn, Message: message, Mac: generated.Mac, MacAlgorithm: algorithm }),
    );
    expect(verified).toMatchObject({ KeyId: arn, MacValid: true, MacAlgorithm: algorithm });
  });

  it('takes the key by alias', async () => {
    const arn = await hmacKey();
    await kms.send(new CreateAliasCommand({ AliasName: 'alias/hmac-by-alias', TargetKeyId: arn }));
    const generated = await kms.send(
      new GenerateMacCommand({ KeyId: 'alias/hmac-by-alias', Message: Buffer.from('m'), MacAlgorithm: 'HMAC_SHA_256' }),
    );
    expect(generated.KeyId).toBe(arn);
  });

  it('refuses a MAC of another message with KMSInvalidMacException', async () => {
    const arn = await hmacKey();
    const { Mac } = await kms.send(
      new GenerateMacCommand({ KeyId: arn, Message: Buffer.from('approve'), MacAlgorithm: 'HMAC_SHA_256' }),
    );
    const err = await errorOf(() =>
      kms.send(
        new VerifyMacCommand({ KeyId: arn, Message: Buffer.from('approvE'), Mac, MacAlgorithm: 'HMAC_SHA_256' }),
      ),
    );
    expect(err.name).toBe('KMSInvalidMacException');
    expect(err.$metadata?.httpStatusCode).toBe(400);
  });

  it('refuses a MAC made by another key with KMSInvalidMacException', async () => {
    const [a, b] = [await hmacKey(), await hmacKey()];
    const message = Buffer.from('approve');
    const { Mac } = await kms.send(
      new GenerateMacCommand({ KeyId: a, Message: message, MacAlgorithm: 'HMAC_SHA_256' }),
    );
    const err = await errorOf(() =>
      kms.send(new VerifyMacCommand({ KeyId: b, Message: message, Mac, MacAlgorithm: 'HMAC_SHA_256' })),
    );
    expect(err.name).toBe('KMSInvalidMacException');
  });

  it('refuses a MAC of another length with KMSInvalidMacException', async () => {
    const arn = await hmacKey();
    const err = await errorOf(() =>
      kms.send(
        new VerifyMacCommand({
          KeyId: arn,
          Message: Buffer.from('approve'),
          Mac: randomBytes(5),
          MacAlgorithm: 'HMAC_SHA_256',
        }),
      ),
    );
    expect(err.name).toBe('KMSInvalidMacException');
  });

  it('refuses a symmetric encryption key with InvalidKeyUsageException', async () => {
    const arn = await symmetricKey();
    const err = await errorOf(() =>
      kms.send(new GenerateMacCommand({ KeyId: arn, Message: Buffer.from('m'), MacAlgorithm: 'HMAC_SHA_256' })),
    );
    expect(err.name).toBe('InvalidKeyUsageException');
    expect(err.message).toContain('GenerateMac needs an HMAC key');
    expect(await lastUsage(arn)).toBeUndefined();
  });

  it('refuses an algorithm the key spec does not support with InvalidKeyUsageException', async () => {
    const arn = await hmacKey('HMAC_256');
    const err = await errorOf(() =>
      kms.send(new GenerateMacCommand({ KeyId: arn, Message: Buffer.from('m'), MacAlgorithm: 'HMAC_SHA_512' })),
    );
    expect(err.name).toBe('InvalidKeyUsageException');
    expect(err.message).toContain('its KeySpec HMAC_256 supports HMAC_SHA_256 only');
    expect(await lastUsage(arn)).toBeUndefined();
  });

  it('refuses an algorithm KMS does not know with ValidationException', async () => {
    const arn = await hmacKey();
    const err = await errorOf(() =>
      kms.send(
        new GenerateMacCommand({
          KeyId: arn,
          Message: Buffer.from('m'),
          MacAlgorithm: 'HMAC_MD5' as MacAlgorithmSpec,
        }),
      ),
    );
    expect(err.name).toBe('ValidationException');
  });

  it('refuses a disabled key with DisabledException', async () => {
    const arn = await hmacKey();
    await kms.send(new DisableKeyCommand({ KeyId: arn }));
    const err = await errorOf(() =>
      kms.send(new GenerateMacCommand({ KeyId: arn, Message: Buffer.from('m'), MacAlgorithm: 'HMAC_SHA_256' })),
    );
    expect(err.name).toBe('DisabledException');
    expect(await lastUsage(arn)).toBeUndefined();
    await kms.send(new EnableKeyCommand({ KeyId: arn }));
  });

  it.each([
    ['an empty message', 0],
    ['a message over 4096 bytes', 4097],
  ])('refuses %s with ValidationException', async (_what, length) => {
    const constraint = length < 1 ? 'greater than or equal to 1' : 'less than or equal to 4096';
    const arn = await hmacKey();
    const err = await errorOf(() =>
      kms.send(new GenerateMacCommand({ KeyId: arn, Message: Buffer.alloc(length), MacAlgorithm: 'HMAC_SHA_256' })),
    );
    expect(err.name).toBe('ValidationException');
    expect(err.message).toContain(`at 'message' failed to satisfy constraint: Member must have length ${constraint}`);
    expect(await lastUsage(arn)).toBeUndefined();
  });

  it('accepts a message of 4096 bytes', async () => {
    const arn = await hmacKey();
    const { Mac } = await kms.send(
      new GenerateMacCommand({ KeyId: arn, Message: Buffer.alloc(4096, 1), MacAlgorithm: 'HMAC_SHA_256' }),
    );
    expect(Mac).toHaveLength(32);
  });

  it('records the last use, and logs the calls without the message or the MAC', async () => {
    const arn = await hmacKey();
    const message = Buffer.from(`secret-message-${randomBytes(8).toString('hex')}`);
    const { Mac } = await kms.send(
      new GenerateMacCommand({ KeyId: arn, Message: message, MacAlgorithm: 'HMAC_SHA_256' }),
    );
    expect(await lastUsage(arn)).toBe('GenerateMac');
    await kms.send(new VerifyMacCommand({ KeyId: arn, Message: message, Mac, MacAlgorithm: 'HMAC_SHA_256' }));
    expect(await lastUsage(arn)).toBe('VerifyMac');
    const entries = t.stack.requestLog.read().filter((e) => e.keyId === arn);
    expect(entries.map((e) => e.operation)).toEqual(
      expect.arrayContaining(['CreateKey', 'GenerateMac', 'VerifyMac', 'GetKeyLastUsage']),
    );
    const log = JSON.stringify(t.stack.requestLog.read());
    expect(log).not.toContain(message.toString('base64'));
    expect(log).not.toContain(message.toString());
    expect(log).not.toContain(Buffer.from(Mac!).toString('base64'));
  });
});

describe('operations an HMAC key refuses', () => {
  it('refuses Encrypt with InvalidKeyUsageException', async () => {
    const arn = await hmacKey();
    const err = await errorOf(() => kms.send(new EncryptCommand({ KeyId: arn, Plaintext: Buffer.from('x') })));
    expect(err.name).toBe('InvalidKeyUsageException');
    expect(await lastUsage(arn)).toBeUndefined();
  });

  it('refuses GetParametersForImport with UnsupportedOperationException', async () => {
    const arn = await hmacKey();
    const err = await errorOf(() =>
      kms.send(
        new GetParametersForImportCommand({
          KeyId: arn,
          WrappingAlgorithm: 'RSAES_OAEP_SHA_256',
          WrappingKeySpec: 'RSA_2048',
        }),
      ),
    );
    expect(err.name).toBe('UnsupportedOperationException');
    expect(Object.values(t.stack.kms.state.importTokens).some((token) => token.keyArn === arn)).toBe(false);
  });

  it('refuses RotateKeyOnDemand with UnsupportedOperationException', async () => {
    const arn = await hmacKey();
    const err = await errorOf(() => kms.send(new RotateKeyOnDemandCommand({ KeyId: arn })));
    expect(err.name).toBe('UnsupportedOperationException');
    const rotations = await kms.send(
      new ListKeyRotationsCommand({ KeyId: arn, IncludeKeyMaterial: 'ALL_KEY_MATERIAL' }),
    );
    expect(rotations.Rotations).toHaveLength(1);
  });
});

describe('the attestation key', () => {
  const internalClient = (stack: LocalStack): KMSClient =>
    new KMSClient({
      endpoint: stack.endpoint,
      region: DEFAULT_REGION,
      credentials: stack.internalAccess.credentials,
      maxAttempts: 1,
    });
  const mac = (client: KMSClient, keyId: string) =>
    client.send(new GenerateMacCommand({ KeyId: keyId, Message: Buffer.from('start'), MacAlgorithm: 'HMAC_SHA_256' }));

  it('is an HMAC_256 key found by its alias', async () => {
    const meta = (await kms.send(new DescribeKeyCommand({ KeyId: ATTESTATION_KEY_ALIAS }))).KeyMetadata!;
    expect(meta).toMatchObject({ KeySpec: 'HMAC_256', KeyUsage: 'GENERATE_VERIFY_MAC', KeyState: 'Enabled' });
    expect(meta.Arn).toBe(t.stack.internalAccess.attestationKeyArn);
  });

  it('refuses GenerateMac to the public local credentials with AccessDeniedException naming the caller', async () => {
    const err = await errorOf(() => mac(kms, ATTESTATION_KEY_ALIAS));
    expect(err.name).toBe('AccessDeniedException');
    expect(err.message).toContain(
      `User: arn:aws:iam::111122223333:user/${LOCAL_CREDENTIALS.accessKeyId} is not authorized to perform: kms:GenerateMac`,
    );
  });

  it('refuses VerifyMac to anyone but keymat', async () => {
    const { Mac } = await mac(internalClient(t.stack), ATTESTATION_KEY_ALIAS);
    const bob = new KMSClient({
      endpoint: t.stack.endpoint,
      region: DEFAULT_REGION,
      credentials: { accessKeyId: 'bob', secretAccessKey: 'x' },
      maxAttempts: 1,
    });
    const err = await errorOf(() =>
      bob.send(
        new VerifyMacCommand({
          KeyId: ATTESTATION_KEY_ALIAS,
          Message: Buffer.from('start'),
          Mac,
          MacAlgorithm: 'HMAC_SHA_256',
        }),
      ),
    );
    expect(err.name).toBe('AccessDeniedException');
    expect(err.message).toContain('user/bob is not authorized to perform: kms:VerifyMac');
  });

  it('MACs for keymat, whose credential is not the public one and is kept mode 0600', async () => {
    expect(t.stack.internalAccess.credentials.accessKeyId).not.toBe(LOCAL_CREDENTIALS.accessKeyId);
    const { Mac } = await mac(internalClient(t.stack), t.stack.internalAccess.attestationKeyArn);
    expect(Mac).toHaveLength(32);
    expect(statSync(join(t.stateDir, 'internal-access-key')).mode & 0o777).toBe(0o600);
  });

  it('is found again, with the same credential, when the state folder starts again', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'keymat-attestation-'));
    try {
      const first = await LocalStack.start({ stateDir: dir });
      const access = first.internalAccess;
      const { Mac } = await mac(internalClient(first), access.attestationKeyArn);
      await first.close();
      const second = await LocalStack.start({ stateDir: dir });
      try {
        expect(second.internalAccess).toEqual(access);
        expect(Object.keys(second.kms.state.keys)).toEqual([access.attestationKeyArn]);
        expect((await mac(internalClient(second), access.attestationKeyArn)).Mac).toEqual(Mac);
      } finally {
        await second.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('the AWS CLI', () => {
  it('generates and verifies a MAC with aws kms generate-mac and verify-mac', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'keymat-awscli-mac-'));
    try {
      const arn = await hmacKey();
      writeFileSync(join(dir, 'message.bin'), 'attest me');
      const aws = awsKmsCli(t.stack.endpoint, dir);
      const message = `fileb://${join(dir, 'message.bin')}`;
      const generated = await aws(
        'generate-mac',
        '--key-id',
        arn,
        '--message',
        message,
        '--mac-algorithm',
        'HMAC_SHA_256',
      );
      expect(generated.Mac).toBe(createHmac('sha256', secretOf(arn)).update('attest me').digest('base64'));
      writeFileSync(join(dir, 'mac.bin'), Buffer.from(generated.Mac as string, 'base64'));
      const verified = await aws(
        'verify-mac',
        '--key-id',
        arn,
        '--message',
        message,
        '--mac',
        `fileb://${join(dir, 'mac.bin')}`,
        '--mac-algorithm',
        'HMAC_SHA_256',
      );
      expect(verified).toMatchObject({ KeyId: arn, MacValid: true });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
