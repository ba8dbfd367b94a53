import type { HistoryEvent } from '@aws-sdk/client-sfn';
import type { HeldChangeTask, PendingApprovalTask } from '../../core/history';

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
 * An approved change held by its change window, as its history shows it: WaitForChangeWindow entered, and its
 * TaskScheduled, whose parameters carry the hold's token and the whole state (the change, its plan, its approvals,
 * the check that holds it).
 */
export const windowHeld = (executionArn: string, held: HeldChangeTask): HistoryEvent[] => {
  const { taskToken, ...state } = held;
  return [
    {
      type: 'TaskStateEntered',
      id: 20,
      timestamp: new Date(),
      stateEnteredEventDetails: { name: 'WaitForChangeWindow' },
    },
    {
      type: 'TaskScheduled',
      id: 21,
      timestamp: new Date(),
      taskScheduledEventDetails: {
        resource: 'invoke.waitForTaskToken',
        resourceType: 'lambda',
        region: 'us-east-1',
        parameters: JSON.stringify({ Payload: { executionId: executionArn, state, taskToken } }),
      },
    },
  ];
};

/**
 * The states a default deployment's change enters on its way to a verified deletion, in order (quorum 1), when no
 * custodian proves recovery: the offered proof's wait ends without one.
 */
export const DELETION_PATH = [
  'ValidateOrigin',
  'CheckState',
  'RouteAfterCheck',
  'RecoveryProofAsked',
  'GetImportParameters',
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
  state === 'ProofRequired' ? ['RestoreOrProve', 'ProveRecovery'] : state === 'NoRecoveryProof' ? [] : [state],
);
