/**
 * The local stack's fixed names and values, in one place: its account and Region, the public credentials, the state
 * folder's files, the paths it serves, and its resources named as the deployed stack names them. This module imports
 * nothing, so every part of local/ (and the CLI, the bench, the build) may use it.
 */

/** The account every local resource belongs to (AWS's documentation example account). */
export const LOCAL_ACCOUNT_ID = '111122223333';

/** The Region of the local stack's resources, and of a request that carries no signature. */
export const DEFAULT_REGION = 'us-east-1';

/**
 * The roles whose session name identifies a person on the local stack, as a deployment's `sessionBoundRoles`: none, so
 * its gateway identifies a session of a role (but an IAM Identity Center one) as the role, and its approver and
 * custodian lists are told apart as the gateway identifies callers.
 */
export const LOCAL_SESSION_BOUND_ROLES: readonly string[] = [];

/**
 * The public credentials for the local stack, for anyone's calls (`keymat local kms`, tests, the AWS CLI). They are
 * not keymat's internal credentials: the attestation key and the approval-link secret refuse them.
 */
export const LOCAL_CREDENTIALS = {
  accessKeyId: 'AKIAKEYMATLOCAL',
  secretAccessKey: 'keymat-local-secret',
};

/**
 * The public credentials of an account other than the local hub's: a caller signing with them is the user
 * `AKIAKEYMATLOCAL` of `account` (`keymat local kms create-key --account`), and acts on that account's keys.
 */
export const localCredentialsFor = (account: string): typeof LOCAL_CREDENTIALS =>
  account === LOCAL_ACCOUNT_ID
    ? { ...LOCAL_CREDENTIALS }
    : { ...LOCAL_CREDENTIALS, accessKeyId: `${LOCAL_CREDENTIALS.accessKeyId}${account}` };

/** The local stack's state folder, relative to the working directory. */
export const DEFAULT_STATE_DIR = '.keymat';

/** The state database in the state folder: keys, executions, the outboxes and the request log. */
export const STATE_DB = 'state.db';

/** keymat's internal credentials in the state folder (mode 0600). */
export const INTERNAL_KEY_FILE = 'internal-access-key';

/** The approval-link secret in the state folder (mode 0600). */
export const LINK_SECRET_FILE = 'approval-link-secret';

/** The state folder's Change Calendars, one JSON file each (`keymat local calendar set`). */
export const CALENDARS_DIR = 'calendars';

/** The state folder's change tickets, one JSON file each (`keymat local ticket set`). */
export const TICKETS_DIR = 'change-tickets';

/** The state folder's organisation: its accounts, OUs and the member roles (`keymat local org …`). */
export const ORGANIZATION_FILE = 'organization.json';

/** Where the local stack serves the approval page (the Lambda Function URL's stand-in). */
export const APPROVAL_PAGE_PATH = '/approval';

/** Where the local stack serves the gateway: `POST /gateway/changes`, `/gateway/approve`, `/gateway/reject`. */
export const GATEWAY_PATH = '/gateway';

/** The local deletion state machine's ARN in `region` and `account`; its executions are named as in AWS. */
export const localStateMachineArn = (region: string, account: string): string =>
  `arn:aws:states:${region}:${account}:stateMachine:keymat-deletion`;

/** The local deletion state machine's ARN in the local account and Region, where `keymat local serve` runs it. */
export const LOCAL_STATE_MACHINE_ARN = localStateMachineArn(DEFAULT_REGION, LOCAL_ACCOUNT_ID);

/** The alias the attestation key is found by again after a restart. */
export const ATTESTATION_KEY_ALIAS = 'alias/keymat-attestation';

/** The local S3's one bucket: the fleet scan's results, as the deployed hub's results bucket holds them. */
export const FLEET_RESULTS_BUCKET = 'keymat-fleet-scan-results';

/** The approval-link secret's name: the local Secrets Manager answers it for any SecretId. */
export const LINK_SECRET_NAME = 'keymat-approval-links';

/** The local change-ticket check function: `keymat local serve --change-ticket-check` has ValidateOrigin invoke it. */
export const LOCAL_TICKET_FUNCTION_ARN = `arn:aws:lambda:${DEFAULT_REGION}:${LOCAL_ACCOUNT_ID}:function:keymat-local-change-tickets`;

/**
 * The ARNs of the local stack's topics, link secret and attestation key in `region` and `account`; the attestation key
 * is made at the state folder's first start, so its ARN is passed in.
 */
export const localResources = (region: string, account: string, attestationKeyArn: string) => ({
  approvalTopicArn: `arn:aws:sns:${region}:${account}:keymat-approvals`,
  outcomeTopicArn: `arn:aws:sns:${region}:${account}:keymat-outcomes`,
  linkSecretArn: `arn:aws:secretsmanager:${region}:${account}:secret:${LINK_SECRET_NAME}`,
  attestationKeyArn,
});

/**
 * The generated definitions' files in local/workflow/ (and dist/): without and with the freeze-window states. The
 * build writes them; local/workflow/definition.ts imports them.
 */
export const DEFINITION_FILES = {
  default: 'workflow.asl.json',
  changeWindow: 'workflow-change-window.asl.json',
} as const;

/** The calendar the build names to synthesize the freeze-window states (calendars are not in the definition). */
export const DEFINITION_CALENDAR = 'keymat-definition';
