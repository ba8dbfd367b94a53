import type { KmsCall } from '../../core/aws-api';
import type { Attestor } from '../../core/attestation';
import { KeymatError, errorMessage, errorName, hasErrorName } from '../../core/errors';
import { parseEvent } from '../../core/events';
import { compareWithPlan, findTarget, type KeySnapshot } from '../../core/plan';
import {
  PROOF_WRAPPING_KEY_SPEC,
  changedByProof,
  expiryToKeep,
  proofApplies,
  proofSubmissionSchema,
  submissionClaims,
  verifySubmission,
  type ImportParameters,
  type ProofSubmission,
  type ProofWrappingAlgorithm,
  type RecoveryProven,
} from '../../core/recovery';
import * as z from '../../core/schema';
import { planSchema, type Plan } from '../../core/types';
import { readKey } from '../runtime/aws';
import { startInvocation, type Logger } from '../runtime/logger';

/**
 * The recovery proof's KMS side (docs/recovery.md): import parameters for the custodians, then the reimport of the
 * copy they submitted, exactly as the key holds the material. Only this code calls GetParametersForImport and
 * ImportKeyMaterial. Neither the token, the public key nor the wrapped copy is logged or returned: the proof names the
 * submission by its digest.
 */

/** What the proving task works with. */
export interface ProveRecoveryDeps {
  kms: KmsCall;
  /** Verifies the gateway's attestation of the submission. */
  attestor: Attestor;
  logger: Logger;
}

/**
 * What KMS answers when the submitted copy is not the material, or not wrapped as the parameters say: each means the
 * proof failed, never that it should be tried again.
 */
const NOT_THE_MATERIAL = [
  'IncorrectKeyMaterialException',
  'InvalidCiphertextException',
  'InvalidImportTokenException',
  'ExpiredImportTokenException',
  'KMSInvalidStateException',
] as const;

/** The proving task's event: the execution, its plan, and the submission as the gateway passed it on. */
export const proveRecoveryEvent = z.lazy(() =>
  z.object({
    executionId: z.string().check(z.minLength(1)),
    plan: planSchema,
    submission: z.unknown(),
  }),
);

/**
 * Import parameters for the plan's key: an RSA_4096 wrapping key and a token, both valid for 24 hours. The key
 * material id is the plan's, so the custodians know which copy to wrap.
 */
export async function importParameters(
  kms: KmsCall,
  plan: Pick<Plan, 'keyArn' | 'keyMaterialId'>,
  wrappingAlgorithm: ProofWrappingAlgorithm,
): Promise<ImportParameters> {
  const out = await kms('GetParametersForImport', {
    KeyId: plan.keyArn,
    WrappingAlgorithm: wrappingAlgorithm,
    WrappingKeySpec: PROOF_WRAPPING_KEY_SPEC,
  });
  if (!out.PublicKey || !out.ImportToken || !out.ParametersValidTo) {
    throw new Error(`GetParametersForImport returned no public key, token or validity for ${plan.keyArn}`);
  }
  return {
    keyArn: plan.keyArn,
    keyMaterialId: plan.keyMaterialId,
    wrappingAlgorithm,
    wrappingKeySpec: PROOF_WRAPPING_KEY_SPEC,
    publicKey: Buffer.from(out.PublicKey).toString('base64'),
    importToken: Buffer.from(out.ImportToken).toString('base64'),
    parametersValidTo: out.ParametersValidTo.toISOString(),
  };
}

const notProven = (plan: Plan, why: string, cause?: unknown): KeymatError =>
  new KeymatError(
    'RecoveryNotProven',
    `recovery of material ${plan.keyMaterialId} of ${plan.keyArn} is not proven: ${why}`,
    cause === undefined ? undefined : { cause },
  );

/** The submission, parsed: it comes from outside the workflow, so a malformed one is a failed proof naming the field. */
function parseSubmission(plan: Plan, value: unknown): ProofSubmission {
  const parsed = proofSubmissionSchema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  throw notProven(plan, `submission.${issue?.path.join('.')}: ${issue?.message}; nothing was imported`);
}

/**
 * ProveRecovery: reimports the submitted copy with `EXISTING_KEY_MATERIAL`, the material's id and its own expiry, and
 * returns the proof once the key reads exactly as before. Ends `RecoveryNotProven` when the submission is not
 * attested, KMS refuses the copy (another material, another wrapping, a stale token), or the key reads otherwise
 * afterwards; ends `PlanDrifted` when the key changed since it was planned. KMS's transient errors are rethrown as
 * they are, for the state machine to retry: a second reimport of the same material is as harmless as the first.
 */
export function createProveRecovery({
  kms,
  attestor,
  logger,
}: ProveRecoveryDeps): (event: unknown) => Promise<RecoveryProven> {
  return async (event) => {
    const e = parseEvent(proveRecoveryEvent, event, 'ProveRecovery');
    const plan = e.plan;
    startInvocation(logger, { executionId: e.executionId, keyArn: plan.keyArn });
    if (!proofApplies(plan)) {
      throw notProven(
        plan,
        `the deletion leaves nothing to recover (material ${plan.expectedMaterial === 'REMOVED' ? 'pending rotation' : 'already deleted'})`,
      );
    }
    const submission = parseSubmission(plan, e.submission);
    const claims = submissionClaims(e.executionId, plan, submission);
    if (!(await verifySubmission(attestor, claims, submission.mac))) {
      throw notProven(
        plan,
        `the submission by ${submission.custodian} at ${submission.at} is not attested by the gateway; nothing was imported`,
      );
    }

    const before = await readKey(kms, plan.keyArn);
    const drift = compareWithPlan(before, plan);
    if (drift !== 'UNCHANGED') {
      const what = drift === 'APPLIED' ? 'the material is already deleted' : drift.drift;
      throw new KeymatError(
        'PlanDrifted',
        `key ${plan.keyArn} changed since it was planned: ${what}; nothing was imported`,
      );
    }
    const target = findTarget(before, plan.keyMaterialId);
    let imported: string | undefined;
    try {
      const out = await kms('ImportKeyMaterial', {
        KeyId: plan.keyArn,
        ImportToken: Buffer.from(submission.importToken, 'base64'),
        EncryptedKeyMaterial: Buffer.from(submission.wrappedKeyMaterial, 'base64'),
        ImportType: 'EXISTING_KEY_MATERIAL',
        // KMS takes a KeyMaterialId for symmetric encryption keys only; the others hold a single material.
        ...(before.metadata.KeySpec === 'SYMMETRIC_DEFAULT' && { KeyMaterialId: plan.keyMaterialId }),
        ...expiryToKeep(target),
      });
      imported = out.KeyMaterialId;
    } catch (err) {
      if (!hasErrorName(err, ...NOT_THE_MATERIAL)) throw err;
      logger.warn('recovery not proven', {
        custodian: submission.custodian,
        keyMaterialId: plan.keyMaterialId,
        error: errorName(err),
        submissionDigest: claims.submissionDigest,
      });
      throw notProven(
        plan,
        `KMS refused the copy submitted by ${submission.custodian}: ${errorName(err)}: ${errorMessage(err)}; the key is unchanged`,
        err,
      );
    }
    if (imported !== undefined && imported !== plan.keyMaterialId) {
      throw notProven(plan, `KMS took the copy as material ${imported}`);
    }
    const after: KeySnapshot = await readKey(kms, plan.keyArn);
    const changes = changedByProof(before, after);
    if (changes.length > 0) {
      throw notProven(plan, `the key does not read as it did before the reimport: ${changes.join('; ')}`);
    }
    const proven: RecoveryProven = {
      keyArn: plan.keyArn,
      keyMaterialId: plan.keyMaterialId,
      provedBy: submission.custodian,
      provedAt: new Date().toISOString(),
      submissionDigest: claims.submissionDigest,
      attestation: { at: submission.at, channel: submission.channel, mac: submission.mac },
    };
    logger.info('recovery proven', {
      provedBy: proven.provedBy,
      keyMaterialId: proven.keyMaterialId,
      submissionDigest: proven.submissionDigest,
    });
    return proven;
  };
}
