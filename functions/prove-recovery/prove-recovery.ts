import type { KmsCall, SnsCall } from '../../core/aws-api';
import { checkApprovalTimes, verifyApprovals } from '../../core/approvals';
import type { Attestor } from '../../core/attestation';
import type { ProveRecoveryConfig } from '../../core/config';
import { KeymatError, errorMessage, errorName, hasErrorName, invalidInput } from '../../core/errors';
import {
  awaitRecoveryProofEvent,
  parseApproval,
  parseEvent,
  restoreMaterialEvent,
  taskEvent,
  type AwaitRecoveryProofEvent,
} from '../../core/events';
import { placeOfKeyArn } from '../../core/organisation';
import { compareWithPlan, findTarget, restoreExpiry, type ImportExpiry, type KeySnapshot } from '../../core/plan';
import {
  changedByProof,
  expiryToKeep,
  importParametersSchema,
  proofApplies,
  proofSubmissionSchema,
  submissionClaims,
  verifySubmission,
  type ImportParameters,
  type ProofSubmission,
  type RecoveryProven,
} from '../../core/recovery';
import { PROOF_WRAPPING_KEY_SPEC, type ProofWrappingAlgorithm } from '../../core/proof-wrapping';
import * as z from '../../core/schema';
import { PROOF_PARAMETERS_STATE, PROOF_WAIT_STATE, RESTORE_STATE } from '../../core/tasks';
import { changeInputSchema, planSchema, type Plan, type RestorationResult } from '../../core/types';
import { readKey } from '../runtime/aws';
import type { KeyAccess } from '../runtime/key-access';
import { startInvocation, type Logger } from '../runtime/logger';

/**
 * The recovery proof's KMS side (docs/recovery.md), one function for the workflow's four import states: at
 * GetImportParameters it gets import parameters into the state, at AwaitRecoveryProof it publishes them to the
 * custodians, at ProveRecovery it reimports the copy a custodian submitted (wrapped for this execution's token),
 * exactly as the key holds the material, and at RestoreMaterial it imports an approved restore's copy back into the
 * key. Only this function calls GetParametersForImport and ImportKeyMaterial. Neither the token, the public key nor
 * the wrapped copy is logged; only GetImportParameters returns them, into the execution's state and history, as the
 * published message carries them anyway. The proof names the submission by its digest.
 */

/** What the proving task works with. */
export interface ProveRecoveryDeps {
  /** KMS on the key, in its account (the member recovery role) and Region. */
  keys: KeyAccess;
  /** Publishes the import parameters to the approval topic. */
  sns: SnsCall;
  /** Verifies the gateway's attestation of the submission. */
  attestor: Attestor;
  config: ProveRecoveryConfig;
  logger: Logger;
}

/** What the task answers at AwaitRecoveryProof: the published request's id (the state then waits for its token). */
export interface ProofRequested {
  messageId: string;
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
    input: changeInputSchema,
    plan: planSchema,
    submission: z.unknown(),
    importParameters: importParametersSchema,
  }),
);

/**
 * Import parameters for the plan's key: an RSA_4096 wrapping key and a token, both valid for 24 hours. The key
 * material id is the plan's, so the custodians know which copy to wrap.
 */
export async function importParameters(
  kms: KmsCall,
  executionArn: string,
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
    executionArn,
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
 * The wrapping asked for a key: OAEP directly for the materials it can carry (symmetric and HMAC keys, at most 64
 * bytes), the AES key wrap for the larger private keys of asymmetric keys.
 */
const wrappingFor = (keySpec: string | undefined): ProofWrappingAlgorithm =>
  keySpec === 'SYMMETRIC_DEFAULT' || keySpec?.startsWith('HMAC_') ? 'RSAES_OAEP_SHA_256' : 'RSA_AES_KEY_WRAP_SHA_256';

/**
 * The message that asks the custodians for the proof: what to do in words, then the parameters as one JSON line the
 * CLI reads back (`keymat recovery prove --parameters FILE`).
 */
function proofRequest(e: AwaitRecoveryProofEvent, parameters: ImportParameters, until: string): string {
  if (e.input.restore) return copyRequest(e, parameters, until);
  return [
    `keymat: change ${e.input.changeId} will delete material ${e.plan.keyMaterialId} of key ${e.plan.keyArn}.`,
    'Before it is approved, a custodian of the material can prove that it can be imported again: KMS takes back only',
    'the identical material. Wrap your escrowed copy under the import parameters below and submit it',
    `before ${until}:`,
    `  keymat recovery prove ${e.executionId} --parameters FILE --wrapped WRAPPED   (wrapped with ${parameters.wrappingAlgorithm})`,
    `  keymat recovery prove ${e.executionId} --parameters FILE --material MATERIAL (the CLI wraps a plaintext copy locally and never sends it)`,
    'FILE is this message, or its last line. The public key and the import token are not secrets: the key only',
    'encrypts to KMS, and the token only lets a holder of kms:ImportKeyMaterial on this key import the material itself.',
    `Without a proof, the change ${e.plan.recoveryProof === 'required' ? 'ends RecoveryNotProven' : 'goes on, and each approver must confirm that the deletion may be irreversible'}.`,
    '',
    JSON.stringify(parameters),
  ].join('\n');
}

/** The message that asks the custodians for a restore's copy, with the same parameters line as a proof request. */
function copyRequest(e: AwaitRecoveryProofEvent, parameters: ImportParameters, until: string): string {
  return [
    `keymat: change ${e.input.changeId}, approved, restores material ${e.plan.keyMaterialId} of key ${e.plan.keyArn}, deleted before.`,
    'A custodian of the material submits the escrowed copy, wrapped under the import parameters below,',
    `before ${until}; the change imports it at once:`,
    `  keymat recovery prove ${e.executionId} --parameters FILE --wrapped WRAPPED   (wrapped with ${parameters.wrappingAlgorithm})`,
    `  keymat recovery prove ${e.executionId} --parameters FILE --material MATERIAL (the CLI wraps a plaintext copy locally and never sends it)`,
    'FILE is this message, or its last line. The public key and the import token are not secrets: the key only',
    'encrypts to KMS, and the token only lets a holder of kms:ImportKeyMaterial on this key import the material itself.',
    'Without a copy in time, the change ends RecoveryNotProven.',
    '',
    JSON.stringify(parameters),
  ].join('\n');
}

/**
 * GetImportParameters: import parameters for the plan's material, from the key's own account and Region, into the
 * execution's state. AwaitRecoveryProof publishes them; ProveRecovery and RestoreMaterial take only a copy that
 * carries their token.
 */
async function askParameters(deps: ProveRecoveryDeps, event: unknown): Promise<ImportParameters> {
  const { keys, logger } = deps;
  const e = parseEvent(taskEvent, event, PROOF_PARAMETERS_STATE);
  startInvocation(logger, { executionId: e.executionId, changeId: e.input.changeId, keyArn: e.plan.keyArn });
  const kms = await keys({ executionArn: e.executionId, changeId: e.input.changeId })(placeOfKeyArn(e.plan.keyArn));
  const { KeyMetadata: meta } = await kms('DescribeKey', { KeyId: e.plan.keyArn });
  return importParameters(kms, e.executionId, e.plan, wrappingFor(meta?.KeySpec));
}

/**
 * The custodian's copy as the proof and the restore take it: well formed, wrapped for the import token this execution
 * asked for (a token KMS still takes from another change's history, its copy beside it, proves nothing about who holds
 * the material now), and attested by the gateway. Ends RecoveryNotProven otherwise, before anything is imported.
 */
async function acceptedCopy(
  attestor: Attestor,
  e: { executionId: string; plan: Plan; submission: unknown; importParameters: ImportParameters },
): Promise<{ submission: ProofSubmission; claims: ReturnType<typeof submissionClaims> }> {
  const { plan, importParameters: asked } = e;
  const submission = parseSubmission(plan, e.submission);
  if (submission.importToken !== asked.importToken) {
    throw notProven(
      plan,
      `the copy submitted by ${submission.custodian} carries an import token this change did not ask for (it asked at GetImportParameters, valid until ${asked.parametersValidTo}); nothing was imported`,
    );
  }
  const claims = submissionClaims(e.executionId, plan, submission);
  if (!(await verifySubmission(attestor, claims, submission.mac))) {
    throw notProven(
      plan,
      `the copy submitted by ${submission.custodian} at ${submission.at} is not attested by the gateway; nothing was imported`,
    );
  }
  return { submission, claims };
}

/**
 * AwaitRecoveryProof's side: the import parameters GetImportParameters got, published to the custodians (the approval
 * topic). The state then waits for a custodian's submission on its task token, which the message does not carry.
 */
async function requestProof(deps: ProveRecoveryDeps, event: unknown): Promise<ProofRequested> {
  const { sns, config, logger } = deps;
  const e = parseEvent(awaitRecoveryProofEvent, event, PROOF_WAIT_STATE);
  startInvocation(logger, { executionId: e.executionId, changeId: e.input.changeId, keyArn: e.plan.keyArn });
  const parameters = e.importParameters;
  const until = new Date(Math.min(Date.now() + e.proofTimeoutSeconds * 1000, Date.parse(parameters.parametersValidTo)));
  const published = await sns('Publish', {
    TopicArn: config.approvalTopicArn,
    Subject: `keymat recovery proof asked: ${e.input.changeId}`.slice(0, 100),
    Message: proofRequest(e, parameters, until.toISOString()),
    MessageAttributes: {
      event: { DataType: 'String', StringValue: 'RecoveryProofRequested' },
      executionId: { DataType: 'String', StringValue: e.executionId },
      changeId: { DataType: 'String', StringValue: e.input.changeId },
      account: { DataType: 'String', StringValue: e.plan.location.account },
      region: { DataType: 'String', StringValue: e.plan.location.region },
    },
  });
  if (published.MessageId === undefined) {
    throw new Error(`SNS Publish to ${config.approvalTopicArn} returned no MessageId`);
  }
  logger.info('recovery proof requested', {
    messageId: published.MessageId,
    keyMaterialId: e.plan.keyMaterialId,
    wrappingAlgorithm: parameters.wrappingAlgorithm,
  });
  return { messageId: published.MessageId };
}

/**
 * ProveRecovery: reimports the submitted copy with `EXISTING_KEY_MATERIAL`, the material's id and its own expiry, and
 * returns the proof once the key reads exactly as before. Ends `RecoveryNotProven` when the submission is not
 * attested, KMS refuses the copy (another material, another wrapping, a stale token), or the key reads otherwise
 * afterwards; ends `PlanDrifted` when the key changed since it was planned. KMS's transient errors are rethrown as
 * they are, for the state machine to retry: a second reimport of the same material is as harmless as the first.
 */
async function prove(deps: ProveRecoveryDeps, event: unknown): Promise<RecoveryProven> {
  const { keys, attestor, logger } = deps;
  const e = parseEvent(proveRecoveryEvent, event, 'ProveRecovery');
  const plan = e.plan;
  startInvocation(logger, { executionId: e.executionId, changeId: e.input.changeId, keyArn: plan.keyArn });
  if (!proofApplies(plan)) {
    throw notProven(
      plan,
      `the deletion leaves nothing to recover (material ${plan.expectedMaterial === 'REMOVED' ? 'pending rotation' : 'already deleted'})`,
    );
  }
  const { submission, claims } = await acceptedCopy(attestor, e);

  const kms = await keys({ executionArn: e.executionId, changeId: e.input.changeId })(placeOfKeyArn(plan.keyArn));
  const before = await readKey(kms, plan.keyArn);
  const drift = compareWithPlan(before, plan);
  if (drift !== 'UNCHANGED') {
    const what = drift === 'APPLIED' ? 'the material is already deleted' : drift.drift;
    throw new KeymatError(
      'PlanDrifted',
      `key ${plan.keyArn} changed since it was planned: ${what}; nothing was imported`,
    );
  }
  const expiry = expiryToKeep(findTarget(before, plan.keyMaterialId));
  const { KeyMaterialId: imported } = await importCopy(kms, before, plan, submission, expiry, {
    logger,
    submissionDigest: claims.submissionDigest,
  });
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
}

/**
 * RestoreMaterial: imports an approved restore's copy back into the key with `EXISTING_KEY_MATERIAL` and the
 * material's id, once the approvals (as DeleteMaterial verifies them) and the gateway's attestation of the submission
 * check out and the key is still as planned. VerifyPendingImport then waits for the key to read as the plan expects.
 *
 * The material comes back with the plan's expiry (`restoreExpiry`): expiring at the approved `validTo`, or not at
 * all. KMS forgets a deleted material's ExpirationModel and ValidTo, so there is nothing of its own to keep. A
 * `validTo` that passed while the restore waited for its approvals and copy is refused `InvalidInput` before the
 * import, as KMS would refuse it. A retry that finds the material already imported with the planned expiry, and the
 * key otherwise as planned, reports the earlier attempt's import.
 */
async function restore(deps: ProveRecoveryDeps, event: unknown): Promise<RestorationResult> {
  const { keys, attestor, logger } = deps;
  const e = parseEvent(restoreMaterialEvent, event, RESTORE_STATE);
  const plan = e.plan;
  startInvocation(logger, { executionId: e.executionId, changeId: e.input.changeId, keyArn: plan.keyArn });
  const approval = parseApproval(e.approval);
  await verifyApprovals(attestor, e.executionId, approval, plan, e.input, plan.rules);
  checkApprovalTimes(approval, new Date(e.executionStartTime), new Date());
  const { submission, claims } = await acceptedCopy(attestor, e);
  const result = (kmsRequestId: string | null, appliedBy: RestorationResult['appliedBy']): RestorationResult => ({
    kmsRequestId,
    appliedBy,
    custodian: submission.custodian,
    submissionDigest: claims.submissionDigest,
    at: new Date().toISOString(),
  });

  const kms = await keys({ executionArn: e.executionId, changeId: e.input.changeId })(placeOfKeyArn(plan.keyArn));
  const before = await readKey(kms, plan.keyArn);
  const comparison = compareWithPlan(before, plan);
  if (comparison === 'APPLIED') {
    logger.warn('the material is already imported and the key as planned: an earlier attempt restored it');
    return result(null, 'EARLIER_ATTEMPT');
  }
  if (comparison !== 'UNCHANGED') {
    throw new KeymatError(
      'PlanDrifted',
      `key ${plan.keyArn} changed since the restore was approved (${comparison.drift}); start a new change to re-plan`,
    );
  }
  if (plan.validTo !== undefined && Date.parse(plan.validTo) <= Date.now()) {
    throw invalidInput(
      'validTo',
      plan.validTo,
      'has passed while the restore waited for its approvals and copy; nothing was imported: start a new restore with a later validTo',
    );
  }
  const out = await importCopy(kms, before, plan, submission, restoreExpiry(plan), {
    logger,
    submissionDigest: claims.submissionDigest,
  });
  logger.info('key material restored', {
    custodian: submission.custodian,
    keyMaterialId: plan.keyMaterialId,
    submissionDigest: claims.submissionDigest,
    kmsRequestId: out.$metadata.requestId,
    validTo: plan.validTo ?? null,
  });
  return result(out.$metadata.requestId ?? null, 'THIS_ATTEMPT');
}

/**
 * Imports a custodian's wrapped copy into the key as its planned material (`EXISTING_KEY_MATERIAL`), with `expiry`.
 * A copy KMS refuses as not the key's material ends the change RecoveryNotProven, logged by its digest only; KMS
 * imports nothing then.
 */
async function importCopy(
  kms: KmsCall,
  before: KeySnapshot,
  plan: Plan,
  submission: { custodian: string; importToken: string; wrappedKeyMaterial: string },
  expiry: ImportExpiry,
  log: { logger: Logger; submissionDigest: string },
) {
  try {
    return await kms('ImportKeyMaterial', {
      KeyId: plan.keyArn,
      ImportToken: Buffer.from(submission.importToken, 'base64'),
      EncryptedKeyMaterial: Buffer.from(submission.wrappedKeyMaterial, 'base64'),
      ImportType: 'EXISTING_KEY_MATERIAL',
      // KMS takes a KeyMaterialId for symmetric encryption keys only; the others hold a single material.
      ...(before.metadata.KeySpec === 'SYMMETRIC_DEFAULT' && { KeyMaterialId: plan.keyMaterialId }),
      ...expiry,
    });
  } catch (err) {
    if (!hasErrorName(err, ...NOT_THE_MATERIAL)) throw err;
    log.logger.warn('KMS refused the submitted copy', {
      custodian: submission.custodian,
      keyMaterialId: plan.keyMaterialId,
      error: errorName(err),
      submissionDigest: log.submissionDigest,
    });
    throw notProven(
      plan,
      `KMS refused the copy submitted by ${submission.custodian}: ${errorName(err)}: ${errorMessage(err)}; nothing was imported`,
      err,
    );
  }
}

/**
 * The proving function: at GetImportParameters (an event with the change only) it gets the import parameters; at
 * AwaitRecoveryProof (an event with the task token) it asks the custodians for the proof or a restore's copy; at ProveRecovery it reimports the copy one of them submitted; at RestoreMaterial (an event with
 * the approvals) it imports an approved restore's copy.
 */
export function createProveRecovery(
  deps: ProveRecoveryDeps,
): (event: unknown) => Promise<ImportParameters | ProofRequested | RecoveryProven | RestorationResult> {
  return async (event) => {
    const has = (field: string) => typeof event === 'object' && event !== null && field in event;
    if (has('taskToken')) return requestProof(deps, event);
    if (has('approval')) return restore(deps, event);
    if (has('submission')) return prove(deps, event);
    return askParameters(deps, event);
  };
}
