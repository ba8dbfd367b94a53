import {
  DEFAULT_EVENT_BUS,
  DEFAULT_LOCAL_LOG_LEVEL,
  DEFAULT_RECENT_USE_DAYS,
  DEFAULT_WAIT_SECONDS,
  DEFAULT_WINDOW_WAIT_SECONDS,
  MAX_WAIT_SECONDS,
  MAX_WINDOW_WAIT_SECONDS,
} from './defaults';
import { calendarList, EVENT_BUS, FUNCTION_ARN } from './naming';

/**
 * The one place keymat reads its environment. For the functions it is the contract between the stack (which sets
 * each function's variables) and the handlers (which read them once, at cold start). Infra writes variables only through `environmentOf`, handlers read only through
 * `configFromEnvironment`; the local stack builds the same configuration objects directly and never touches the
 * environment. A missing or malformed variable fails the cold start with the variable's name and value.
 */

/** The variable names, spelled once. */
export const ENV = {
  account: 'KEYMAT_ACCOUNT_ID',
  region: 'AWS_REGION',
  defaultWaitSeconds: 'DEFAULT_WAIT_SECONDS',
  recentUseDays: 'RECENT_USE_DAYS',
  approvalTopicArn: 'APPROVAL_TOPIC_ARN',
  outcomeTopicArn: 'OUTCOME_TOPIC_ARN',
  approvalPageUrl: 'APPROVAL_PAGE_URL',
  approvalPageIdentityClaim: 'APPROVAL_PAGE_IDENTITY_CLAIM',
  linkSecretArn: 'LINK_SECRET_ARN',
  stateMachineArn: 'STATE_MACHINE_ARN',
  scanPolicy: 'SCAN_POLICY',
  scanLimits: 'SCAN_LIMITS',
  logLevel: 'POWERTOOLS_LOG_LEVEL',
  cliStateMachineArn: 'KEYMAT_STATE_MACHINE_ARN',
  cliGatewayUrl: 'KEYMAT_GATEWAY_URL',
  accessKeyId: 'AWS_ACCESS_KEY_ID',
  secretAccessKey: 'AWS_SECRET_ACCESS_KEY',
  sessionToken: 'AWS_SESSION_TOKEN',
  kmsEndpoint: 'AWS_ENDPOINT_URL_KMS',
  endpoint: 'AWS_ENDPOINT_URL',
  attestationKeyArn: 'ATTESTATION_KEY_ARN',
  sessionBoundRoles: 'SESSION_BOUND_ROLES',
  sdkNodeVersionNotice: 'AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED',
  eventBusName: 'EVENT_BUS_NAME',
  changeCalendars: 'CHANGE_CALENDARS',
  changeWindowMaxWaitSeconds: 'CHANGE_WINDOW_MAX_WAIT_SECONDS',
  changeTicketFunctionArn: 'CHANGE_TICKET_FUNCTION_ARN',
} as const;

type Env = Readonly<Record<string, string | undefined>>;

/** The account and Region a workflow deletes in: keys elsewhere are refused. */
export interface Scope {
  account: string;
  region: string;
}

/** Where a function puts its change events. */
export interface EventsConfig {
  /** The EventBridge bus: a name or ARN; `default` is the account's own. */
  eventBusName: string;
}

/** The deployment's change calendars (SSM Change Calendar names or ARNs); empty: no freeze windows. */
export interface CalendarsConfig {
  changeCalendars: string[];
}

export interface ValidateOriginConfig extends EventsConfig, CalendarsConfig {
  scope: Scope;
  defaultWaitSeconds: number;
  recentUseDays: number;
  /** The KMS HMAC key whose MAC on the start attestation ValidateOrigin verifies. */
  attestationKeyArn: string;
  /** The organisation's change-ticket check function, when the deployment has one. */
  changeTicketFunctionArn?: string;
}

export interface RequestApprovalConfig extends EventsConfig, CalendarsConfig {
  approvalTopicArn: string;
  /** The approval page and its link secret; without them approvers get no web links. */
  web?: { pageUrl: string; linkSecretArn: string };
}

export interface OutcomeConfig extends EventsConfig {
  outcomeTopicArn: string;
}

/** CheckChangeWindow: the calendars (at least one) and how long an approved change may wait for them. */
export interface CheckChangeWindowConfig extends CalendarsConfig {
  maxWaitSeconds: number;
}

export interface DeleteMaterialConfig extends OutcomeConfig {
  /** The KMS HMAC key whose MAC on every approval DeleteMaterial verifies. */
  attestationKeyArn: string;
}

export interface ApprovalPageConfig extends EventsConfig {
  linkSecretArn: string;
  /** The KMS HMAC key the page attests each decision with. */
  attestationKeyArn: string;
  /**
   * Identity mode: the page sits behind a JWT authorizer, and this claim of the verified token (e.g. `email`) must
   * name the link's approver.
   * @default none: the page is possession-based (the signed link alone admits a request)
   */
  identityClaim?: string;
}

/** The gateway: the one entry point for people, which starts changes and records decisions under their own identity. */
export interface GatewayConfig extends EventsConfig {
  stateMachineArn: string;
  /** The KMS HMAC key the gateway attests each start and decision with. */
  attestationKeyArn: string;
  /** Roles whose session name a policy pins, so that it identifies a person (see `canonicalPrincipal`). */
  sessionBoundRoles: string[];
}

export interface ExpiryScanConfig {
  stateMachineArn: string;
  outcomeTopicArn: string;
  /** The scan policy and limits as JSON; the scan parses them with its own schemas. */
  policyJson: string;
  limitsJson: string;
  /** The KMS HMAC key the scan attests the changes it starts with. */
  attestationKeyArn: string;
}

/** Each function's configuration, by its name (the task state's name, or the function's). */
export interface FunctionConfigs {
  ValidateOrigin: ValidateOriginConfig;
  CheckState: Record<string, never>;
  RequestApproval: RequestApprovalConfig;
  CheckChangeWindow: CheckChangeWindowConfig;
  DeleteMaterial: DeleteMaterialConfig;
  VerifyPendingImport: Record<string, never>;
  NotifyOutcome: OutcomeConfig;
  ApprovalPage: ApprovalPageConfig;
  ExpiryScan: ExpiryScanConfig;
  Gateway: GatewayConfig;
}

export type FunctionName = keyof FunctionConfigs;

/** A configuration without the values the Lambda runtime supplies itself (the Region). */
export type DeployedConfig<N extends FunctionName> = N extends 'ValidateOrigin'
  ? Omit<ValidateOriginConfig, 'scope'> & { account: string }
  : FunctionConfigs[N];

/** The variables to set on a function for its configuration (the Region comes from the Lambda runtime). */
export function environmentOf<N extends FunctionName>(name: N, config: DeployedConfig<N>): Record<string, string> {
  switch (name) {
    case 'ValidateOrigin': {
      const c = config as DeployedConfig<'ValidateOrigin'>;
      return {
        [ENV.account]: c.account,
        [ENV.defaultWaitSeconds]: String(c.defaultWaitSeconds),
        [ENV.recentUseDays]: String(c.recentUseDays),
        [ENV.attestationKeyArn]: c.attestationKeyArn,
        ...eventsEnv(c),
        ...calendarsEnv(c),
        ...(c.changeTicketFunctionArn !== undefined && { [ENV.changeTicketFunctionArn]: c.changeTicketFunctionArn }),
      };
    }
    case 'RequestApproval': {
      const c = config as RequestApprovalConfig;
      return {
        [ENV.approvalTopicArn]: c.approvalTopicArn,
        ...(c.web && { [ENV.approvalPageUrl]: c.web.pageUrl, [ENV.linkSecretArn]: c.web.linkSecretArn }),
        ...eventsEnv(c),
        ...calendarsEnv(c),
      };
    }
    case 'CheckChangeWindow': {
      const c = config as CheckChangeWindowConfig;
      return { ...calendarsEnv(c), [ENV.changeWindowMaxWaitSeconds]: String(c.maxWaitSeconds) };
    }
    case 'DeleteMaterial': {
      const c = config as DeleteMaterialConfig;
      return {
        [ENV.outcomeTopicArn]: c.outcomeTopicArn,
        [ENV.attestationKeyArn]: c.attestationKeyArn,
        ...eventsEnv(c),
      };
    }
    case 'NotifyOutcome': {
      const c = config as OutcomeConfig;
      return { [ENV.outcomeTopicArn]: c.outcomeTopicArn, ...eventsEnv(c) };
    }
    case 'ApprovalPage': {
      const c = config as ApprovalPageConfig;
      return {
        [ENV.linkSecretArn]: c.linkSecretArn,
        [ENV.attestationKeyArn]: c.attestationKeyArn,
        ...(c.identityClaim !== undefined && { [ENV.approvalPageIdentityClaim]: c.identityClaim }),
        ...eventsEnv(c),
      };
    }
    case 'Gateway': {
      const c = config as GatewayConfig;
      return {
        [ENV.stateMachineArn]: c.stateMachineArn,
        [ENV.attestationKeyArn]: c.attestationKeyArn,
        [ENV.sessionBoundRoles]: c.sessionBoundRoles.join(','),
        ...eventsEnv(c),
      };
    }
    case 'ExpiryScan': {
      const c = config as ExpiryScanConfig;
      return {
        [ENV.stateMachineArn]: c.stateMachineArn,
        [ENV.outcomeTopicArn]: c.outcomeTopicArn,
        [ENV.scanPolicy]: c.policyJson,
        [ENV.scanLimits]: c.limitsJson,
        [ENV.attestationKeyArn]: c.attestationKeyArn,
      };
    }
    default:
      return {};
  }
}

/**
 * The bus variable; the account's default bus needs none. A configuration written before events and calendars existed
 * (a CDK app of an earlier keymat, in JavaScript) has neither field: it means the defaults.
 */
const eventsEnv = (c: Partial<EventsConfig>): Record<string, string> =>
  (c.eventBusName ?? DEFAULT_EVENT_BUS) === DEFAULT_EVENT_BUS ? {} : { [ENV.eventBusName]: c.eventBusName as string };

/** The calendars variable, a comma-separated list; none needs no variable. */
const calendarsEnv = (c: Partial<CalendarsConfig>): Record<string, string> =>
  (c.changeCalendars ?? []).length === 0 ? {} : { [ENV.changeCalendars]: (c.changeCalendars ?? []).join(',') };

/** Reads a function's configuration from its environment (the handler passes `process.env`). */
export function configFromEnvironment<N extends FunctionName>(name: N, env: Env = process.env): FunctionConfigs[N] {
  const read = reader(env);
  const configs: { [K in FunctionName]: () => FunctionConfigs[K] } = {
    ValidateOrigin: () => ({
      scope: { account: read.required(ENV.account), region: read.required(ENV.region) },
      defaultWaitSeconds: read.int(ENV.defaultWaitSeconds, DEFAULT_WAIT_SECONDS, 0, MAX_WAIT_SECONDS),
      recentUseDays: read.int(ENV.recentUseDays, DEFAULT_RECENT_USE_DAYS, 0, 3650),
      attestationKeyArn: read.required(ENV.attestationKeyArn),
      ...read.events(),
      ...read.calendars(),
      ...read.optionalMatching(
        ENV.changeTicketFunctionArn,
        'changeTicketFunctionArn',
        FUNCTION_ARN,
        'a Lambda function ARN',
      ),
    }),
    CheckState: () => ({}),
    CheckChangeWindow: () => {
      const calendars = read.calendars();
      if (calendars.changeCalendars.length === 0) {
        throw new Error(`environment variable ${ENV.changeCalendars} must name at least one change calendar`);
      }
      return {
        ...calendars,
        maxWaitSeconds: read.int(
          ENV.changeWindowMaxWaitSeconds,
          DEFAULT_WINDOW_WAIT_SECONDS,
          1,
          MAX_WINDOW_WAIT_SECONDS,
        ),
      };
    },
    RequestApproval: () => {
      const pageUrl = read.optional(ENV.approvalPageUrl);
      const linkSecretArn = read.optional(ENV.linkSecretArn);
      if ((pageUrl === undefined) !== (linkSecretArn === undefined)) {
        throw new Error(
          `environment variables ${ENV.approvalPageUrl} and ${ENV.linkSecretArn} go together; only one is set`,
        );
      }
      return {
        approvalTopicArn: read.required(ENV.approvalTopicArn),
        ...(pageUrl && linkSecretArn && { web: { pageUrl, linkSecretArn } }),
        ...read.events(),
        ...read.calendars(),
      };
    },
    DeleteMaterial: () => ({
      outcomeTopicArn: read.required(ENV.outcomeTopicArn),
      attestationKeyArn: read.required(ENV.attestationKeyArn),
      ...read.events(),
    }),
    VerifyPendingImport: () => ({}),
    NotifyOutcome: () => ({ outcomeTopicArn: read.required(ENV.outcomeTopicArn), ...read.events() }),
    ApprovalPage: () => {
      const identityClaim = read.optional(ENV.approvalPageIdentityClaim);
      return {
        linkSecretArn: read.required(ENV.linkSecretArn),
        attestationKeyArn: read.required(ENV.attestationKeyArn),
        ...(identityClaim !== undefined && { identityClaim }),
        ...read.events(),
      };
    },
    ExpiryScan: () => ({
      stateMachineArn: read.required(ENV.stateMachineArn),
      outcomeTopicArn: read.required(ENV.outcomeTopicArn),
      policyJson: read.required(ENV.scanPolicy),
      limitsJson: read.required(ENV.scanLimits),
      attestationKeyArn: read.required(ENV.attestationKeyArn),
    }),
    Gateway: () => ({
      stateMachineArn: read.required(ENV.stateMachineArn),
      attestationKeyArn: read.required(ENV.attestationKeyArn),
      sessionBoundRoles: read.names(ENV.sessionBoundRoles),
      ...read.events(),
    }),
  };
  return configs[name]();
}

/** An IAM role name as IAM allows it. */
const IAM_ROLE_NAME = /^[\w+=,.@-]{1,64}$/;

function reader(env: Env) {
  const optional = (name: string): string | undefined => {
    const value = env[name];
    return value === undefined || value === '' ? undefined : value;
  };
  const matching = (name: string, pattern: RegExp, what: string): string | undefined => {
    const value = optional(name);
    if (value !== undefined && !pattern.test(value)) {
      throw new Error(`environment variable ${name} must be ${what}; got '${value}'`);
    }
    return value;
  };
  return {
    optional,
    /** An optional variable that must match a pattern, as a one-field object (nothing when unset). */
    optionalMatching<K extends string>(name: string, field: K, pattern: RegExp, what: string) {
      const value = matching(name, pattern, what);
      return (value === undefined ? {} : { [field]: value }) as Partial<Record<K, string>>;
    },
    events(): EventsConfig {
      return {
        eventBusName: matching(ENV.eventBusName, EVENT_BUS, 'an EventBridge bus name or ARN') ?? DEFAULT_EVENT_BUS,
      };
    },
    calendars(): CalendarsConfig {
      try {
        return { changeCalendars: calendarList(optional(ENV.changeCalendars) ?? '') };
      } catch (err) {
        throw new Error(`environment variable ${ENV.changeCalendars}: ${(err as Error).message}`);
      }
    },
    required(name: string): string {
      const value = optional(name);
      if (value === undefined) throw new Error(`environment variable ${name} is not set`);
      return value;
    },
    int(name: string, fallback: number, min: number, max: number): number {
      const raw = optional(name);
      if (raw === undefined) return fallback;
      const n = Number(raw);
      if (!/^\d+$/.test(raw) || !Number.isSafeInteger(n) || n < min || n > max) {
        throw new Error(`environment variable ${name} must be a whole number from ${min} to ${max}; got '${raw}'`);
      }
      return n;
    },
    /** A comma-separated list of IAM role names; unset: none. */
    names(name: string): string[] {
      const names = (optional(name) ?? '')
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
      const bad = names.find((n) => !IAM_ROLE_NAME.test(n));
      if (bad !== undefined) {
        throw new Error(
          `environment variable ${name} must be a comma-separated list of IAM role names (letters, digits, +=,.@_-, at most 64); got '${bad}'`,
        );
      }
      return names;
    },
  };
}

/** Static AWS credentials, as the Lambda runtime hands a function its role's session. */
export interface AwsCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

/**
 * The function's credentials: the Lambda runtime sets its execution role's session in `AWS_ACCESS_KEY_ID`,
 * `AWS_SECRET_ACCESS_KEY` and `AWS_SESSION_TOKEN` before the handler loads.
 */
export function awsCredentials(env: Env = process.env): AwsCredentials {
  const read = reader(env);
  const sessionToken = read.optional(ENV.sessionToken);
  return {
    accessKeyId: read.required(ENV.accessKeyId),
    secretAccessKey: read.required(ENV.secretAccessKey),
    ...(sessionToken !== undefined && { sessionToken }),
  };
}

/**
 * An endpoint set for a service in the environment, as the AWS SDKs take it: `AWS_ENDPOINT_URL_<SERVICE>` (e.g.
 * `AWS_ENDPOINT_URL_KMS`), else `AWS_ENDPOINT_URL`; undefined when neither is set.
 *
 * @param serviceId - The service's SDK id in upper case with underscores (`KMS`, `SECRETS_MANAGER`, `SFN`).
 */
export function awsEndpoint(serviceId: string, env: Env = process.env): string | undefined {
  const read = reader(env);
  return read.optional(`${ENV.endpoint}_${serviceId}`) ?? read.optional(ENV.endpoint);
}

/** The function's Region (`AWS_REGION`, which the Lambda runtime sets). */
export const awsRegion = (env: Env = process.env): string => reader(env).required(ENV.region);

/** The log levels of the functions' logger (Powertools' names). */
export const LOG_LEVELS = ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR', 'CRITICAL', 'SILENT'] as const;

export type LogLevel = (typeof LOG_LEVELS)[number];

/**
 * The log level of the task functions when the local stack runs them in-process: silent unless
 * `POWERTOOLS_LOG_LEVEL` asks for their lines (any case, as Powertools accepts it).
 */
export function localLogLevel(env: Env = process.env): LogLevel {
  const raw = reader(env).optional(ENV.logLevel);
  if (raw === undefined) return DEFAULT_LOCAL_LOG_LEVEL;
  const level = LOG_LEVELS.find((l) => l === raw.toUpperCase());
  if (level === undefined) {
    throw new Error(`environment variable ${ENV.logLevel} must be one of ${LOG_LEVELS.join(', ')}; got '${raw}'`);
  }
  return level;
}

/** What the CLI takes from its environment; each value is undefined when its variable is not set. */
export interface CliEnvironment {
  /** The deployed state machine (`KEYMAT_STATE_MACHINE_ARN`), when no option names one. */
  stateMachineArn?: string;
  /** The deployed gateway's Function URL (`KEYMAT_GATEWAY_URL`), when no option names one. */
  gatewayUrl?: string;
  /** The caller's static credentials, for the local stack (which takes the access key id as the user's name). */
  credentials?: { accessKeyId: string; secretAccessKey: string };
  /** `AWS_REGION`. */
  region?: string;
  /** `AWS_ENDPOINT_URL_KMS`: a KMS endpoint to use instead of the local stack's. */
  kmsEndpoint?: string;
}

/**
 * The CLI's environment. The local stack ignores secret keys, so an access key id alone is enough there; the SDK reads
 * the same variables itself for AWS targets.
 */
export function cliEnvironment(env: Env = process.env): CliEnvironment {
  const read = reader(env);
  const accessKeyId = read.optional(ENV.accessKeyId);
  const stateMachineArn = read.optional(ENV.cliStateMachineArn);
  const gatewayUrl = read.optional(ENV.cliGatewayUrl);
  const region = read.optional(ENV.region);
  const kmsEndpoint = read.optional(ENV.kmsEndpoint);
  return {
    ...(stateMachineArn && { stateMachineArn }),
    ...(gatewayUrl && { gatewayUrl }),
    ...(accessKeyId && {
      credentials: { accessKeyId, secretAccessKey: read.optional(ENV.secretAccessKey) ?? 'local' },
    }),
    ...(region && { region }),
    ...(kmsEndpoint && { kmsEndpoint }),
  };
}

/**
 * Turns off the SDK's notice that its future versions need a newer Node, unless the user set it: the CLI supports
 * Node 20 (past end of life, stated in the README and `engines`) and prints one line per error, never the notice.
 */
export function quietSdkNodeNotice(env: Record<string, string | undefined> = process.env): void {
  env[ENV.sdkNodeVersionNotice] ??= 'true';
}
