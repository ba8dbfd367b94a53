import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Attestor } from '../../core/attestation';

const TEST_KEY = 'test-attestation-key';

/** The MAC `testAttestor()` gives a message, computed at once (for fixtures built synchronously). */
export const testMac = (message: Buffer, key = TEST_KEY): string =>
  createHmac('sha256', key).update(message).digest('base64');

/** An attestor on an in-memory HMAC key, standing in for KMS GenerateMac/VerifyMac in unit tests. */
export function testAttestor(key = TEST_KEY): Attestor & { signed: number } {
  const mac = (message: Buffer) => createHmac('sha256', key).update(message).digest();
  const attestor = {
    signed: 0,
    async sign(message: Buffer) {
      attestor.signed += 1;
      return mac(message).toString('base64');
    },
    async verify(message: Buffer, given: string) {
      const expected = mac(message);
      const bytes = Buffer.from(given, 'base64');
      return bytes.length === expected.length && timingSafeEqual(bytes, expected);
    },
  };
  return attestor;
}
