/** The data that flows between the workflow's states. Every task receives and returns these shapes. */

/** The execution input after ValidateOrigin parsed it and applied defaults. */
export interface ChangeInput {
  keyId: string;
  keyMaterialId?: string;
  changeId: string;
  reason: string;
  requestedBy: string;
  waitSeconds: number;
  dryRun: boolean;
}

export type MaterialState = 'CURRENT' | 'NON_CURRENT' | 'PENDING_ROTATION' | 'PENDING_MULTI_REGION_IMPORT_AND_ROTATION';

/** What the deletion will do, computed once by ValidateOrigin and approved as a whole (through its digest). */
export interface Plan {
  keyArn: string;
  aliases: string[];
  origin: string;
  currentKeyMaterialId?: string;
  keyMaterialId: string;
  keyMaterialState: MaterialState;
  importStateBefore: 'IMPORTED' | 'PENDING_IMPORT';
  materialValidTo?: string;
  keyStateBefore: string;
  /** The key state VerifyPendingImport must see afterwards. */
  expectedKeyState: string;
  /** Whether the material stays listed as PENDING_IMPORT (permanently associated) or disappears (pending rotation). */
  expectedMaterial: 'PENDING_IMPORT' | 'REMOVED';
  alreadyDeleted: boolean;
  multiRegion: { role: 'PRIMARY' | 'REPLICA' | 'NONE'; replicas: string[]; replicasAffected: string[] };
  lastUsage: { known: boolean; operation?: string; at?: string; trackingStartDate?: string };
  /** What an approver should weigh: an alias still pointing at a key about to become unusable, a recent use. */
  warnings: string[];
  /** SHA-256 over the facts the approver approves; DeleteMaterial refuses when the key no longer matches it. */
  digest: string;
}

export interface Approval {
  approver: string;
  at: string;
  channel: string;
  comment?: string;
}

/** Who may approve and how many must: fixed in the state machine definition from the deployment's configuration. */
export interface ApprovalRules {
  /** Distinct approvers needed. */
  quorum: number;
  /** When not empty, only these identities may approve. */
  allowedApprovers: string[];
}

/** What SendTaskSuccess returns to RequestApproval: the decisions and the plan digest they were made on. */
export interface ApprovalResult {
  planDigest: string;
  approvals: Approval[];
}

export interface DeletionResult {
  /** KMS request id of the DeleteImportedKeyMaterial call, for CloudTrail; null when an earlier attempt applied it. */
  kmsRequestId: string | null;
  appliedBy: 'THIS_ATTEMPT' | 'EARLIER_ATTEMPT';
  at: string;
}

export interface VerificationResult {
  keyStateAfter: string;
  materialAfter: 'PENDING_IMPORT' | 'REMOVED';
  verifiedAt: string;
}

export type CheckDecision = 'PROCEED' | 'ALREADY_DELETED';

/** The state machine's data as it reaches NotifyOutcome; `input` is missing when ValidateOrigin refused it. */
export interface WorkflowState {
  input?: ChangeInput;
  plan?: Plan;
  check?: { decision: CheckDecision };
  approval?: ApprovalResult;
  deletion?: DeletionResult;
  verification?: VerificationResult;
  error?: { Error: string; Cause?: string };
}

export type OutcomeStatus = 'DELETED' | 'ALREADY_DELETED' | 'PLANNED' | 'REJECTED' | 'TIMED_OUT' | 'REFUSED' | 'FAILED';

/** The execution's output (and the outcome message's body). */
export interface Outcome {
  status: OutcomeStatus;
  changeId?: string;
  keyArn?: string;
  keyMaterialId?: string;
  keyStateBefore?: string;
  keyStateAfter?: string;
  approvals: Approval[];
  kmsRequestId: string | null;
  error?: string;
  cause?: string;
}
