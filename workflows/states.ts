/** The workflow's state names are defined once in core, where the task functions use them too. */
export { TASK_STATES, WAIT_STATE, type TaskState } from '../core/tasks';
