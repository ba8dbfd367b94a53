import {
  createCipheriv,
  createDecipheriv,
  createHash,
  createHmac,
  generateKeyPair,
  randomBytes,
  timingSafeEqual,
} from 'node:crypto';
import { promisify } from 'node:util';
import { unwrapKeyMaterial } from '../../core/key-wrap';
import { KmsError, lengthConstraint, validation } from './errors';
import { HMAC_KEY_SPECS, currentMaterial, type ImportTokenRecord, type KeyRecord } from './model';
import { accessDenied, type Keys } from './keys';
import { blob, enumMember, type CallContext, type CallRecord, type Json, type OperationTable } from './wire';

/**
 * The emulator's cryptography: material ids, the RSA wrapping keys of GetParametersForImport (the unwrap itself is
 * core/key-wrap.ts),
 * Encrypt/Decrypt with AES-256-GCM under a key's material, and GenerateMac/VerifyMac with HMAC under an HMAC key's.
 */

const generateKeyPairAsync = promisify(generateKeyPair);

/** Symmetric key material is 256 bits. */
export const MATERIAL_BYTES = 32;
const WRAPPING_KEY_BITS = { RSA_2048: 2048, RSA_3072: 3072, RSA_4096: 4096 } as const;
export type WrappingKeySpec = keyof typeof WRAPPING_KEY_BITS;
/** The first bytes of every local ciphertext, so a foreign blob is refused before anything is parsed. */
const CIPHERTEXT_MAGIC = Buffer.from('KMT1');
const IV_BYTES = 12;
const TAG_BYTES = 16;
const MATERIAL_ID_BYTES = 32;

/** KMS derives a material's id from the key and the material, so reimporting the same material yields the same id. */
export const materialId = (keyId: string, material: Buffer): string =>
  createHash('sha256').update(keyId).update(material).digest('hex');

/** Fresh material, as KMS generates for an AWS_KMS-origin key: 256 bits, or `bytes` for an HMAC key. */
export const generateMaterial = (bytes: number = MATERIAL_BYTES): Buffer => randomBytes(bytes);

const MAC_ALGORITHMS = Object.values(HMAC_KEY_SPECS).map((s) => s.algorithm);
/** KMS's bounds on GenerateMac's and VerifyMac's Message, and on VerifyMac's Mac. */
const MAX_MESSAGE_BYTES = 4096;
const MAX_MAC_BYTES = 6144;

export const isWrappingKeySpec = (value: unknown): value is WrappingKeySpec =>
  typeof value === 'string' && value in WRAPPING_KEY_BITS;

/** A new RSA wrapping key pair: the public key as DER for the response, the private key as PEM for the token. */
export async function newWrappingKeyPair(spec: WrappingKeySpec): Promise<{ publicKey: Buffer; privateKeyPem: string }> {
  const { publicKey, privateKey } = await generateKeyPairAsync('rsa', {
    modulusLength: WRAPPING_KEY_BITS[spec],
    publicKeyEncoding: { type: 'spki', format: 'der' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  return { publicKey, privateKeyPem: privateKey };
}

/** Unwraps imported material with the import token's private key and the algorithm the token was made for. */
export function unwrapMaterial(token: ImportTokenRecord, encrypted: Buffer): Buffer {
  try {
    return unwrapKeyMaterial(token.privateKeyPem, encrypted, token.wrappingAlgorithm);
  } catch (err) {
    throw Object.assign(new KmsError('InvalidCiphertextException'), { cause: err });
  }
}

/** The encryption context as additional authenticated data: the same pairs in any order give the same bytes. */
function encryptionContext(value: unknown): Buffer {
  if (value === undefined) return Buffer.alloc(0);
  if (typeof value !== 'object' || value === null) {
    throw new KmsError('SerializationException', 'EncryptionContext must be a map');
  }
  const sorted = Object.entries(value).sort(([a], [b]) => a.localeCompare(b));
  return Buffer.from(JSON.stringify(sorted));
}

/** A local ciphertext's parts: magic, key id length and key id, material id, IV, tag, then the encrypted bytes. */
interface Envelope {
  keyId: string;
  keyMaterialId: string;
  iv: Buffer;
  tag: Buffer;
  encrypted: Buffer;
}

/** KMS answers a ciphertext it cannot open with the error name alone, no message. */
const invalidCiphertext = (): KmsError => new KmsError('InvalidCiphertextException');

function openEnvelope(data: Buffer): Envelope {
  if (data.length < 5 || !data.subarray(0, 4).equals(CIPHERTEXT_MAGIC)) throw invalidCiphertext();
  const idLength = data[4] ?? 0;
  let at = 5;
  const keyId = data.subarray(at, (at += idLength)).toString();
  const keyMaterialId = data.subarray(at, (at += MATERIAL_ID_BYTES)).toString('hex');
  const iv = data.subarray(at, (at += IV_BYTES));
  const tag = data.subarray(at, (at += TAG_BYTES));
  if (data.length < at) throw invalidCiphertext();
  return { keyId, keyMaterialId, iv, tag, encrypted: data.subarray(at) };
}

/** Encrypt and Decrypt under a key's material. */
export function cryptoOperations(keys: Keys): OperationTable {
  const encrypt = (body: Json, ctx: CallContext, record: CallRecord): Json => {
    const key = keys.resolve(body.KeyId, ctx, record, true);
    keys.requireEncryptionKey(key, 'Encrypt');
    keys.requireUsable(key);
    const plaintext = blob(body.Plaintext, 'plaintext');
    if (plaintext.length < 1 || plaintext.length > 4096) {
      throw validation('plaintext', '…', lengthConstraint(plaintext.length, 1, 4096));
    }
    const material = currentMaterial(key);
    if (!material?.material) throw new KmsError('KMSInvalidStateException', `${key.arn} has no usable key material`);
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', Buffer.from(material.material, 'base64'), iv);
    cipher.setAAD(encryptionContext(body.EncryptionContext));
    const encrypted = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    const keyIdBytes = Buffer.from(key.keyId);
    const ciphertext = Buffer.concat([
      CIPHERTEXT_MAGIC,
      Buffer.from([keyIdBytes.length]),
      keyIdBytes,
      Buffer.from(material.keyMaterialId, 'hex'),
      iv,
      cipher.getAuthTag(),
      encrypted,
    ]);
    key.lastUsage = { operation: 'Encrypt', timestamp: ctx.now, requestId: ctx.requestId };
    return { CiphertextBlob: ciphertext.toString('base64'), KeyId: key.arn, EncryptionAlgorithm: 'SYMMETRIC_DEFAULT' };
  };

  const decrypt = (body: Json, ctx: CallContext, record: CallRecord): Json => {
    const envelope = openEnvelope(blob(body.CiphertextBlob, 'ciphertextBlob'));
    // Without a KeyId, the ciphertext names its key; with one, it must be that key (aliases allowed).
    const key =
      body.KeyId === undefined
        ? keys.resolve(envelope.keyId, ctx, record, false)
        : keys.resolve(body.KeyId, ctx, record, true);
    keys.requireEncryptionKey(key, 'Decrypt');
    if (key.keyId !== envelope.keyId) {
      throw new KmsError(
        'IncorrectKeyException',
        'The key ID in the request does not identify a KMS key that can perform this operation.',
      );
    }
    keys.requireUsable(key);
    const material = materialFor(key, envelope.keyMaterialId);
    try {
      const decipher = createDecipheriv('aes-256-gcm', Buffer.from(material, 'base64'), envelope.iv);
      decipher.setAAD(encryptionContext(body.EncryptionContext));
      decipher.setAuthTag(envelope.tag);
      const plaintext = Buffer.concat([decipher.update(envelope.encrypted), decipher.final()]);
      key.lastUsage = { operation: 'Decrypt', timestamp: ctx.now, requestId: ctx.requestId };
      return {
        KeyId: key.arn,
        Plaintext: plaintext.toString('base64'),
        EncryptionAlgorithm: 'SYMMETRIC_DEFAULT',
        KeyMaterialId: envelope.keyMaterialId,
      };
    } catch (err) {
      throw Object.assign(invalidCiphertext(), { cause: err });
    }
  };

  return { Encrypt: encrypt, Decrypt: decrypt };
}

/**
 * GenerateMac and VerifyMac under an HMAC key's material. A key whose policy names its MAC callers
 * ({@link KeyRecord.macCallers}) refuses everyone else with AccessDeniedException, as a key policy that grants
 * `kms:GenerateMac` to some roles only does. Neither the message nor the MAC is kept or logged.
 */
export function macOperations(keys: Keys): OperationTable {
  /** The checks both operations make, in KMS's order: the request's members, the key, its policy, its usage, its state. */
  const macKey = (operation: 'GenerateMac' | 'VerifyMac', body: Json, ctx: CallContext, record: CallRecord) => {
    const message = blob(body.Message, 'message');
    if (message.length < 1 || message.length > MAX_MESSAGE_BYTES) {
      throw validation('message', '…', lengthConstraint(message.length, 1, MAX_MESSAGE_BYTES));
    }
    if (body.MacAlgorithm === undefined || body.MacAlgorithm === null) {
      throw validation('macAlgorithm', undefined, 'Member must not be null');
    }
    const algorithm = enumMember(body, 'MacAlgorithm', MAC_ALGORITHMS, 'HMAC_SHA_256');
    const key = keys.resolve(body.KeyId, ctx, record, true);
    if (key.macCallers !== undefined && !key.macCallers.includes(ctx.caller)) {
      throw accessDenied(ctx, key.arn, 'resource-based');
    }
    const spec = keys.requireMacKey(key, algorithm, operation);
    keys.requireUsable(key);
    const material = currentMaterial(key)?.material;
    if (!material) throw new KmsError('KMSInvalidStateException', `${key.arn} has no usable key material`);
    const mac = createHmac(HMAC_KEY_SPECS[spec].hash, Buffer.from(material, 'base64')).update(message).digest();
    key.lastUsage = { operation, timestamp: ctx.now, requestId: ctx.requestId };
    return { key, algorithm, mac };
  };

  const generateMac = (body: Json, ctx: CallContext, record: CallRecord): Json => {
    const { key, algorithm, mac } = macKey('GenerateMac', body, ctx, record);
    return { KeyId: key.arn, Mac: mac.toString('base64'), MacAlgorithm: algorithm };
  };

  const verifyMac = (body: Json, ctx: CallContext, record: CallRecord): Json => {
    const given = blob(body.Mac, 'mac');
    if (given.length < 1 || given.length > MAX_MAC_BYTES) {
      throw validation('mac', '…', lengthConstraint(given.length, 1, MAX_MAC_BYTES));
    }
    const { key, algorithm, mac } = macKey('VerifyMac', body, ctx, record);
    if (given.length !== mac.length || !timingSafeEqual(given, mac)) {
      throw new KmsError(
        'KMSInvalidMacException',
        `The MAC is not valid for this message under ${key.arn} with ${algorithm}`,
      );
    }
    return { KeyId: key.arn, MacValid: true, MacAlgorithm: algorithm };
  };

  return { GenerateMac: generateMac, VerifyMac: verifyMac };
}

/** The bytes of a key's material by id; a ciphertext under deleted material is invalid, as in KMS. */
function materialFor(key: KeyRecord, keyMaterialId: string): string {
  const material = key.materials.find((m) => m.keyMaterialId === keyMaterialId && m.material)?.material;
  if (!material) throw invalidCiphertext();
  return material;
}
