/**
 * The names keymat reads and makes, spelled once: key ids, key ARNs, aliases, key material ids, change ids, and the
 * execution a change runs under. ValidateOrigin, the CLI, the runbook document and the deployment configuration all
 * check against these patterns.
 */

/**
 * An AWS partition, as the source of a regular expression that every ARN pattern here (and core/identity.ts) builds
 * on: `aws`, `aws-cn`, `aws-us-gov`, `aws-iso`, `aws-iso-b`, `aws-iso-e`, `aws-iso-f`, `aws-eusc`, and any partition
 * named the same way later. Not a capturing group.
 */
export const PARTITION = 'aws(?:-[a-z]+)*';

const KEY_ID_BODY = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|mrk-[0-9a-f]{32}';
const KEY_ARN_PREFIX = `arn:${PARTITION}:kms:[a-z0-9-]+:\\d{12}:key\\/`;

/** A bare key id: a UUID, or `mrk-` and 32 hex digits for a multi-Region key. */
export const KEY_ID = new RegExp(`^(${KEY_ID_BODY})$`);

/** A KMS key ARN: partition, Region, account, and `key/` followed by a key id. */
export const KEY_ARN = new RegExp(`^${KEY_ARN_PREFIX}(${KEY_ID_BODY})$`);

/** A key id or a key ARN, as one pattern (for the runbook document's parameters). */
export const KEY_ID_OR_ARN = new RegExp(`^(${KEY_ARN_PREFIX})?(${KEY_ID_BODY})$`);

/** An alias name (`alias/…`) or alias ARN: DeleteImportedKeyMaterial takes neither, so keymat refuses both. */
export const ALIAS = new RegExp(`^(arn:${PARTITION}:kms:[a-z0-9-]*:\\d{12}:)?alias\\/`);

/** Any ARN, split into partition, service, Region, account and resource. */
export const ARN = new RegExp(`^arn:(${PARTITION}):([a-z0-9-]*):([a-z0-9-]*):(\\d{12}|):(.*)$`);

/** An IAM role name as IAM allows it (a session-bound role is named so, not by its ARN). */
export const IAM_ROLE_NAME = /^[\w+=,.@-]{1,64}$/;

/** A KeyMaterialId: 64 lower-case hex digits. */
export const KEY_MATERIAL_ID = /^[a-f0-9]{64}$/;

/** A change id: 1-64 letters, digits, `.`, `_` or `-`, starting with a letter or digit (it names the execution). */
export const CHANGE_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/**
 * A Change Calendar: the name of its SSM document (3-128 letters, digits, `_`, `-` or `.`) or the document's ARN.
 * The name is a file name in the local stack's state folder, so nothing else is allowed in it.
 */
export const CALENDAR_NAME = /^[A-Za-z0-9_.-]{3,128}$/;
export const CALENDAR_ARN = new RegExp(`^arn:${PARTITION}:ssm:[a-z0-9-]+:\\d{12}:document\\/([A-Za-z0-9_.-]{3,128})$`);

/**
 * Checks a calendar name or ARN as the configuration gives it.
 *
 * @throws RangeError naming the value, when it is neither
 */
export function checkCalendarName(name: string): string {
  if (CALENDAR_NAME.test(name) || CALENDAR_ARN.test(name)) return name;
  throw new RangeError(
    `change calendar '${name}' is neither an SSM document name (3-128 letters, digits, '_', '-' or '.') nor an SSM document ARN`,
  );
}

/**
 * A comma-separated list of calendar names or ARNs, each checked (blanks around and between them ignored).
 *
 * @throws RangeError naming the first that is neither
 */
export const calendarList = (text: string): string[] =>
  text
    .split(',')
    .map((name) => name.trim())
    .filter(Boolean)
    .map(checkCalendarName);

/** A Lambda function's ARN (unqualified, or with a version or alias): the change-ticket check. */
export const FUNCTION_ARN = new RegExp(
  `^arn:${PARTITION}:lambda:[a-z0-9-]+:\\d{12}:function:[A-Za-z0-9_-]{1,64}(:[A-Za-z0-9$_-]{1,128})?$`,
);

/** An EventBridge event bus: its name (`default` is the account's own bus) or its ARN. */
export const EVENT_BUS = new RegExp(
  `^([A-Za-z0-9._\\-/]{1,256}|arn:${PARTITION}:events:[a-z0-9-]+:\\d{12}:event-bus\\/[A-Za-z0-9._\\-/]{1,256})$`,
);

/** Whether a key id names an alias (`alias/…` or an alias ARN) rather than a key. */
export const isAlias = (keyId: string): boolean => ALIAS.test(keyId);

/** The execution name a change runs under: one per change id, so starting the same change twice is idempotent. */
export const executionNameFor = (changeId: string): string => `keymat-${changeId}`;

/** The ARN of a state machine's execution of that name. */
export const executionArnOf = (stateMachineArn: string, name: string): string =>
  `${stateMachineArn.replace(':stateMachine:', ':execution:')}:${name}`;

/** An execution's name: the last field of its ARN. */
export const executionNameOf = (executionArn: string): string => executionArn.slice(executionArn.lastIndexOf(':') + 1);

/** The state machine an execution ARN belongs to: `…:execution:MACHINE:NAME` → `…:stateMachine:MACHINE`. */
export function stateMachineArnOf(executionArn: string): string {
  const m = /^(arn:[^:]+:states:[^:]*:\d{12}):execution:([^:]+):[^:]+$/.exec(executionArn);
  if (!m) {
    throw new Error(`'${executionArn}' is not a Step Functions execution ARN (arn:…:states:…:execution:MACHINE:NAME)`);
  }
  return `${m[1]}:stateMachine:${m[2]}`;
}

/** The Region of an ARN (its fourth field), e.g. the Region a state machine runs in. */
export function regionOfArn(arn: string): string {
  const m = ARN.exec(arn);
  if (!m?.[3]) throw new Error(`'${arn}' is not an ARN with a Region; expected arn:<partition>:<service>:<region>:…`);
  return m[3];
}

/** The account and Region a state machine (or any regional ARN) belongs to: where its changes may delete. */
export function scopeOfStateMachine(arn: string): { account: string; region: string } {
  const m = ARN.exec(arn);
  if (!m?.[3] || !m[4]) throw new Error(`'${arn}' is not an ARN with a Region and an account`);
  return { region: m[3], account: m[4] };
}

/** The `source` of every keymat event (custom sources may not start with `aws.`). */
export const EVENT_SOURCE = 'keymat';

/** Where in the results bucket the map writes each run's results (`<prefix>/<map run id>/manifest.json`). */
export const FLEET_RESULTS_PREFIX = 'fleet-scan-results';

/**
 * The hub stack's output naming the fleet scan's state machine (only with members), which `keymat scan --org` reads
 * the runs of.
 */
export const FLEET_SCAN_STATE_MACHINE_OUTPUT = 'FleetScanStateMachineArn';
