import type { RotationsListEntry } from '@aws-sdk/client-kms';
import { createHash } from 'node:crypto';
import { attestationMessage, type Attestor, type RecoveryClaims } from './attestation';
import { invalidInput } from './errors';
import { WRAPPING_ALGORITHMS } from './key-wrap';
import type { KeySnapshot } from './plan';
import * as z from './schema';
import type { Plan } from './types';

/**
 * The recovery proof (docs/recovery.md): before a deletion is approved, a custodian shows KMS the escrowed copy of the
 * material, and a task reimports it exactly as the key already holds it. KMS accepts only the identical material, so
 * a reimport that leaves the key as it was proves that the deletion can be undone.
 */

/** How strongly a deployment or a change asks for the proof, weakest first. */
export const RECOVERY_PROOF_MODES = ['off', 'offered', 'required'] as const;
export type RecoveryProofMode = (typeof RECOVERY_PROOF_MODES)[number];

/**
 * The mode a change runs with: the deployment's, or the change's own when that is stricter. A change may ask for more
 * proof than the deployment does, never for less.
 */
export function effectiveRecoveryProof(
  deployment: RecoveryProofMode,
  requested?: RecoveryProofMode,
): RecoveryProofMode {
  if (requested === undefined) return deployment;
  if (RECOVERY_PROOF_MODES.indexOf(requested) < RECOVERY_PROOF_MODES.indexOf(deployment)) {
    throw invalidInput(
      'recoveryProof',
      requested,
      `may only be stricter than the deployment's ${deployment} (${RECOVERY_PROOF_MODES.join(' < ')})`,
    );
  }
  return requested;
}

/**
 * Whether a deletion destroys something a proof can show to be recoverable: a permanently associated material that is
 * still imported. A pending-rotation material was never used to encrypt, and an already deleted one is gone already.
 */
export const proofApplies = (plan: Plan): boolean => plan.expectedMaterial === 'PENDING_IMPORT' && !plan.alreadyDeleted;

/** The wrapping keymat asks KMS for: RSA_4096, with OAEP directly or with an AES key wrap (for HSMs that export so). */
export const PROOF_WRAPPING_KEY_SPEC = 'RSA_4096' as const;
export const PROOF_WRAPPING_ALGORITHMS = [
  'RSAES_OAEP_SHA_256',
  'RSA_AES_KEY_WRAP_SHA_256',
] as const satisfies (typeof WRAPPING_ALGORITHMS)[number][];
export type ProofWrappingAlgorithm = (typeof PROOF_WRAPPING_ALGORITHMS)[number];

const base64 = () => z.string().check(z.regex(/^[A-Za-z0-9+/]+={0,2}$/, 'must be base64'));

/**
 * The import parameters published to the custodians. None is a secret (docs/recovery.md says why): the public key
 * only encrypts to KMS, and the token is useless without both the material and permission to import into the key.
 */
export interface ImportParameters {
  keyArn: string;
  keyMaterialId: string;
  wrappingAlgorithm: ProofWrappingAlgorithm;
  wrappingKeySpec: typeof PROOF_WRAPPING_KEY_SPEC;
  /** DER (SubjectPublicKeyInfo), base64. */
  publicKey: string;
  importToken: string;
  /** When KMS stops accepting the token (ISO 8601). */
  parametersValidTo: string;
}

/**
 * What reaches the proving task: the wrapped copy under the published parameters, and the gateway's attestation of
 * who submitted it. It comes from outside the workflow, so the task parses it and verifies the attestation.
 */
export const proofSubmissionSchema = z.lazy(() =>
  z.object({
    wrappedKeyMaterial: base64(),
    importToken: base64(),
    wrappingAlgorithm: z.enum(PROOF_WRAPPING_ALGORITHMS),
    /** The canonical principal the gateway authenticated. */
    custodian: z.string().check(z.minLength(1)),
    /** When the gateway took the submission (ISO 8601), and through which channel. */
    at: z.iso.datetime(),
    channel: z.string().check(z.minLength(1)),
    /** The gateway's MAC over the submission's claims (base64). */
    mac: z.string().check(z.minLength(1)),
  }),
);
export type ProofSubmission = z.infer<typeof proofSubmissionSchema>;

/** A proven recovery: who showed the material, when KMS took it, which material of which key. */
export interface RecoveryProven {
  keyArn: string;
  keyMaterialId: string;
  provedBy: string;
  /** When KMS took the copy (ISO 8601). */
  provedAt: string;
  /** SHA-256 of the wrapped bytes KMS accepted (hex): names the submission without repeating it. */
  submissionDigest: string;
  /** The gateway's attestation of the submission, which a later task can verify again. */
  attestation: { at: string; channel: string; mac: string };
}

/** The digest a submission is named by in the proof, the logs and the attestation. */
export const submissionDigest = (wrappedKeyMaterial: string): string =>
  createHash('sha256').update(Buffer.from(wrappedKeyMaterial, 'base64')).digest('hex');

/**
 * The expiry a reimport must send so that it changes nothing: the material's own. A material that expires keeps its
 * ValidTo to the second; one that does not expire sends no ValidTo.
 */
export function expiryToKeep(
  material: RotationsListEntry,
): { ExpirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE' } | { ExpirationModel: 'KEY_MATERIAL_EXPIRES'; ValidTo: Date } {
  if (material.ExpirationModel === 'KEY_MATERIAL_EXPIRES' && material.ValidTo) {
    return { ExpirationModel: 'KEY_MATERIAL_EXPIRES', ValidTo: material.ValidTo };
  }
  return { ExpirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE' };
}

/** What a proof must leave exactly as it was: the key's state and every material's state, import state and expiry. */
function observable(snapshot: KeySnapshot) {
  const meta = snapshot.metadata;
  return {
    keyState: meta.KeyState ?? null,
    enabled: meta.Enabled ?? null,
    currentKeyMaterialId: meta.CurrentKeyMaterialId ?? null,
    expirationModel: meta.ExpirationModel ?? null,
    validTo: meta.ValidTo?.toISOString() ?? null,
    materials: snapshot.materials
      .map((m) => ({
        id: m.KeyMaterialId ?? null,
        state: m.KeyMaterialState ?? null,
        importState: m.ImportState ?? null,
        expirationModel: m.ExpirationModel ?? null,
        validTo: m.ValidTo?.toISOString() ?? null,
      }))
      .sort((a, b) => String(a.id).localeCompare(String(b.id))),
  };
}

const said = (value: string | boolean | null): string => (value === null ? 'absent' : String(value));

/**
 * What a reimport changed on the key, one phrase per difference (empty when nothing): compared field by field, so
 * the message of a failed proof says what moved.
 */
export function changedByProof(before: KeySnapshot, after: KeySnapshot): string[] {
  const was = observable(before);
  const now = observable(after);
  const changes: string[] = [];
  for (const field of ['keyState', 'enabled', 'currentKeyMaterialId', 'expirationModel', 'validTo'] as const) {
    if (was[field] !== now[field]) changes.push(`${field} was ${said(was[field])}, now ${said(now[field])}`);
  }
  if (JSON.stringify(was.materials) !== JSON.stringify(now.materials)) {
    changes.push(`materials were ${JSON.stringify(was.materials)}, now ${JSON.stringify(now.materials)}`);
  }
  return changes;
}

/**
 * The line an approval request opens with: the proof, or the warning an approver must confirm explicitly. Undefined
 * when no proof applies (the mode is off, or the deletion destroys nothing that decrypts).
 */
export function recoveryLine(
  mode: RecoveryProofMode,
  plan: Plan,
  proven: RecoveryProven | undefined,
): string | undefined {
  if (proven) return `Recovery proven by ${proven.provedBy} at ${proven.provedAt} (material ${proven.keyMaterialId}).`;
  if (mode === 'off' || !proofApplies(plan)) return undefined;
  return `This deletion is NOT SHOWN TO BE REVERSIBLE: nobody proved that a copy of material ${plan.keyMaterialId} still exists, so each approver must confirm that it may be irreversible.`;
}

/** The claims of a submission for one material of the plan's key in one execution. */
export const submissionClaims = (
  executionArn: string,
  plan: Pick<Plan, 'keyArn' | 'keyMaterialId'>,
  submission: Pick<ProofSubmission, 'custodian' | 'wrappedKeyMaterial' | 'at' | 'channel'>,
): RecoveryClaims => ({
  kind: 'recovery',
  executionArn,
  custodian: submission.custodian,
  keyArn: plan.keyArn,
  keyMaterialId: plan.keyMaterialId,
  submissionDigest: submissionDigest(submission.wrappedKeyMaterial),
  at: submission.at,
  channel: submission.channel,
});

/** The gateway's side: the MAC that vouches for a submission by the custodian it authenticated. */
export const attestSubmission = async (attestor: Attestor, claims: RecoveryClaims): Promise<string> =>
  attestor.sign(attestationMessage(claims));

/** Whether the MAC vouches for exactly these claims. */
export const verifySubmission = async (attestor: Attestor, claims: RecoveryClaims, mac: string): Promise<boolean> =>
  attestor.verify(attestationMessage(claims), mac);
