/** The workflow's state names are defined once in core, where the task functions use them too. */
export {
  ALL_TASK_STATES,
  CHANGE_WINDOW_TASK,
  PROOF_PARAMETERS_STATE,
  PROOF_WAIT_STATE,
  RESTORE_STATE,
  TASK_STATES,
  WAIT_STATE,
  WINDOW_WAIT_STATE,
  type AnyTaskState,
  type TaskState,
} from '../core/tasks';
