import type { KmsCall } from '../../core/aws-api';
import type { Attestor } from '../../core/attestation';
import { errorName } from '../../core/errors';

/**
 * Attestations MACed by a KMS HMAC_256 key (`GenerateMac`/`VerifyMac`, HMAC_SHA_256): the key never leaves KMS,
 * every use is in CloudTrail, and its key policy lets only keymat's signers generate MACs.
 */
export function kmsAttestor(kms: KmsCall, keyId: string): Attestor {
  return {
    async sign(message) {
      const { Mac } = await kms('GenerateMac', { KeyId: keyId, MacAlgorithm: 'HMAC_SHA_256', Message: message });
      if (!Mac) throw new Error(`GenerateMac with key ${keyId} returned no MAC`);
      return Buffer.from(Mac).toString('base64');
    },
    async verify(message, mac) {
      const bytes = Buffer.from(mac, 'base64');
      if (bytes.length === 0 || bytes.toString('base64') !== mac) return false;
      try {
        const { MacValid } = await kms('VerifyMac', {
          KeyId: keyId,
          MacAlgorithm: 'HMAC_SHA_256',
          Message: message,
          Mac: bytes,
        });
        return MacValid === true;
      } catch (err) {
        // KMS answers an invalid MAC with KMSInvalidMacException rather than MacValid false.
        if (errorName(err) === 'KMSInvalidMacException') return false;
        throw err;
      }
    },
  };
}
