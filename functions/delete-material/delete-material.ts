import type { SnsCall } from '../../core/aws-api';
import { checkApprovalTimes, verifyApprovals } from '../../core/approvals';
import { changeEvent, type EventPublisher } from '../../core/change-events';
import type { Attestor } from '../../core/attestation';
import type { DeleteMaterialConfig } from '../../core/config';
import { KeymatError, errorName } from '../../core/errors';
import { approvedTaskEvent, parseApproval, parseEvent } from '../../core/events';
import { placeOfKeyArn } from '../../core/organisation';
import { compareWithPlan } from '../../core/plan';
import { proofClaims, restoreCommand, verifySubmission } from '../../core/recovery';
import type { ApprovalResult, ChangeInput, DeletionResult, Plan, RecoveryProven } from '../../core/types';
import { readKey } from '../runtime/aws';
import type { KeyAccess } from '../runtime/key-access';
import { startInvocation, type Logger } from '../runtime/logger';

/** The restore command as an optional field: present when the material can be restored. */
const definedRestoreCommand = (changeId: string, plan: Plan): { restoreCommand?: string } => {
  const command = restoreCommand(changeId, plan);
  return command === undefined ? {} : { restoreCommand: command };
};

/** What DeleteMaterial works with: the announcement goes to the outcome topic. */
export interface DeleteMaterialDeps {
  /** KMS on the key, in its account (the member delete role) and Region. */
  keys: KeyAccess;
  sns: SnsCall;
  /** Verifies every approval's attestation (VerifyMac with the attestation key). */
  attestor: Attestor;
  /** Publishes Deletion Announced and Key Material Deleted. */
  events: EventPublisher;
  config: DeleteMaterialConfig;
  logger: Logger;
}

/**
 * DeleteMaterial: checks the approval and that the key has not drifted from the approved plan, announces the
 * deletion, and calls DeleteImportedKeyMaterial for exactly the approved key and material.
 *
 * A retry after an ambiguous failure (KMS applied the deletion but answered 500, or the function timed out) finds
 * the key exactly in the plan's post-state and reports success without a second call.
 */
export function createDeleteMaterial({
  keys,
  sns,
  attestor,
  events,
  config,
  logger,
}: DeleteMaterialDeps): (event: unknown) => Promise<DeletionResult> {
  /**
   * Key Material Deleted, with the request id CloudTrail records the call under. The material is gone by now: an event
   * EventBridge does not take must not turn the deletion into a failure (a retry would lose the request id), so it is
   * logged, whole, instead; Deletion Announced went out before the call.
   */
  async function deleted(executionId: string, input: ChangeInput, plan: Plan, result: DeletionResult) {
    const event = changeEvent(
      'Key Material Deleted',
      {
        executionArn: executionId,
        changeId: input.changeId,
        keyArn: plan.keyArn,
        keyMaterialId: plan.keyMaterialId,
        kmsRequestId: result.kmsRequestId,
        appliedBy: result.appliedBy,
        expectedKeyState: plan.expectedKeyState,
        ...definedRestoreCommand(input.changeId, plan),
      },
      new Date(result.at),
    );
    try {
      await events.publish(event);
    } catch (err) {
      logger.error('the Key Material Deleted event was not published', { error: errorName(err), event });
    }
    return result;
  }

  /** Security monitoring sees a planned deletion before the call (structured log line, SNS and EventBridge events). */
  async function announce(
    executionId: string,
    input: ChangeInput,
    plan: Plan,
    approval: ApprovalResult,
  ): Promise<void> {
    const announcement = {
      event: 'DeletionAnnounced',
      executionId,
      changeId: input.changeId,
      keyArn: plan.keyArn,
      keyMaterialId: plan.keyMaterialId,
      requestedBy: input.requestedBy,
      approvers: approval.approvals.map((a) => a.approver),
      planDigest: plan.digest,
    };
    logger.warn('planned deletion of imported key material', announcement);
    await sns('Publish', {
      TopicArn: config.outcomeTopicArn,
      Subject: `keymat ${input.changeId}: deleting key material now`.slice(0, 100),
      Message: JSON.stringify(announcement),
      MessageAttributes: {
        event: { DataType: 'String', StringValue: 'DeletionAnnounced' },
        executionId: { DataType: 'String', StringValue: executionId },
        changeId: { DataType: 'String', StringValue: input.changeId },
      },
    });
    await events.publish(
      changeEvent(
        'Deletion Announced',
        {
          executionArn: executionId,
          changeId: input.changeId,
          keyArn: plan.keyArn,
          keyMaterialId: plan.keyMaterialId,
          requestedBy: input.requestedBy,
          approvedBy: announcement.approvers,
          planDigest: plan.digest,
        },
        new Date(),
      ),
    );
  }

  /**
   * The recovery proof the approvals are bound to, checked again: made for this plan's material, on a submission the
   * gateway attested for this execution. Refuses ApprovalInvalid otherwise.
   */
  async function verifiedProof(
    executionId: string,
    plan: Plan,
    proof: RecoveryProven | undefined,
  ): Promise<RecoveryProven | undefined> {
    if (proof === undefined) return undefined;
    const forPlan = proof.keyArn === plan.keyArn && proof.keyMaterialId === plan.keyMaterialId;
    if (!forPlan || !(await verifySubmission(attestor, proofClaims(executionId, proof), proof.attestation.mac))) {
      throw new KeymatError(
        'ApprovalInvalid',
        `the recovery proof by ${proof.provedBy} of material ${proof.keyMaterialId} is not one keymat attested for this execution and plan; nothing was deleted`,
      );
    }
    return proof;
  }

  return async (event) => {
    const e = parseEvent(approvedTaskEvent, event, 'DeleteMaterial');
    startInvocation(logger, { executionId: e.executionId, changeId: e.input.changeId, keyArn: e.plan.keyArn });
    const approval = parseApproval(e.approval);
    const proof = await verifiedProof(e.executionId, e.plan, e.recovery.proof);
    await verifyApprovals(attestor, e.executionId, approval, e.plan, e.input, e.plan.rules, proof);
    checkApprovalTimes(approval, new Date(e.executionStartTime), new Date());

    const kms = await keys({ executionArn: e.executionId, changeId: e.input.changeId })(placeOfKeyArn(e.plan.keyArn));
    const comparison = compareWithPlan(await readKey(kms, e.plan.keyArn), e.plan);
    if (comparison === 'APPLIED') {
      logger.warn('the key is already in the approved post-state: an earlier attempt deleted the material');
      return deleted(e.executionId, e.input, e.plan, {
        kmsRequestId: null,
        appliedBy: 'EARLIER_ATTEMPT',
        at: new Date().toISOString(),
      });
    }
    if (comparison !== 'UNCHANGED') {
      throw new KeymatError(
        'PlanDrifted',
        `key ${e.plan.keyArn} changed since the plan was approved (${comparison.drift}); start a new change to re-plan`,
      );
    }

    await announce(e.executionId, e.input, e.plan, approval);
    let kmsRequestId: string | null;
    try {
      const result = await kms('DeleteImportedKeyMaterial', {
        KeyId: e.plan.keyArn,
        KeyMaterialId: e.plan.keyMaterialId,
      });
      kmsRequestId = result.$metadata.requestId ?? null;
    } catch (err) {
      const requestId = (err as { $metadata?: { requestId?: string } }).$metadata?.requestId;
      logger.error('DeleteImportedKeyMaterial failed', { error: errorName(err), kmsRequestId: requestId });
      throw err;
    }
    logger.info('key material deleted', { keyMaterialId: e.plan.keyMaterialId, kmsRequestId });
    return deleted(e.executionId, e.input, e.plan, {
      kmsRequestId,
      appliedBy: 'THIS_ATTEMPT',
      at: new Date().toISOString(),
    });
  };
}
