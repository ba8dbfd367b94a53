import type { RotationsListEntry } from '@aws-sdk/client-kms';
import { createHash } from 'node:crypto';
import { attestationMessage, type Attestor, type RecoveryClaims } from './attestation';
import { invalidInput } from './errors';
import { PROOF_WRAPPING_ALGORITHMS, PROOF_WRAPPING_KEY_SPEC } from './proof-wrapping';
import type { ImportExpiry, KeySnapshot } from './plan';
import * as z from './schema';
import { RECOVERY_PROOF_MODES, type Plan, type RecoveryProofMode, type RecoveryProven } from './types';

export { RECOVERY_PROOF_MODES, type RecoveryProofMode, type RecoveryProven };

/**
 * The recovery proof (docs/recovery.md): before a deletion is approved, a custodian shows KMS the escrowed copy of the
 * material, and a task reimports it exactly as the key already holds it. KMS accepts only the identical material, so
 * a reimport that leaves the key as it was proves that the deletion can be undone.
 */

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

/** Whether a change asks its custodians for the proof: its mode is not off, and the deletion has something to recover. */
export const proofAsked = (plan: Plan): boolean => plan.recoveryProof !== 'off' && proofApplies(plan);

/**
 * Whether each approver must confirm that the deletion may be irreversible: a proof was asked and none came. (A
 * required proof that never came ends the change before any approval.)
 */
export const irreversibleToConfirm = (plan: Plan, proof: RecoveryProven | undefined): boolean =>
  proof === undefined && proofAsked(plan);

/** Binary data in JSON, as the import parameters and submissions carry it. */
export const base64 = () => z.string().check(z.regex(/^[A-Za-z0-9+/]+={0,2}$/, 'must be base64'));

/**
 * The import parameters published to the custodians. None is a secret (docs/recovery.md says why): the public key
 * only encrypts to KMS, and the token is useless without both the material and permission to import into the key.
 * The custodian's CLI reads them back from the published message, so they have a schema.
 */
export const importParametersSchema = z.lazy(() =>
  z.object({
    executionArn: z.string().check(z.minLength(1)),
    keyArn: z.string().check(z.minLength(1)),
    keyMaterialId: z.string().check(z.minLength(1)),
    wrappingAlgorithm: z.enum(PROOF_WRAPPING_ALGORITHMS),
    wrappingKeySpec: z.literal(PROOF_WRAPPING_KEY_SPEC),
    /** DER (SubjectPublicKeyInfo), base64. */
    publicKey: base64(),
    importToken: base64(),
    /** When KMS stops accepting the token (ISO 8601). */
    parametersValidTo: z.string(),
  }),
);
export type ImportParameters = z.infer<typeof importParametersSchema>;

/**
 * The import parameters in a published proof request: the message's last line (or a file holding only that line),
 * as the custodian saved it. Refuses InvalidInput naming what is missing.
 */
export function readImportParameters(text: string): ImportParameters {
  const line = text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.startsWith('{'))
    .at(-1);
  let json: unknown;
  try {
    json = JSON.parse(line ?? '');
  } catch {
    throw invalidInput('parameters', text.slice(0, 80), 'must be the recovery proof request, or its last line (JSON)');
  }
  const parsed = importParametersSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw invalidInput(`parameters.${issue?.path.join('.')}`, undefined, issue?.message ?? 'is not valid');
  }
  return parsed.data;
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

/** The digest a submission is named by in the proof, the logs and the attestation. */
export const submissionDigest = (wrappedKeyMaterial: string): string =>
  createHash('sha256').update(Buffer.from(wrappedKeyMaterial, 'base64')).digest('hex');

/**
 * The expiry a reimport must send so that it changes nothing: the material's own. A material that expires keeps its
 * ValidTo to the second; one that does not expire sends no ValidTo.
 */
export function expiryToKeep(material: RotationsListEntry): ImportExpiry {
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
 * when no proof was asked (the mode is off, or the deletion destroys nothing that decrypts).
 */
export function recoveryLine(plan: Plan, proven: RecoveryProven | undefined): string | undefined {
  if (proven) return `Recovery proven by ${proven.provedBy} at ${proven.provedAt} (material ${proven.keyMaterialId}).`;
  if (!proofAsked(plan)) return undefined;
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

/** The claims a proof was made on, as the gateway attested its submission: for checking the proof again later. */
export const proofClaims = (executionArn: string, proof: RecoveryProven): RecoveryClaims => ({
  kind: 'recovery',
  executionArn,
  custodian: proof.provedBy,
  keyArn: proof.keyArn,
  keyMaterialId: proof.keyMaterialId,
  submissionDigest: proof.submissionDigest,
  at: proof.attestation.at,
  channel: proof.attestation.channel,
});

/** The gateway's side: the MAC that vouches for a submission by the custodian it authenticated. */
export const attestSubmission = async (attestor: Attestor, claims: RecoveryClaims): Promise<string> =>
  attestor.sign(attestationMessage(claims));

/**
 * A custodian's submission as the gateway hands it to the workflow: the copy and the token as sent, the custodian it
 * authenticated, the time and channel, and its MAC over them for this execution and the plan's material.
 */
export async function attestedSubmission(
  attestor: Attestor,
  executionArn: string,
  plan: Pick<Plan, 'keyArn' | 'keyMaterialId'>,
  unsigned: Omit<ProofSubmission, 'mac'>,
): Promise<ProofSubmission> {
  const mac = await attestSubmission(attestor, submissionClaims(executionArn, plan, unsigned));
  return { ...unsigned, mac };
}

/** Whether the MAC vouches for exactly these claims. */
export const verifySubmission = async (attestor: Attestor, claims: RecoveryClaims, mac: string): Promise<boolean> =>
  attestor.verify(attestationMessage(claims), mac);

/** The change id `restoreCommand` suggests: the deletion's own, marked, within the 64 characters a change id may have. */
export const restoreChangeId = (changeId: string): string => `${changeId.slice(0, 56)}-restore`;

/**
 * The command that starts the change bringing a deleted material back (docs/recovery.md), as each deletion's output
 * and Key Material Deleted event name it. Undefined for a pending-rotation material: it leaves the key when deleted,
 * and there is nothing to import it back into.
 */
export function restoreCommand(changeId: string, plan: Pick<Plan, 'keyArn' | 'keyMaterialId' | 'expectedMaterial'>) {
  if (plan.expectedMaterial !== 'PENDING_IMPORT') return undefined;
  return `keymat restore --key-id ${plan.keyArn} --key-material-id ${plan.keyMaterialId} --change-id ${restoreChangeId(changeId)} --reason "back-out of ${changeId}"`;
}
