/**
 * The workflow's state names: part of the contract. Each task state has a function folder of the same name in kebab
 * case under functions/, and Step Functions' Retry and Catch rules, the local engine and the task factories are keyed
 * by these names.
 */
export const TASK_STATES = [
  'ValidateOrigin',
  'CheckState',
  'RequestApproval',
  'DeleteMaterial',
  'VerifyPendingImport',
  'NotifyOutcome',
] as const;

/** One of the workflow's Lambda task states. */
export type TaskState = (typeof TASK_STATES)[number];

/** The Wait state between DeleteMaterial and VerifyPendingImport (its seconds come from the input). */
export const WAIT_STATE = 'WaitForPropagation';
