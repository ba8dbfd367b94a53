/** Where the local stack serves the approval page (the Lambda Function URL's stand-in). */
export const APPROVAL_PAGE_PATH = '/approval';

/** Where the local stack serves the gateway: `POST /gateway/changes`, `/gateway/approve`, `/gateway/reject`. */
export const GATEWAY_PATH = '/gateway';

/** The local deletion state machine's ARN; its executions are named as in AWS. */
export const localStateMachineArn = (region: string, account: string): string =>
  `arn:aws:states:${region}:${account}:stateMachine:keymat-deletion`;

/** The generated definitions' files in local/ (and dist/): without and with the freeze-window states. */
export const DEFINITION_FILES = {
  default: 'workflow.asl.json',
  changeWindow: 'workflow-change-window.asl.json',
} as const;

/** The calendar the build names to synthesize the freeze-window states (calendars are not in the definition). */
export const DEFINITION_CALENDAR = 'keymat-definition';
