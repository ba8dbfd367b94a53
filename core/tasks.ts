/**
 * The workflow's state names: part of the contract. Each task state has a function folder of the same name in kebab
 * case under functions/, and Step Functions' Retry and Catch rules, the local engine and the task factories are keyed
 * by these names.
 */
export const TASK_STATES = [
  'ValidateOrigin',
  'CheckState',
  'ProveRecovery',
  'RequestApproval',
  'DeleteMaterial',
  'VerifyPendingImport',
  'NotifyOutcome',
] as const;

/** One of the Lambda task states every workflow has. */
export type TaskState = (typeof TASK_STATES)[number];

/**
 * The task a workflow has only when its deployment names change calendars: between the last approval and
 * DeleteMaterial, it holds the change while a calendar is CLOSED.
 */
export const CHANGE_WINDOW_TASK = 'CheckChangeWindow';

/** Any of the workflow's Lambda task states, the optional one included. */
export type AnyTaskState = TaskState | typeof CHANGE_WINDOW_TASK;

/** Every Lambda task state a workflow may have. */
export const ALL_TASK_STATES: readonly AnyTaskState[] = [...TASK_STATES, CHANGE_WINDOW_TASK];

/** The Wait state between DeleteMaterial and VerifyPendingImport (its seconds come from the input). */
export const WAIT_STATE = 'WaitForPropagation';

/** The Wait state that holds an approved change until its change calendars' next transition. */
export const WINDOW_WAIT_STATE = 'WaitForChangeWindow';

/**
 * The callback state of the proving function (ProveRecovery's): it publishes the import parameters and waits for a
 * custodian's submission (a proof, or a restore's copy) on its task token. One function serves both proof states and
 * RESTORE_STATE, so that only it holds kms:GetParametersForImport and kms:ImportKeyMaterial.
 */
export const PROOF_WAIT_STATE = 'AwaitRecoveryProof';

/**
 * The proving function's state before PROOF_WAIT_STATE: it gets the import parameters into the execution's state, so
 * that the proof (or a restore) accepts only a copy wrapped for this execution's own token, never one replayed from
 * another change's history.
 */
export const PROOF_PARAMETERS_STATE = 'GetImportParameters';

/**
 * The task state that imports an approved restore's copy (docs/recovery.md). The proving function serves it too, so
 * that the import operations stay with that one function.
 */
export const RESTORE_STATE = 'RestoreMaterial';
