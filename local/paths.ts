/** Where the local stack serves the approval page (the Lambda Function URL's stand-in). */
export const APPROVAL_PAGE_PATH = '/approval';

/** Where the local stack serves the gateway: `POST /gateway/changes`, `/gateway/approve`, `/gateway/reject`. */
export const GATEWAY_PATH = '/gateway';

/** The local deletion state machine's ARN; its executions are named as in AWS. */
export const localStateMachineArn = (region: string, account: string): string =>
  `arn:aws:states:${region}:${account}:stateMachine:keymat-deletion`;
