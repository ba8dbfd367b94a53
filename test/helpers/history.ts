import type { HistoryEvent } from '@aws-sdk/client-sfn';
import type { PendingApprovalTask } from '../../core/history';

/**
 * The history event through which approvers' tools find a pending approval: RequestApproval's TaskScheduled, whose
 * parameters carry the task token, the change, its plan (with its approval rules) and the approvals so far.
 */
export const approvalScheduled = (executionArn: string, task: PendingApprovalTask): HistoryEvent => ({
  type: 'TaskScheduled',
  id: 5,
  timestamp: new Date(),
  taskScheduledEventDetails: {
    resource: 'invoke.waitForTaskToken',
    resourceType: 'lambda',
    region: 'us-east-1',
    parameters: JSON.stringify({ Payload: { executionId: executionArn, approvalTimeoutSeconds: 3600, ...task } }),
  },
});

/**
 * The states a default deployment's change enters on its way to a verified deletion, in order (quorum 1), when no
 * custodian proves recovery: the offered proof's wait ends without one.
 */
export const DELETION_PATH = [
  'ValidateOrigin',
  'CheckState',
  'RouteAfterCheck',
  'RecoveryProofAsked',
  'AwaitRecoveryProof',
  'ProofRequired',
  'NoRecoveryProof',
  'StartApprovals',
  'RequestApproval',
  'CountApprovals',
  'QuorumReached',
  'DeleteMaterial',
  'WaitForPropagation',
  'VerifyPendingImport',
  'NotifyOutcome',
  'Finish',
  'Succeeded',
];

/** The same path when a custodian proves recovery before the approval. */
export const PROVEN_DELETION_PATH = DELETION_PATH.flatMap((state) =>
  state === 'ProofRequired' ? ['ProveRecovery'] : state === 'NoRecoveryProof' ? [] : [state],
);
