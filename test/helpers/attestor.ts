import { createHmac, timingSafeEqual } from 'node:crypto';
import { attestationMessage, type Attestor } from '../../core/attestation';
import { wrapKeyMaterial } from '../../core/key-wrap';
import { attestedSubmission, type ImportParameters, type ProofSubmission } from '../../core/recovery';
import type { Approval, Plan } from '../../core/types';

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

/**
 * Approvals as keymat's signers make them, synchronously: each attested (with `testAttestor()`'s key) for this
 * execution, its own round and the plan digest, so a refusal in a test is for the reason the test states.
 */
export const signedApprovals = (executionArn: string, planDigest: string, ...approvers: string[]): Approval[] =>
  approvers.map((approver, i) => {
    const a = { approver, at: '2026-11-22T00:00:00Z', channel: 'cli', round: i + 1 };
    const claims = {
      kind: 'decision' as const,
      executionArn,
      startedAt: '',
      ...a,
      decision: 'approve' as const,
      planDigest,
      recoveryProof: '',
      irreversible: false,
      comment: '',
    };
    return { ...a, mac: testMac(attestationMessage(claims)) };
  });

/**
 * A custodian's copy as the gateway passes it on: `material` wrapped under `params` in the custodian's place, and
 * attested (with `attestor`) for `executionArn` and `plan`.
 */
export const wrappedCopy = async (
  attestor: Attestor,
  executionArn: string,
  plan: Pick<Plan, 'keyArn' | 'keyMaterialId'>,
  params: ImportParameters,
  material: Buffer,
  custodian: string,
): Promise<ProofSubmission> =>
  attestedSubmission(attestor, executionArn, plan, {
    wrappedKeyMaterial: wrapKeyMaterial(
      Buffer.from(params.publicKey, 'base64'),
      material,
      params.wrappingAlgorithm,
    ).toString('base64'),
    importToken: params.importToken,
    wrappingAlgorithm: params.wrappingAlgorithm,
    custodian,
    at: new Date().toISOString(),
    channel: 'cli',
  });
