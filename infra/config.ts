import { Duration } from 'aws-cdk-lib';
import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import {
  DEFAULT_APPROVAL_PAGE_IDENTITY_CLAIM,
  DEFAULT_EVENT_BUS,
  DEFAULT_WINDOW_WAIT_SECONDS,
  DEFAULT_APPROVAL_TIMEOUT_SECONDS,
  DEFAULT_LOG_RETENTION_DAYS,
  DEFAULT_QUORUM,
  DEFAULT_RECENT_USE_DAYS,
  DEFAULT_SCAN_LIMITS as CORE_SCAN_LIMITS,
  DEFAULT_TASK_TIMEOUT_SECONDS,
  DEFAULT_VERIFY_MAX_ATTEMPTS,
  DEFAULT_WAIT_SECONDS,
  MAX_WAIT_SECONDS,
  MAX_WINDOW_WAIT_SECONDS,
} from '../core/defaults';
import { checkApproverPattern } from '../core/identity';
import { checkCalendarName, EVENT_BUS, FUNCTION_ARN, KEY_ARN } from '../core/naming';
import { scanLimitsSchema, scanPolicySchema, type ScanLimits, type ScanPolicy } from '../core/scan-policy';

/** Which keys the functions may read and delete from: listed key ARNs, or keys carrying a tag. */
export type KeyScope = { keyArns: string[] } | { tag: { key: string; value: string } };

/** The approval page's identity mode: an HTTP API whose JWT authorizer admits only tokens of this issuer and audience. */
export interface ApprovalPageIdentity {
  /** The token issuer (`iss`), an https URL, e.g. `https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Example`. */
  issuer: string;
  /** The audiences (`aud`) a token may be for; at least one. */
  audience: string[];
  /** The claim that names the signed-in user, compared with the link's approver (e.g. `email`). */
  claim: string;
}

/** keymat's deployment configuration; the README's configuration table documents each entry. */
export interface KeymatConfig {
  keyScope: KeyScope;
  approvalTimeout: Duration;
  /** Distinct approvers a change needs. */
  quorum: number;
  /**
   * Principals allowed to approve, as canonical principal ARNs or ARN patterns (`checkApproverPattern`); empty: anyone
   * but the requester.
   */
  approvers: string[];
  /**
   * Roles whose session name a policy pins (`sts:RoleSessionName` or `sts:SourceIdentity`), so that the gateway takes
   * each session of them as its own person; by role name.
   */
  sessionBoundRoles: string[];
  defaultWaitSeconds: number;
  verifyMaxAttempts: number;
  taskTimeout: Duration;
  /** A key used within this many days gets a warning in the plan. */
  recentUseDays: number;
  notificationEmails: string[];
  logRetention: RetentionDays;
  /** EventBridge Scheduler expression for the expiry scan, e.g. `cron(0 6 * * ? *)`; none: the scan is not scheduled. */
  scanSchedule?: string;
  scanPolicy: ScanPolicy;
  scanLimits: ScanLimits;
  /** Puts the approval page behind a JWT authorizer, so that it knows who clicks; none: the page is possession-based. */
  approvalPageIdentity?: ApprovalPageIdentity;
  /**
   * SSM Change Calendars (names or ARNs) that must all be OPEN for a deletion to run.
   * @default none: no freeze windows
   */
  changeCalendars?: string[];
  /**
   * How long an approved change may wait for its calendars to open before it ends ChangeWindowClosed.
   * @default Duration.days(7)
   */
  changeWindowMaxWait?: Duration;
  /**
   * The ARN of the organisation's change-ticket check function (see docs/change-management.md for its contract).
   * @default none: change ids are not checked
   */
  changeTicketCheck?: string;
  /**
   * The EventBridge bus the change events go to: a name or ARN.
   * @default 'default', the account's own bus
   */
  eventBus?: string;
}

/** The scan's default pace (core/defaults.ts), as the scan's limits. */
export const DEFAULT_SCAN_LIMITS: ScanLimits = CORE_SCAN_LIMITS;

export const DEFAULT_KEY_TAG = { key: 'keymat:managed', value: 'true' };

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const IAM_ROLE_NAME = /^[\w+=,.@-]{1,64}$/;
/** A JWT claim name: registered names (`email`) and collision-resistant URIs (`https://example.com/claims/upn`). */
const CLAIM_NAME = /^[\w:/.#@-]{1,256}$/;

/**
 * Reads the configuration from CDK context values (strings from `-c name=value`, or JSON values from cdk.json),
 * refusing a bad value with the context name and the value.
 */
export function configFromContext(get: (name: string) => unknown): KeymatConfig {
  const str = (name: string): string | undefined => {
    const v = get(name);
    if (v === undefined || v === null || v === '') return undefined;
    return String(v);
  };
  const int = (name: string, fallback: number, min: number, max: number): number => {
    const raw = str(name);
    if (raw === undefined) return fallback;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min || n > max) {
      throw new Error(`context ${name} must be a whole number from ${min} to ${max}; got '${raw}'`);
    }
    return n;
  };
  const list = (name: string): string[] => {
    const v = get(name);
    if (Array.isArray(v)) return v.map(String);
    return (str(name) ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
  };

  const keyArns = list('keyArns');
  for (const arn of keyArns) {
    if (!KEY_ARN.test(arn)) throw new Error(`context keyArns must list KMS key ARNs; got '${arn}'`);
  }
  const tag = str('keyTag');
  let keyScope: KeyScope;
  if (keyArns.length > 0 && tag) throw new Error('context keyArns and keyTag are exclusive: set one');
  if (keyArns.length > 0) keyScope = { keyArns };
  else if (tag) {
    const [key, value, ...rest] = tag.split('=');
    if (!key || value === undefined || rest.length > 0) {
      throw new Error(`context keyTag must be key=value; got '${tag}'`);
    }
    keyScope = { tag: { key, value } };
  } else keyScope = { tag: DEFAULT_KEY_TAG };

  const emails = list('notificationEmails');
  for (const e of emails)
    if (!EMAIL.test(e)) throw new Error(`context notificationEmails has an invalid address '${e}'`);
  const retentionDays = int('logRetentionDays', DEFAULT_LOG_RETENTION_DAYS, 1, 3653);
  if (!Object.values(RetentionDays).includes(retentionDays)) {
    throw new Error(
      `context logRetentionDays must be a CloudWatch Logs retention (e.g. 30, 90, 365); got '${retentionDays}'`,
    );
  }
  const scanSchedule = str('scanSchedule');
  if (scanSchedule && !/^(cron|rate)\(.+\)$/.test(scanSchedule)) {
    throw new Error(`context scanSchedule must be a cron(...) or rate(...) expression; got '${scanSchedule}'`);
  }
  const optionalInt = (name: string, min: number, max: number) =>
    str(name) === undefined ? undefined : int(name, 0, min, max);
  const scanPolicy = scanPolicySchema.parse({
    expiresWithinDays: str('scanExpiresWithinDays') === 'off' ? undefined : int('scanExpiresWithinDays', 30, 0, 365),
    importedMoreThanDays: optionalInt('scanImportedMoreThanDays', 1, 3650),
    ...(str('scanRetireTag') !== 'off' && { retireTag: str('scanRetireTag') ?? 'keymat:retire-on' }),
  });
  const scanLimits = scanLimitsSchema.parse({
    ...DEFAULT_SCAN_LIMITS,
    maxChanges: int('scanMaxChanges', DEFAULT_SCAN_LIMITS.maxChanges, 0, 1000),
    rates: {
      ...DEFAULT_SCAN_LIMITS.rates,
      DescribeKey: int('scanDescribeKeyRate', DEFAULT_SCAN_LIMITS.rates.DescribeKey, 1, 100_000),
      ListKeyRotations: int('scanListKeyRotationsRate', DEFAULT_SCAN_LIMITS.rates.ListKeyRotations, 1, 100_000),
    },
  });
  // A plain name fails the synth: nobody can authenticate as `bob`, so such an entry would match no approver.
  const approvers = list('approvers').map(checkApproverPattern);
  const sessionBoundRoles = list('sessionBoundRoles');
  for (const role of sessionBoundRoles) {
    if (!IAM_ROLE_NAME.test(role)) {
      throw new Error(`context sessionBoundRoles must list IAM role names (not ARNs); got '${role}'`);
    }
  }
  const approvalPageIdentity = pageIdentity(str, list);
  const changeCalendars = list('changeCalendars').map((name) => {
    try {
      return checkCalendarName(name);
    } catch (err) {
      throw new Error(`context changeCalendars: ${(err as Error).message}`);
    }
  });
  const changeWindowMaxWaitSeconds = int(
    'changeWindowMaxWaitSeconds',
    DEFAULT_WINDOW_WAIT_SECONDS,
    60,
    MAX_WINDOW_WAIT_SECONDS,
  );
  if (str('changeWindowMaxWaitSeconds') !== undefined && changeCalendars.length === 0) {
    throw new Error(
      'context changeWindowMaxWaitSeconds takes effect only with changeCalendars; set them too, or drop it',
    );
  }
  const changeTicketCheck = str('changeTicketCheck');
  if (changeTicketCheck !== undefined && !FUNCTION_ARN.test(changeTicketCheck)) {
    throw new Error(
      `context changeTicketCheck must be the ARN of a Lambda function (arn:aws:lambda:REGION:ACCOUNT:function:NAME); got '${changeTicketCheck}'`,
    );
  }
  const eventBus = str('eventBus') ?? DEFAULT_EVENT_BUS;
  if (!EVENT_BUS.test(eventBus)) {
    throw new Error(`context eventBus must be an EventBridge bus name or ARN; got '${eventBus}'`);
  }
  const quorum = int('quorum', DEFAULT_QUORUM, 1, 10);
  if (approvers.length > 0 && approvers.length < quorum) {
    throw new Error(`context quorum ${quorum} cannot be reached by the ${approvers.length} approvers listed`);
  }
  return {
    quorum,
    approvers,
    sessionBoundRoles,
    ...(scanSchedule && { scanSchedule }),
    ...(approvalPageIdentity && { approvalPageIdentity }),
    changeCalendars,
    changeWindowMaxWait: Duration.seconds(changeWindowMaxWaitSeconds),
    ...(changeTicketCheck !== undefined && { changeTicketCheck }),
    eventBus,
    scanPolicy,
    scanLimits,
    keyScope,
    approvalTimeout: Duration.seconds(int('approvalTimeoutSeconds', DEFAULT_APPROVAL_TIMEOUT_SECONDS, 60, 7 * 86_400)),
    defaultWaitSeconds: int('defaultWaitSeconds', DEFAULT_WAIT_SECONDS, 0, MAX_WAIT_SECONDS),
    verifyMaxAttempts: int('verifyMaxAttempts', DEFAULT_VERIFY_MAX_ATTEMPTS, 1, 20),
    taskTimeout: Duration.seconds(int('taskTimeoutSeconds', DEFAULT_TASK_TIMEOUT_SECONDS, 1, 900)),
    recentUseDays: int('recentUseDays', DEFAULT_RECENT_USE_DAYS, 0, 3650),
    notificationEmails: emails,
    logRetention: retentionDays as RetentionDays,
  };
}

/** The approval page's identity mode from its three contexts: issuer and audience go together; the claim needs them. */
function pageIdentity(
  str: (name: string) => string | undefined,
  list: (name: string) => string[],
): ApprovalPageIdentity | undefined {
  const issuer = str('approvalPageJwtIssuer');
  const rawAudience = str('approvalPageJwtAudience');
  const rawClaim = str('approvalPageJwtClaim');
  if (issuer === undefined && rawAudience === undefined) {
    if (rawClaim !== undefined) {
      throw new Error(
        `context approvalPageJwtClaim '${rawClaim}' takes effect only with approvalPageJwtIssuer and approvalPageJwtAudience; set them too, or drop it`,
      );
    }
    return undefined;
  }
  if (issuer === undefined || rawAudience === undefined) {
    const [set, missing] =
      issuer === undefined
        ? ['approvalPageJwtAudience', 'approvalPageJwtIssuer']
        : ['approvalPageJwtIssuer', 'approvalPageJwtAudience'];
    throw new Error(
      `context approvalPageJwtIssuer and approvalPageJwtAudience go together; ${set} is set, set ${missing} too`,
    );
  }
  let url: URL | undefined;
  try {
    url = new URL(issuer);
  } catch {
    url = undefined;
  }
  if (url?.protocol !== 'https:' || issuer !== issuer.trim()) {
    throw new Error(
      `context approvalPageJwtIssuer must be an https URL (the token issuer, e.g. https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Example); got '${issuer}'`,
    );
  }
  const audience = list('approvalPageJwtAudience');
  if (audience.length === 0) {
    throw new Error(
      `context approvalPageJwtAudience must be a non-empty comma-separated list of audiences (client ids); got '${rawAudience}'`,
    );
  }
  const claim = rawClaim ?? DEFAULT_APPROVAL_PAGE_IDENTITY_CLAIM;
  if (!CLAIM_NAME.test(claim)) {
    throw new Error(
      `context approvalPageJwtClaim must be a JWT claim name (e.g. email, preferred_username); got '${claim}'`,
    );
  }
  return { issuer, audience, claim };
}
