/**
 * The workflow's state names: part of the contract (shared/design.md). Each task state has a function folder of the
 * same name in kebab case under functions/.
 */
export const TASK_STATES = [
  'ValidateOrigin',
  'CheckState',
  'RequestApproval',
  'DeleteMaterial',
  'VerifyPendingImport',
  'NotifyOutcome',
] as const;

export type TaskState = (typeof TASK_STATES)[number];

export const WAIT_STATE = 'WaitForPropagation';
