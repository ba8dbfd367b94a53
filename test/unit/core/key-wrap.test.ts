import { generateKeyPairSync } from 'node:crypto';
import { WRAPPING_ALGORITHMS, unwrapKeyMaterial, wrapKeyMaterial } from '../../../core/key-wrap';

const { publicKey, privateKey } = generateKeyPairSync('rsa', {
  modulusLength: 2048,
  publicKeyEncoding: { type: 'spki', format: 'der' },
  privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
});
const material = Buffer.alloc(32, 7);

describe('wrapping key material', () => {
  it.each(WRAPPING_ALGORITHMS)('gives back the material under %s', (algorithm) => {
    const wrapped = wrapKeyMaterial(publicKey, material, algorithm);
    expect(wrapped.includes(material)).toBe(false);
    expect(unwrapKeyMaterial(privateKey, wrapped, algorithm)).toEqual(material);
  });

  it('puts the RSA-wrapped AES key first, then the RFC 5649 wrap of the material (8 bytes longer)', () => {
    expect(wrapKeyMaterial(publicKey, material, 'RSA_AES_KEY_WRAP_SHA_256')).toHaveLength(256 + 40);
    expect(wrapKeyMaterial(publicKey, material, 'RSAES_OAEP_SHA_256')).toHaveLength(256);
  });

  it('refuses bytes wrapped with another algorithm than the one named', () => {
    const wrapped = wrapKeyMaterial(publicKey, material, 'RSAES_OAEP_SHA_1');
    // OAEP's padding check fails under the other hash, as KMS's unwrapping would.
    expect(() => unwrapKeyMaterial(privateKey, wrapped, 'RSAES_OAEP_SHA_256')).toThrow(
      expect.objectContaining({ code: 'ERR_OSSL_RSA_OAEP_DECODING_ERROR' }),
    );
  });
});
