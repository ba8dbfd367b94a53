import {
  constants,
  createCipheriv,
  createDecipheriv,
  createPublicKey,
  privateDecrypt,
  publicEncrypt,
  randomBytes,
  type KeyObject,
} from 'node:crypto';

/**
 * How key material is wrapped for `ImportKeyMaterial`, both halves: the customer's (the CLI wrapping a plaintext copy
 * for a recovery proof, the local demo's BYOK import) and KMS's (the local KMS unwrapping it). One module, so the two
 * can never disagree on the scheme.
 *
 * - `RSAES_OAEP_SHA_*`: the material is encrypted with the RSA public key directly (OAEP, MGF1 with the same hash).
 * - `RSA_AES_KEY_WRAP_SHA_*`: an ephemeral AES-256 key wraps the material with AES key wrap with padding (RFC 5649),
 *   and the RSA public key wraps the AES key with OAEP; the wrapped AES key comes first, then the wrapped material.
 *   This is PKCS #11's CKM_RSA_AES_KEY_WRAP, which HSMs export with.
 */

/** The wrapping algorithms of `GetParametersForImport` that keymat and the local KMS use. */
export const WRAPPING_ALGORITHMS = [
  'RSAES_OAEP_SHA_1',
  'RSAES_OAEP_SHA_256',
  'RSA_AES_KEY_WRAP_SHA_1',
  'RSA_AES_KEY_WRAP_SHA_256',
] as const;
export type WrappingAlgorithm = (typeof WRAPPING_ALGORITHMS)[number];

const HASH: Record<WrappingAlgorithm, 'sha1' | 'sha256'> = {
  RSAES_OAEP_SHA_1: 'sha1',
  RSAES_OAEP_SHA_256: 'sha256',
  RSA_AES_KEY_WRAP_SHA_1: 'sha1',
  RSA_AES_KEY_WRAP_SHA_256: 'sha256',
};

/** RFC 5649's alternative initial value, which OpenSSL's padded key wrap expects as its IV. */
const KWP_IV = Buffer.from('a65959a6', 'hex');
const KWP_CIPHER = 'id-aes256-wrap-pad';
const AES_KEY_BYTES = 32;

export const isWrappingAlgorithm = (value: unknown): value is WrappingAlgorithm =>
  typeof value === 'string' && (WRAPPING_ALGORITHMS as readonly string[]).includes(value);

const usesAesKeyWrap = (algorithm: WrappingAlgorithm): boolean => algorithm.startsWith('RSA_AES_KEY_WRAP');

/**
 * Wraps key material under the public key `GetParametersForImport` returned (DER, SubjectPublicKeyInfo, as KMS sends
 * it), for `ImportKeyMaterial`'s `EncryptedKeyMaterial`.
 */
export function wrapKeyMaterial(publicKeyDer: Uint8Array, material: Buffer, algorithm: WrappingAlgorithm): Buffer {
  const key = createPublicKey({ key: Buffer.from(publicKeyDer), format: 'der', type: 'spki' });
  const rsa = (data: Buffer) =>
    publicEncrypt({ key, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: HASH[algorithm] }, data);
  if (!usesAesKeyWrap(algorithm)) return rsa(material);
  const aesKey = randomBytes(AES_KEY_BYTES);
  const cipher = createCipheriv(KWP_CIPHER, aesKey, KWP_IV);
  return Buffer.concat([rsa(aesKey), cipher.update(material), cipher.final()]);
}

/**
 * Unwraps what {@link wrapKeyMaterial} made with the private half of the wrapping key. Throws when the bytes were not
 * wrapped under this key with this algorithm (OAEP or the key wrap's integrity check fails).
 */
export function unwrapKeyMaterial(
  privateKey: string | KeyObject,
  wrapped: Buffer,
  algorithm: WrappingAlgorithm,
): Buffer {
  const rsa = (data: Buffer) =>
    privateDecrypt({ key: privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: HASH[algorithm] }, data);
  if (!usesAesKeyWrap(algorithm)) return rsa(wrapped);
  const rsaBytes = rsaModulusBytes(privateKey);
  const aesKey = rsa(wrapped.subarray(0, rsaBytes));
  const decipher = createDecipheriv(KWP_CIPHER, aesKey, KWP_IV);
  return Buffer.concat([decipher.update(wrapped.subarray(rsaBytes)), decipher.final()]);
}

function rsaModulusBytes(privateKey: string | KeyObject): number {
  const key = typeof privateKey === 'string' ? createPublicKey(privateKey) : privateKey;
  const bits = key.asymmetricKeyDetails?.modulusLength;
  if (bits === undefined) throw new Error('the wrapping key is not an RSA key');
  return bits / 8;
}
