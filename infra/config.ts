import { Aws, Duration, Token } from 'aws-cdk-lib';
import type { IEventBus } from 'aws-cdk-lib/aws-events';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { ScheduleExpression } from 'aws-cdk-lib/aws-scheduler';
import {
  DEFAULT_APPROVAL_PAGE_IDENTITY_CLAIM,
  DEFAULT_APPROVAL_TIMEOUT_SECONDS,
  DEFAULT_EVENT_BUS,
  DEFAULT_LOG_RETENTION_DAYS,
  DEFAULT_PROOF_TIMEOUT_SECONDS,
  DEFAULT_QUORUM,
  DEFAULT_RESTORE_QUORUM,
  DEFAULT_RECENT_USE_DAYS,
  DEFAULT_RECOVERY_PROOF,
  DEFAULT_SCAN_EXPIRES_WITHIN_DAYS,
  DEFAULT_SCAN_LIMITS as CORE_SCAN_LIMITS,
  DEFAULT_SCAN_RETIRE_TAG,
  DEFAULT_TASK_TIMEOUT_SECONDS,
  DEFAULT_VERIFY_MAX_ATTEMPTS,
  DEFAULT_WAIT_SECONDS,
  DEFAULT_WINDOW_WAIT_SECONDS,
  MAX_PROOF_TIMEOUT_SECONDS,
  MAX_WAIT_SECONDS,
  MAX_WINDOW_WAIT_SECONDS,
} from '../core/defaults';
import { RECOVERY_PROOF_MODES, type RecoveryProofMode } from '../core/types';
import { distinctApprovers, InvalidIdentityError, unreachableQuorum } from '../core/identity';
import { checkCalendarName, EVENT_BUS, FUNCTION_ARN, IAM_ROLE_NAME } from '../core/naming';
import { DEFAULT_FLEET_MAX_CONCURRENCY, DEFAULT_FLEET_TOLERATED_FAILURE_PERCENTAGE } from '../core/defaults';
import { approvalRuleSchema, membersSchema, type ApprovalRule, type Members } from '../core/organisation';
import { scanLimitsSchema, scanPolicySchema, type ScanLimits, type ScanPolicy } from '../core/scan-policy';
import { ConfigurationError } from '../core/errors';
import { KeyScopeGrants, type KeyScope } from './key-scope';
import { parsedProp as parsed, refuse, settingShown } from './refusals';

/** The approval page's identity mode: an HTTP API whose JWT authorizer admits only tokens of this issuer and audience. */
export interface ApprovalPageIdentity {
  /** The token issuer (`iss`), an https URL, e.g. `https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Example`. */
  readonly issuer: string;
  /** The audiences (`aud`) a token may be for; at least one. */
  readonly audience: readonly string[];
  /**
   * The claim that names the signed-in user, compared with the link's approver.
   * @default 'email'
   */
  readonly claim?: string;
}

/** keymat's own props: every one optional; the deploying page documents each. */
export interface KeymatProps {
  /**
   * Principals allowed to approve, as principal ARNs or ARN patterns where `*` stands for any characters within a
   * segment (e.g. `arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_KeyApprovers_*\/*`). Two entries naming the
   * same approver in canonical form (IAM names ignore case; a session of a role that is not session-bound is the role)
   * are refused.
   * @default [] anyone but the requester
   */
  readonly approvers?: readonly string[];
  /**
   * Principals allowed to submit a custodian's copy of the material (`keymat recovery prove`), in the form of
   * `approvers`. Anyone else is refused `ProofRefused` by the gateway before the change is touched.
   * @default [] anyone who may call the gateway
   */
  readonly custodians?: readonly string[];
  /**
   * Distinct approvers a change needs.
   * @default 1
   */
  readonly quorum?: number;
  /**
   * Distinct approvers a restore (`keymat restore`: a deleted material imported back) needs, from the same approvers
   * as the key's deletions.
   * @default 1
   */
  readonly restoreQuorum?: number;
  /**
   * Roles whose session name a policy pins (`sts:RoleSessionName` or `sts:SourceIdentity`), so that the gateway takes
   * each session of them as its own person; by role name.
   * @default [] only IAM Identity Center roles keep their session name
   */
  readonly sessionBoundRoles?: readonly string[];
  /**
   * How long an approval round waits for a decision before the change ends ApprovalTimedOut; whole seconds, from
   * 1 minute to 7 days.
   * @default Duration.hours(24)
   */
  readonly approvalTimeout?: Duration;
  /**
   * Addresses subscribed to the approval requests and the outcomes.
   * @default [] no email subscriptions
   */
  readonly notificationEmails?: readonly string[];
  /**
   * How long WaitForPropagation waits when a change gives no `waitSeconds`; whole seconds, at most an hour.
   * @default Duration.seconds(30)
   */
  readonly defaultWait?: Duration;
  /**
   * Attempts VerifyPendingImport makes before a change ends VerificationFailed; from 1 to 20.
   * @default 8
   */
  readonly verifyMaxAttempts?: number;
  /**
   * How long each Lambda task state may take before Step Functions fails it with States.Timeout; up to 15 minutes.
   * @default Duration.seconds(60)
   */
  readonly taskTimeout?: Duration;
  /**
   * How strongly changes are asked for a recovery proof before their approval (docs/recovery.md): `required`,
   * `offered` (an unproven change needs each approver's confirmation that it may be irreversible) or `off`. A change
   * may ask for a stricter mode, never a weaker one.
   * @default 'offered'
   */
  readonly recoveryProof?: RecoveryProofMode;
  /**
   * How long a change waits for a custodian's recovery proof; whole seconds, at most 23 hours (an import token lasts
   * 24).
   * @default Duration.hours(4)
   */
  readonly proofTimeout?: Duration;
  /**
   * A use of the key within this period makes the plan warn the approver; whole days.
   * @default Duration.days(30)
   */
  readonly recentUse?: Duration;
  /**
   * How long the functions', the workflow's and the approval page API's logs are kept.
   * @default RetentionDays.ONE_YEAR
   */
  readonly logRetention?: RetentionDays;
  /**
   * The keys the functions may read and delete material from.
   * @default { tag: { key: 'keymat:managed', value: 'true' } }
   */
  readonly keyScope?: KeyScope;
  /**
   * When the expiry scan runs.
   * @default none: the scan runs only when invoked
   */
  readonly scanSchedule?: ScheduleExpression;
  /**
   * Which materials the expiry scan retires.
   * @default { expiresWithinDays: 30, retireTag: 'keymat:retire-on' }
   */
  readonly scanPolicy?: ScanPolicy;
  /**
   * The expiry scan's pace and the changes one run may start.
   * @default DEFAULT_SCAN_LIMITS
   */
  readonly scanLimits?: ScanLimits;
  /**
   * Puts the approval page behind a JWT authorizer, so that it knows who clicks.
   * @default none: the page is possession-based (the signed link alone admits a request)
   */
  readonly approvalPageIdentity?: ApprovalPageIdentity;
  /**
   * SSM Change Calendars (document names or ARNs) that must all be OPEN for a deletion to run.
   * @default [] no freeze windows
   */
  readonly changeCalendars?: readonly string[];
  /**
   * How long an approved change may wait for its calendars to open before it ends ChangeWindowClosed; from a minute
   * to 180 days, and only with `changeCalendars`.
   * @default Duration.days(7)
   */
  readonly changeWindowMaxWait?: Duration;
  /**
   * The organisation's change-ticket check (docs/change-management.md gives its contract): a function, or its ARN
   * (unqualified, or with a version or alias).
   * @default none: change ids are not checked
   */
  readonly changeTicketCheck?: IFunction | string;
  /**
   * The EventBridge bus the change events go to: a bus, or its name or ARN.
   * @default 'default', the account's own bus
   */
  readonly eventBus?: IEventBus | string;
  /**
   * Calls AWS through FIPS endpoints: every function gets `AWS_USE_FIPS_ENDPOINT=true`.
   * @default false
   */
  readonly fips?: boolean;
  /**
   * The organisation's member accounts and Regions the hub acts in, each through the member roles
   * (`KeymatMembersStack` deploys them). With it, the reading tasks may assume the member read role, DeleteMaterial
   * the member delete role, in the organisation's accounts only, and ValidateOrigin may read the accounts and OUs
   * from Organizations.
   * @default none: the hub acts in its own account and Region only, and needs no member roles
   */
  readonly members?: Members;
  /**
   * Approval rules by account or OU, in order: the first that matches a key's account sets the quorum and the
   * approvers of its changes. Each rule's approvers are checked as `approvers` are. Only with `members`.
   * @default [] every change takes `quorum` and `approvers`
   */
  readonly approvalRules?: readonly ApprovalRule[];
  /**
   * The fleet scan's children running at once (one per member account and Region, each within that account's own
   * KMS quotas). Only with `members`.
   * @default DEFAULT_FLEET_MAX_CONCURRENCY (100)
   */
  readonly fleetScanMaxConcurrency?: number;
  /**
   * The share of the fleet scan's children that may fail before the run fails; each failure is reported in Scan
   * Completed either way. Only with `members`.
   * @default DEFAULT_FLEET_TOLERATED_FAILURE_PERCENTAGE (100: one broken account never stops the run)
   */
  readonly fleetScanToleratedFailurePercentage?: number;
}

/** The props with their defaults, checked: what the stack builds from (the key scope as its grants). */
export type ResolvedProps = Required<
  Omit<
    KeymatProps,
    'keyScope' | 'scanSchedule' | 'approvalPageIdentity' | 'changeTicketCheck' | 'members' | 'approvalRules'
  >
> &
  Pick<KeymatProps, 'scanSchedule' | 'changeTicketCheck'> & {
    readonly keys: KeyScopeGrants;
    /** The key scope as given: the member roles are scoped by it too. */
    readonly keyScope: KeyScope;
    readonly approvalPageIdentity?: Required<ApprovalPageIdentity>;
    readonly members?: Members;
    readonly approvalRules: ApprovalRule[];
  };

/** The scan's default pace (core/defaults.ts), as the scan's limits. */
export const DEFAULT_SCAN_LIMITS: ScanLimits = CORE_SCAN_LIMITS;

/** The scan's default policy: materials expiring within 30 days, and keys tagged for retirement. */
export const DEFAULT_SCAN_POLICY: ScanPolicy = {
  expiresWithinDays: DEFAULT_SCAN_EXPIRES_WITHIN_DAYS,
  retireTag: DEFAULT_SCAN_RETIRE_TAG,
};

/** The tag that puts a key in scope when the props name no key scope. */
export const DEFAULT_KEY_TAG = { key: 'keymat:managed', value: 'true' };

/**
 * The shortest approval round a deployment takes: a round must outlast the request's delivery and a person's answer.
 * The workflow construct and the local stack take shorter rounds, which tests of the timeout use.
 */
const MIN_APPROVAL_TIMEOUT_SECONDS = 60;

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
/** A JWT claim name: registered names (`email`) and collision-resistant URIs (`https://example.com/claims/upn`). */
const CLAIM_NAME = /^[\w:/.#@-]{1,256}$/;
/** An EventBridge Scheduler expression as the context gives it. */
const SCHEDULE = /^(cron|rate)\(.+\)$/;

const oneOf = <T extends string>(prop: string, allowed: readonly T[], value: T): T =>
  allowed.includes(value) ? value : refuse(prop, `one of ${allowed.join(', ')}`, value);

const wholeNumber = (prop: string, value: number, min: number, max: number): number =>
  Number.isInteger(value) && value >= min && value <= max
    ? value
    : refuse(prop, `a whole number from ${min} to ${max}`, value);

/** A duration in whole seconds within bounds (a token passes: CloudFormation resolves it). */
function seconds(prop: string, value: Duration, min: number, max: number): Duration {
  if (value.isUnresolved()) return value;
  const s = value.toSeconds({ integral: false });
  if (!Number.isInteger(s) || s < min || s > max) {
    refuse(
      prop,
      `whole seconds from ${Duration.seconds(min).toHumanString()} to ${Duration.seconds(max).toHumanString()}`,
      value,
    );
  }
  return value;
}

/** Checks each text of a list, tokens passing; names the first that fails. */
function each(prop: string, values: readonly string[], valid: (value: string) => boolean, expected: string): string[] {
  const bad = values.find((v) => !Token.isUnresolved(v) && !valid(v));
  if (bad !== undefined) refuse(prop, expected, bad);
  return [...values];
}

/**
 * The props with their defaults applied, every value checked: the stack calls this before it builds anything, so a
 * refused value leaves nothing half-built. Messages name the prop and the value.
 */
export function resolveProps(props: KeymatProps): ResolvedProps {
  const sessionBoundRoles = each(
    'sessionBoundRoles',
    props.sessionBoundRoles ?? [],
    (role) => IAM_ROLE_NAME.test(role),
    'a list of IAM role names (not ARNs)',
  );
  const approvers = approverList('approvers', props.approvers ?? [], sessionBoundRoles);
  const custodians = approverList('custodians', props.custodians ?? [], sessionBoundRoles);
  const quorum = wholeNumber('quorum', props.quorum ?? DEFAULT_QUORUM, 1, 10);
  reachable('quorum', quorum, approvers);
  const restoreQuorum = wholeNumber('restoreQuorum', props.restoreQuorum ?? DEFAULT_RESTORE_QUORUM, 1, 10);
  reachable('restoreQuorum', restoreQuorum, approvers);
  const members = props.members === undefined ? undefined : parsed('members', membersSchema, props.members);
  const approvalRules = organisationRules(props.approvalRules ?? [], sessionBoundRoles);
  if (approvalRules.length > 0 && members === undefined) {
    throw new ConfigurationError(
      'KeymatStack: approvalRules take effect only with members (they match keys by member account or OU); set members too, or drop them',
    );
  }
  const fleetScanMaxConcurrency = wholeNumber(
    'fleetScanMaxConcurrency',
    props.fleetScanMaxConcurrency ?? DEFAULT_FLEET_MAX_CONCURRENCY,
    1,
    10_000,
  );
  const fleetScanToleratedFailurePercentage = wholeNumber(
    'fleetScanToleratedFailurePercentage',
    props.fleetScanToleratedFailurePercentage ?? DEFAULT_FLEET_TOLERATED_FAILURE_PERCENTAGE,
    0,
    100,
  );
  if (
    members === undefined &&
    (props.fleetScanMaxConcurrency !== undefined || props.fleetScanToleratedFailurePercentage !== undefined)
  ) {
    throw new ConfigurationError(
      'KeymatStack: fleetScanMaxConcurrency and fleetScanToleratedFailurePercentage take effect only with members (the fleet scan runs over them); set members too, or drop them',
    );
  }
  const changeCalendars = [...(props.changeCalendars ?? [])];
  for (const name of changeCalendars) {
    if (Token.isUnresolved(name)) continue;
    try {
      checkCalendarName(name);
    } catch (err) {
      throw new ConfigurationError(`KeymatStack: changeCalendars: ${(err as Error).message}`, undefined, {
        cause: err,
      });
    }
  }
  if (props.changeWindowMaxWait !== undefined && changeCalendars.length === 0) {
    throw new ConfigurationError(
      'KeymatStack: changeWindowMaxWait takes effect only with changeCalendars; set them too, or drop it',
    );
  }
  const keyScope = props.keyScope ?? { tag: DEFAULT_KEY_TAG };
  const retention = props.logRetention ?? (DEFAULT_LOG_RETENTION_DAYS as RetentionDays);
  if (!Object.values(RetentionDays).includes(retention)) {
    refuse('logRetention', 'a CloudWatch Logs retention (RetentionDays)', retention);
  }
  const { changeTicketCheck, eventBus = DEFAULT_EVENT_BUS } = props;
  if (typeof changeTicketCheck === 'string' && !Token.isUnresolved(changeTicketCheck)) {
    if (!FUNCTION_ARN.test(changeTicketCheck)) {
      refuse(
        'changeTicketCheck',
        'a Lambda function or its ARN (arn:<partition>:lambda:REGION:ACCOUNT:function:NAME)',
        changeTicketCheck,
      );
    }
  }
  if (typeof eventBus === 'string' && !Token.isUnresolved(eventBus) && !EVENT_BUS.test(eventBus)) {
    refuse('eventBus', 'an EventBridge bus, or its name or ARN', eventBus);
  }
  return {
    approvers,
    custodians,
    quorum,
    restoreQuorum,
    sessionBoundRoles,
    approvalTimeout: seconds(
      'approvalTimeout',
      props.approvalTimeout ?? Duration.seconds(DEFAULT_APPROVAL_TIMEOUT_SECONDS),
      MIN_APPROVAL_TIMEOUT_SECONDS,
      7 * 86_400,
    ),
    notificationEmails: each(
      'notificationEmails',
      props.notificationEmails ?? [],
      (e) => EMAIL.test(e),
      'a list of email addresses',
    ),
    defaultWait: seconds(
      'defaultWait',
      props.defaultWait ?? Duration.seconds(DEFAULT_WAIT_SECONDS),
      0,
      MAX_WAIT_SECONDS,
    ),
    verifyMaxAttempts: wholeNumber('verifyMaxAttempts', props.verifyMaxAttempts ?? DEFAULT_VERIFY_MAX_ATTEMPTS, 1, 20),
    taskTimeout: seconds('taskTimeout', props.taskTimeout ?? Duration.seconds(DEFAULT_TASK_TIMEOUT_SECONDS), 1, 900),
    recoveryProof: oneOf('recoveryProof', RECOVERY_PROOF_MODES, props.recoveryProof ?? DEFAULT_RECOVERY_PROOF),
    proofTimeout: seconds(
      'proofTimeout',
      props.proofTimeout ?? Duration.seconds(DEFAULT_PROOF_TIMEOUT_SECONDS),
      1,
      MAX_PROOF_TIMEOUT_SECONDS,
    ),
    recentUse: days('recentUse', props.recentUse ?? Duration.days(DEFAULT_RECENT_USE_DAYS), 3650),
    logRetention: retention,
    keyScope,
    // The hub's own keys may be in any of the members' Regions too: its functions call them as themselves.
    keys: new KeyScopeGrants(keyScope, members && [Aws.REGION, ...members.regions]),
    ...(props.scanSchedule && { scanSchedule: props.scanSchedule }),
    scanPolicy: parsed('scanPolicy', scanPolicySchema, props.scanPolicy ?? DEFAULT_SCAN_POLICY),
    scanLimits: parsed('scanLimits', scanLimitsSchema, props.scanLimits ?? DEFAULT_SCAN_LIMITS),
    ...(props.approvalPageIdentity && { approvalPageIdentity: pageIdentity(props.approvalPageIdentity) }),
    changeCalendars,
    changeWindowMaxWait: seconds(
      'changeWindowMaxWait',
      props.changeWindowMaxWait ?? Duration.seconds(DEFAULT_WINDOW_WAIT_SECONDS),
      60,
      MAX_WINDOW_WAIT_SECONDS,
    ),
    ...(changeTicketCheck !== undefined && { changeTicketCheck }),
    eventBus,
    fips: props.fips ?? false,
    ...(members && { members }),
    approvalRules,
    fleetScanMaxConcurrency,
    fleetScanToleratedFailurePercentage,
  };
}

/** Refuses a quorum that the approvers listed cannot reach (none listed: anyone but the requester may approve). */
function reachable(prop: string, quorum: number, approvers: readonly string[]): void {
  const why = unreachableQuorum(quorum, approvers);
  if (why !== undefined) throw new ConfigurationError(`KeymatStack: ${prop} ${why}`);
}

/**
 * The approval rules, each checked: its shape, its approvers as the deployment's are (`distinctApprovers`), a quorum
 * they can reach, and a name no earlier rule has (the plan names the rule that applied).
 */
function organisationRules(rules: readonly ApprovalRule[], sessionBoundRoles: readonly string[]): ApprovalRule[] {
  const names = new Set<string>();
  return rules.map((given, i) => {
    const prop = `approvalRules[${i}]`;
    const rule = parsed(prop, approvalRuleSchema, given);
    const approvers = approverList(`${prop}.approvers`, rule.approvers ?? [], sessionBoundRoles);
    reachable(`${prop}.quorum`, rule.quorum, approvers);
    if (names.has(rule.name)) {
      throw new ConfigurationError(
        `KeymatStack: ${prop}.name '${rule.name}' names an earlier rule too; give each rule its own name`,
      );
    }
    names.add(rule.name);
    return rule;
  });
}

function days(prop: string, value: Duration, max: number): Duration {
  if (value.isUnresolved()) return value;
  const d = value.toDays({ integral: false });
  if (!Number.isInteger(d) || d < 0 || d > max) refuse(prop, `whole days from 0 to ${max}`, value);
  return value;
}

function pageIdentity(identity: ApprovalPageIdentity): Required<ApprovalPageIdentity> {
  let url: URL | undefined;
  try {
    url = new URL(identity.issuer);
  } catch {
    url = undefined;
  }
  if (url?.protocol !== 'https:' || identity.issuer !== identity.issuer.trim()) {
    refuse(
      'approvalPageIdentity.issuer',
      'an https URL (the token issuer, e.g. https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Example)',
      identity.issuer,
    );
  }
  if (identity.audience.length === 0) {
    refuse('approvalPageIdentity.audience', 'a non-empty list of audiences (client ids)', identity.audience);
  }
  const claim = identity.claim ?? DEFAULT_APPROVAL_PAGE_IDENTITY_CLAIM;
  if (!CLAIM_NAME.test(claim)) {
    refuse('approvalPageIdentity.claim', 'a JWT claim name (e.g. email, preferred_username)', claim);
  }
  return { issuer: identity.issuer, audience: [...identity.audience], claim };
}

/** The approvers of `prop`, each listed once as `distinctApprovers` checks it, refused naming the prop. */
function approverList(prop: string, approvers: readonly string[], sessionBoundRoles: readonly string[]): string[] {
  try {
    return distinctApprovers(approvers, { sessionBoundRoles });
  } catch (err) {
    if (!(err instanceof InvalidIdentityError)) throw err;
    throw new ConfigurationError(`KeymatStack: ${prop}: ${err.message}`, undefined, { cause: err });
  }
}

/**
 * The props read from a context value of another name (in the unit its name says), by the prop's path: the one place
 * that pairs them, so that a refused prop is named as the context value the deployer typed. Every other prop is read
 * from the context value of its own name.
 */
const CONTEXT_NAMES = {
  approvalTimeout: 'approvalTimeoutSeconds',
  defaultWait: 'defaultWaitSeconds',
  taskTimeout: 'taskTimeoutSeconds',
  proofTimeout: 'proofTimeoutSeconds',
  changeWindowMaxWait: 'changeWindowMaxWaitSeconds',
  recentUse: 'recentUseDays',
  logRetention: 'logRetentionDays',
  'keyScope.keys': 'keyArns',
  'keyScope.tag': 'keyTag',
  'scanPolicy.expiresWithinDays': 'scanExpiresWithinDays',
  'scanPolicy.importedMoreThanDays': 'scanImportedMoreThanDays',
  'scanPolicy.retireTag': 'scanRetireTag',
  'scanLimits.maxChanges': 'scanMaxChanges',
  'scanLimits.rates.DescribeKey': 'scanDescribeKeyRate',
  'scanLimits.rates.ListKeyRotations': 'scanListKeyRotationsRate',
  'approvalPageIdentity.issuer': 'approvalPageJwtIssuer',
  'approvalPageIdentity.audience': 'approvalPageJwtAudience',
  'approvalPageIdentity.claim': 'approvalPageJwtClaim',
} as const;
const C = CONTEXT_NAMES;

/**
 * A refusal of a prop read from a context value of another name, said again naming that context value; and for a
 * duration, which the adapter made from a number, quoting the number as typed. Any other error as it is.
 */
function inContextTerms(err: unknown, get: ContextGet): unknown {
  if (!(err instanceof ConfigurationError) || err.refused === undefined) return err;
  const { setting, problem, value } = err.refused;
  const prop = (Object.keys(CONTEXT_NAMES) as (keyof typeof CONTEXT_NAMES)[]).find(
    (p) => setting === p || setting.startsWith(`${p}.`) || setting.startsWith(`${p}[`),
  );
  if (prop === undefined) return err;
  const name = CONTEXT_NAMES[prop];
  const got = value instanceof Duration ? contextText(get, name) : settingShown(value);
  return new ConfigurationError(`context ${name}${setting.slice(prop.length)}${problem}; got ${got}`, undefined, {
    cause: err,
  });
}

/**
 * keymat's props from CDK context values (strings from `-c name=value`, or JSON values from cdk.json): the adapter
 * infra/app.ts uses. It reads each value's form (numbers, lists, `key=value`) and refuses a malformed one with the
 * context name and the value; then it checks the props as the stack will, so that a refused prop is named as the
 * context value it came from.
 *
 * @throws ConfigurationError naming the context value and the value
 */
export function propsFromContext(get: ContextGet): KeymatProps {
  const props = readPropsFromContext(get);
  try {
    resolveProps(props);
  } catch (err) {
    throw inContextTerms(err, get);
  }
  return props;
}

function readPropsFromContext(get: ContextGet): KeymatProps {
  const str = (name: string): string | undefined => contextText(get, name);
  const int = (name: string): number | undefined => {
    const raw = str(name);
    if (raw === undefined) return undefined;
    if (!/^-?\d+$/.test(raw.trim()))
      throw new ConfigurationError(`context ${name} must be a whole number; got '${raw}'`);
    return Number(raw);
  };
  const list = (name: string): string[] | undefined => {
    const v = get(name);
    const items = Array.isArray(v)
      ? v.map(String)
      : (str(name) ?? '')
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean);
    return items.length === 0 ? undefined : items;
  };
  const secondsOf = (name: string) => {
    const n = int(name);
    return n === undefined ? undefined : Duration.seconds(n);
  };

  const scope = keyScopeFromContext(get);
  const schedule = str('scanSchedule');
  if (schedule !== undefined && !SCHEDULE.test(schedule)) {
    throw new ConfigurationError(`context scanSchedule must be a cron(...) or rate(...) expression; got '${schedule}'`);
  }
  const {
    'scanPolicy.expiresWithinDays': expiresWithin,
    'scanPolicy.importedMoreThanDays': importedMoreThan,
    'scanPolicy.retireTag': retireTag,
  } = C;
  const maxChanges = int(C['scanLimits.maxChanges']);
  const describeKeyRate = int(C['scanLimits.rates.DescribeKey']);
  const listKeyRotationsRate = int(C['scanLimits.rates.ListKeyRotations']);
  const recentUseDays = int(C.recentUse);
  const retentionDays = int(C.logRetention);
  const values: { -readonly [K in keyof KeymatProps]: KeymatProps[K] } = {
    approvers: list('approvers'),
    custodians: list('custodians'),
    quorum: int('quorum'),
    restoreQuorum: int('restoreQuorum'),
    sessionBoundRoles: list('sessionBoundRoles'),
    approvalTimeout: secondsOf(C.approvalTimeout),
    notificationEmails: list('notificationEmails'),
    defaultWait: secondsOf(C.defaultWait),
    verifyMaxAttempts: int('verifyMaxAttempts'),
    taskTimeout: secondsOf(C.taskTimeout),
    recoveryProof: str('recoveryProof') as RecoveryProofMode | undefined,
    proofTimeout: secondsOf(C.proofTimeout),
    recentUse: recentUseDays === undefined ? undefined : Duration.days(recentUseDays),
    logRetention: retentionDays as RetentionDays | undefined,
    keyScope: scope,
    scanSchedule: schedule === undefined ? undefined : ScheduleExpression.expression(schedule),
    scanPolicy: [expiresWithin, importedMoreThan, retireTag].some((n) => str(n) !== undefined)
      ? {
          // `off` turns a default rule off.
          ...(str(expiresWithin) !== 'off' && {
            expiresWithinDays: int(expiresWithin) ?? DEFAULT_SCAN_EXPIRES_WITHIN_DAYS,
          }),
          ...(str(importedMoreThan) !== undefined && { importedMoreThanDays: int(importedMoreThan) }),
          ...(str(retireTag) !== 'off' && { retireTag: str(retireTag) ?? DEFAULT_SCAN_RETIRE_TAG }),
        }
      : undefined,
    scanLimits:
      maxChanges === undefined && describeKeyRate === undefined && listKeyRotationsRate === undefined
        ? undefined
        : {
            ...DEFAULT_SCAN_LIMITS,
            maxChanges: maxChanges ?? DEFAULT_SCAN_LIMITS.maxChanges,
            rates: {
              ...DEFAULT_SCAN_LIMITS.rates,
              DescribeKey: describeKeyRate ?? DEFAULT_SCAN_LIMITS.rates.DescribeKey,
              ListKeyRotations: listKeyRotationsRate ?? DEFAULT_SCAN_LIMITS.rates.ListKeyRotations,
            },
          },
    approvalPageIdentity: pageIdentityFromContext(str, list),
    changeCalendars: list('changeCalendars'),
    changeWindowMaxWait: secondsOf(C.changeWindowMaxWait),
    changeTicketCheck: str('changeTicketCheck'),
    eventBus: str('eventBus'),
    fips: bool('fips', str('fips')),
    // Their shapes are the props' to check: the adapter only reads the JSON.
    members: jsonFromContext(get, 'members') as Members | undefined,
    approvalRules: jsonFromContext(get, 'approvalRules') as ApprovalRule[] | undefined,
    fleetScanMaxConcurrency: int('fleetScanMaxConcurrency'),
    fleetScanToleratedFailurePercentage: int('fleetScanToleratedFailurePercentage'),
  };
  return Object.fromEntries(Object.entries(values).filter(([, v]) => v !== undefined)) as KeymatProps;
}

/** Context as the adapters read it: `-c name=value` gives text, cdk.json any JSON value; empty reads as unset. */
type ContextGet = (name: string) => unknown;

/** The text of a context value; unset or empty: undefined. */
const contextText = (get: ContextGet, name: string): string | undefined => {
  const v = get(name);
  return v === undefined || v === null || v === '' ? undefined : String(v);
};

/**
 * The key scope from the `keyArns` (a list) or `keyTag` (`key=value`) context, shared by the hub's and the member
 * roles' apps so that both scope the keys alike.
 */
export function keyScopeFromContext(get: ContextGet): KeyScope | undefined {
  const raw = get(C['keyScope.keys']);
  const keyArns = Array.isArray(raw)
    ? raw.map(String)
    : (contextText(get, C['keyScope.keys']) ?? '')
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
  const tag = contextText(get, C['keyScope.tag']);
  if (keyArns.length > 0 && tag) throw new ConfigurationError('context keyArns and keyTag are exclusive: set one');
  if (keyArns.length > 0) return { keys: keyArns };
  if (tag === undefined) return undefined;
  const [key, value, ...rest] = tag.split('=');
  if (!key || !value || rest.length > 0) throw new ConfigurationError(`context keyTag must be key=value; got '${tag}'`);
  return { tag: { key, value } };
}

/** A JSON context value: a JSON text from `-c name='…'`, or the value itself from cdk.json. */
export function jsonFromContext(get: ContextGet, name: string): unknown {
  const v = get(name);
  if (typeof v !== 'string') return v ?? undefined;
  if (v === '') return undefined;
  try {
    return JSON.parse(v) as unknown;
  } catch {
    throw new ConfigurationError(`context ${name} must be a JSON document; got '${v}'`);
  }
}

/** The member stacks' props as their context gives them (`KeymatMembersStackProps`, from infra/members.ts). */
export interface MembersContextProps {
  readonly hubAccount: string;
  readonly hubStackName: string;
  readonly members: Members;
  readonly keyScope?: KeyScope;
  readonly organizationRootId?: string;
  readonly delegatedAdmin?: boolean;
}

/**
 * The member stacks' props from the context: `hubAccount` (set once the hub is deployed), with the hub's own
 * `members` and key scope (`keyArns` or `keyTag`), `organizationRootId` and `stackSetDelegatedAdmin`. Without
 * `hubAccount`: undefined, no member stacks. The stacks check the values themselves.
 *
 * @param hubStackName the hub stack's name in the same app, which names its task roles
 */
export function membersPropsFromContext(get: ContextGet, hubStackName: string): MembersContextProps | undefined {
  const hubAccount = contextText(get, 'hubAccount');
  if (hubAccount === undefined) return undefined;
  const members = jsonFromContext(get, 'members');
  if (members === undefined) {
    throw new ConfigurationError(
      'context hubAccount builds the member stacks, which need members too: set members as the hub has it',
    );
  }
  const keyScope = keyScopeFromContext(get);
  const organizationRootId = contextText(get, 'organizationRootId');
  const delegatedAdmin = bool('stackSetDelegatedAdmin', contextText(get, 'stackSetDelegatedAdmin'));
  return {
    hubAccount,
    hubStackName,
    members: members as Members,
    ...(keyScope && { keyScope }),
    ...(organizationRootId !== undefined && { organizationRootId }),
    ...(delegatedAdmin !== undefined && { delegatedAdmin }),
  };
}

function bool(name: string, raw: string | undefined): boolean | undefined {
  if (raw === undefined) return undefined;
  if (raw === 'true' || raw === 'false') return raw === 'true';
  throw new ConfigurationError(`context ${name} must be true or false; got '${raw}'`);
}

/** The approval page's identity mode from its three contexts: issuer and audience go together; the claim needs them. */
function pageIdentityFromContext(
  str: (name: string) => string | undefined,
  list: (name: string) => string[] | undefined,
): ApprovalPageIdentity | undefined {
  const issuer = str(C['approvalPageIdentity.issuer']);
  const audience = list(C['approvalPageIdentity.audience']);
  const claim = str(C['approvalPageIdentity.claim']);
  if (issuer === undefined && audience === undefined) {
    if (claim !== undefined) {
      throw new ConfigurationError(
        `context approvalPageJwtClaim '${claim}' takes effect only with approvalPageJwtIssuer and approvalPageJwtAudience; set them too, or drop it`,
      );
    }
    return undefined;
  }
  if (issuer === undefined || audience === undefined) {
    const [set, missing] =
      issuer === undefined
        ? ['approvalPageJwtAudience', 'approvalPageJwtIssuer']
        : ['approvalPageJwtIssuer', 'approvalPageJwtAudience'];
    throw new ConfigurationError(
      `context approvalPageJwtIssuer and approvalPageJwtAudience go together; ${set} is set, set ${missing} too`,
    );
  }
  return { issuer, audience, ...(claim !== undefined && { claim }) };
}
