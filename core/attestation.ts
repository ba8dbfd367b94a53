import { createHash } from 'node:crypto';

/**
 * Attestations: what keymat's own signers (the gateway, its approval page, the expiry scan) vouch for, MACed with a
 * KMS HMAC key that only they may use. The record then proves itself: DeleteMaterial verifies every approval and
 * ValidateOrigin verifies the start, so a forged `SendTaskSuccess` or `StartExecution` deletes nothing.
 *
 * The signed message is a fixed-order rendering of the claims, prefixed with a version, so that a field can never be
 * read as another (no JSON key-order or whitespace ambiguity).
 */

/** A decision on one approval round, by one canonical approver, on one plan. */
export interface DecisionClaims {
  kind: 'decision';
  executionArn: string;
  /** 1 for the first approval round, 2 for the second... */
  round: number;
  approver: string;
  decision: 'approve' | 'reject';
  planDigest: string;
  /**
   * When the start the approval answers was attested: binds the approval to this one run of the execution, so it
   * cannot be replayed into a later execution of the same name (Step Functions frees a name 90 days after the run).
   */
  startedAt: string;
  /**
   * The recovery proof the approver was shown (its submission digest), '' when none: binds the approval to that
   * proof, so a proof swapped into the state afterwards invalidates it.
   */
  recoveryProof: string;
  /** The approver confirmed that the deletion may be irreversible (no proof was given). */
  irreversible: boolean;
  at: string;
  channel: string;
  comment: string;
}

/** A change started by an authenticated requester: the execution's input (its digest) and who asked. */
export interface StartClaims {
  kind: 'start';
  executionName: string;
  requester: string;
  inputDigest: string;
  at: string;
  channel: string;
}

/**
 * A custodian's submission of a recovery proof (docs/recovery.md), vouched for by the gateway that authenticated the
 * custodian: which wrapped copy (its digest), for which material of which key, in which execution.
 */
export interface RecoveryClaims {
  kind: 'recovery';
  executionArn: string;
  custodian: string;
  keyArn: string;
  keyMaterialId: string;
  submissionDigest: string;
  at: string;
  channel: string;
}

export type Claims = DecisionClaims | StartClaims | RecoveryClaims;

const FIELDS: { [K in Claims['kind']]: (keyof Extract<Claims, { kind: K }>)[] } = {
  decision: [
    'executionArn',
    'startedAt',
    'round',
    'approver',
    'decision',
    'planDigest',
    'recoveryProof',
    'irreversible',
    'at',
    'channel',
    'comment',
  ],
  start: ['executionName', 'requester', 'inputDigest', 'at', 'channel'],
  recovery: ['executionArn', 'custodian', 'keyArn', 'keyMaterialId', 'submissionDigest', 'at', 'channel'],
};

/** The bytes a MAC is computed over: version, kind, then each field as `name=<JSON value>` on its own line. */
export function attestationMessage(claims: Claims): Buffer {
  const fields = FIELDS[claims.kind] as (keyof Claims)[];
  const lines = fields.map((f) => `${String(f)}=${JSON.stringify(claims[f])}`);
  return Buffer.from(['keymat-attestation/1', claims.kind, ...lines].join('\n'), 'utf8');
}

/**
 * The digest of an execution input: SHA-256 over its fields in sorted order (JSON values), leaving out the
 * attestation itself. Hand-written rather than a canonical-JSON package: the input is one flat object.
 */
export function inputDigest(input: Readonly<Record<string, unknown>>): string {
  const lines = Object.keys(input)
    .filter((k) => k !== 'attestation' && input[k] !== undefined)
    .sort()
    .map((k) => `${k}=${JSON.stringify(input[k])}`);
  return createHash('sha256').update(lines.join('\n')).digest('hex');
}

/** Computes and checks MACs; implemented with KMS GenerateMac/VerifyMac on an HMAC_256 key. */
export interface Attestor {
  /** The MAC of the message, base64. */
  sign(message: Buffer): Promise<string>;
  /** Whether the MAC is valid for the message (false for a malformed MAC). */
  verify(message: Buffer, mac: string): Promise<boolean>;
}

/** What a start attestation adds to an execution input: when, by which channel, and the MAC. */
export interface StartAttestation {
  at: string;
  channel: string;
  mac: string;
}

/** The execution name of an execution ARN (its last segment). */
const nameOf = (executionArnOrName: string): string =>
  executionArnOrName.slice(executionArnOrName.lastIndexOf(':') + 1);

/**
 * Attests a start: the requester (the input's `requestedBy`, an authenticated canonical principal) asked for exactly
 * this input under this execution name. Returns the input with its `attestation`.
 */
export async function attestStart<I extends { requestedBy: string }>(
  attestor: Attestor,
  executionName: string,
  input: I,
  channel: string,
  at: Date,
): Promise<I & { attestation: StartAttestation }> {
  const claims: StartClaims = {
    kind: 'start',
    executionName,
    requester: input.requestedBy,
    inputDigest: inputDigest(input),
    at: at.toISOString(),
    channel,
  };
  return { ...input, attestation: { at: claims.at, channel, mac: await attestor.sign(attestationMessage(claims)) } };
}

/**
 * How old a start attestation may be when ValidateOrigin checks it (the first state, run as the execution starts),
 * and how far ahead of this clock another signer's clock may be. An old attested input started again under a name
 * Step Functions has freed is refused.
 */
export const MAX_START_AGE_MS = 15 * 60_000;
export const MAX_CLOCK_SKEW_MS = 5 * 60_000;

/**
 * The time of an execution input's start attestation when it is valid for this execution and its requester and was
 * made within `MAX_START_AGE_MS` of `now`; undefined otherwise.
 */
export async function verifyStart(
  attestor: Attestor,
  executionArnOrName: string,
  input: Readonly<Record<string, unknown>>,
  now: Date,
): Promise<string | undefined> {
  const a = input.attestation as Partial<StartAttestation> | undefined;
  const requester = input.requestedBy;
  if (typeof a !== 'object' || a === null || typeof requester !== 'string') return undefined;
  if (typeof a.at !== 'string' || typeof a.channel !== 'string' || typeof a.mac !== 'string') return undefined;
  const age = now.getTime() - Date.parse(a.at);
  if (!(age <= MAX_START_AGE_MS && age >= -MAX_CLOCK_SKEW_MS)) return undefined;
  const claims: StartClaims = {
    kind: 'start',
    executionName: nameOf(executionArnOrName),
    requester,
    inputDigest: inputDigest(input),
    at: a.at,
    channel: a.channel,
  };
  return (await attestor.verify(attestationMessage(claims), a.mac)) ? a.at : undefined;
}
