import {
  DEFAULT_EVENT_BUS,
  DEFAULT_RECENT_USE_DAYS,
  DEFAULT_WAIT_SECONDS,
  DEFAULT_WINDOW_WAIT_SECONDS,
  MAX_WAIT_SECONDS,
  MAX_WINDOW_WAIT_SECONDS,
} from './defaults';
import { CALENDAR_ARN, CALENDAR_NAME, EVENT_BUS, FUNCTION_ARN, IAM_ROLE_NAME } from './naming';
import { approvalRuleSchema, membersSchema } from './organisation';
import * as z from './schema';

/**
 * The Lambda environment contract: one schema per function, naming each variable the stack sets on it and how its
 * text reads. Both sides derive from the schema: infra writes a function's variables with `environmentOf`, its
 * handler reads them once, at cold start, with `configFromEnvironment`. The local stack builds the same configuration
 * objects directly and never touches the environment. A missing or malformed variable fails the cold start with the
 * variable's name and value.
 */

type Env = Readonly<Record<string, string | undefined>>;

/** How an unset variable reads: `required` refuses it, `optional` leaves its field out, `default` reads its default. */
type Unset = 'required' | 'optional' | 'default';

/**
 * One variable: its name, the schema that reads its text, and how a value is written as text. The stack writes values
 * that may be CloudFormation tokens (ARNs of resources it creates), so writing checks nothing: the stack's props are
 * checked before anything is built, and reading checks the resolved text.
 */
interface Variable<T, U extends Unset = Unset, R extends boolean = boolean> {
  readonly kind: 'variable';
  readonly name: string;
  /**
   * Reads the variable's text (never empty: an empty variable is unset). Lazy, as core's schemas are: a function
   * builds only the schemas of the variables it reads, when it reads them.
   */
  readonly schema: z.ZodMiniType<T, string>;
  /** What the text must be, for the message when the schema refuses it. */
  readonly expected: string;
  /** The value as the variable's text. */
  text(value: T): string;
  readonly unset: U;
  /** The value of an unset variable, when `unset` is `default`; the writer leaves a value that reads as it unset. */
  readonly fallback?: T;
  /** Set by the Lambda runtime, never by the stack (`AWS_REGION`). */
  readonly runtime: R;
}

/** Variables that make one field together: all of them set (`required`), or all or none of them (`optional`). */
interface Group<F extends Fields, U extends 'required' | 'optional' = 'required' | 'optional'> {
  readonly kind: 'group';
  readonly fields: F;
  readonly unset: U;
}

interface Fields {
  readonly [field: string]: Variable<unknown> | Group<Fields>;
}

const variable = <T>(
  name: string,
  schema: () => z.ZodMiniType<T, string>,
  expected: string,
  text: (value: T) => string,
): Variable<T, 'required', false> => ({
  kind: 'variable',
  name,
  schema: z.lazy(schema),
  expected,
  text,
  unset: 'required',
  runtime: false,
});

/** Any non-empty text, as written: an ARN, a URL, a JSON document. */
const textVariable = (name: string) => variable(name, () => z.string(), 'text', String);

const matching = (name: string, pattern: RegExp, expected: string) =>
  variable(name, () => z.string().check(z.regex(pattern)), expected, String);

const wholeNumber = (name: string, min: number, max: number) =>
  variable(
    name,
    () =>
      z.pipe(z.pipe(z.string().check(z.regex(/^\d+$/)), z.transform(Number)), z.number().check(z.gte(min), z.lte(max))),
    `a whole number from ${min} to ${max}`,
    String,
  );

/**
 * A comma-separated list of at least one item (unset, it is empty), blanks around and between its items ignored; each
 * item checked.
 */
const list = (name: string, item: () => z.ZodMiniType<string, string>, expected: string) =>
  variable(
    name,
    () =>
      z.pipe(
        z.pipe(
          z.string(),
          z.transform((text: string) =>
            text
              .split(',')
              .map((s) => s.trim())
              .filter(Boolean),
          ),
        ),
        z.array(item()).check(z.minLength(1)),
      ),
    expected,
    (items: string[]) => items.join(','),
  );

/** A JSON document, read by `schema` once parsed. */
const json = <T>(name: string, schema: () => z.ZodMiniType<T>, expected: string) =>
  variable(
    name,
    () =>
      z.pipe(
        z.pipe(
          z.string(),
          z.transform((text: string, ctx) => {
            try {
              return JSON.parse(text) as unknown;
            } catch {
              ctx.issues.push({ code: 'custom', message: 'not JSON', input: text });
              return z.NEVER;
            }
          }),
        ),
        schema(),
      ),
    expected,
    (value: T) => JSON.stringify(value),
  );

const optional = <T, R extends boolean>(v: Variable<T, Unset, R>): Variable<T, 'optional', R> => ({
  ...v,
  unset: 'optional',
});
const withDefault = <T, R extends boolean>(v: Variable<T, Unset, R>, fallback: T): Variable<T, 'default', R> => ({
  ...v,
  unset: 'default',
  fallback,
});
const required = <T, R extends boolean>(v: Variable<T, Unset, R>): Variable<T, 'required', R> => ({
  ...v,
  unset: 'required',
});
const setByRuntime = <T, U extends Unset>(v: Variable<T, U, boolean>): Variable<T, U, true> => ({
  ...v,
  runtime: true,
});
const group = <F extends Fields>(fields: F): Group<F, 'required'> => ({ kind: 'group', fields, unset: 'required' });
const optionalGroup = <F extends Fields>(fields: F): Group<F, 'optional'> => ({
  kind: 'group',
  fields,
  unset: 'optional',
});

/** Every variable of the contract, each name spelled once; the functions' schemas pick theirs from here. */
const VARIABLES = {
  account: matching('KEYMAT_ACCOUNT_ID', /^\d{12}$/, 'an AWS account id (12 digits)'),
  region: setByRuntime(matching('AWS_REGION', /^[a-z0-9-]+$/, 'an AWS Region')),
  defaultWaitSeconds: withDefault(wholeNumber('DEFAULT_WAIT_SECONDS', 0, MAX_WAIT_SECONDS), DEFAULT_WAIT_SECONDS),
  recentUseDays: withDefault(wholeNumber('RECENT_USE_DAYS', 0, 3650), DEFAULT_RECENT_USE_DAYS),
  approvalTopicArn: textVariable('APPROVAL_TOPIC_ARN'),
  outcomeTopicArn: textVariable('OUTCOME_TOPIC_ARN'),
  approvalPageUrl: textVariable('APPROVAL_PAGE_URL'),
  approvalPageIdentityClaim: optional(textVariable('APPROVAL_PAGE_IDENTITY_CLAIM')),
  linkSecretArn: textVariable('LINK_SECRET_ARN'),
  stateMachineArn: textVariable('STATE_MACHINE_ARN'),
  scanPolicy: textVariable('SCAN_POLICY'),
  scanLimits: textVariable('SCAN_LIMITS'),
  attestationKeyArn: textVariable('ATTESTATION_KEY_ARN'),
  sessionBoundRoles: withDefault(
    list(
      'SESSION_BOUND_ROLES',
      () => z.string().check(z.regex(IAM_ROLE_NAME)),
      'a comma-separated list of IAM role names (letters, digits, +=,.@_-, at most 64)',
    ),
    [],
  ),
  eventBusName: withDefault(matching('EVENT_BUS_NAME', EVENT_BUS, 'an EventBridge bus name or ARN'), DEFAULT_EVENT_BUS),
  changeCalendars: list(
    'CHANGE_CALENDARS',
    () => z.string().check(z.refine((name: string) => CALENDAR_NAME.test(name) || CALENDAR_ARN.test(name))),
    'a comma-separated list of SSM Change Calendar document names or ARNs',
  ),
  changeWindowMaxWaitSeconds: withDefault(
    wholeNumber('CHANGE_WINDOW_MAX_WAIT_SECONDS', 1, MAX_WINDOW_WAIT_SECONDS),
    DEFAULT_WINDOW_WAIT_SECONDS,
  ),
  changeTicketFunctionArn: optional(matching('CHANGE_TICKET_FUNCTION_ARN', FUNCTION_ARN, 'a Lambda function ARN')),
  members: optional(json('KEYMAT_MEMBERS', () => membersSchema, 'a JSON document of the member accounts and Regions')),
  partition: matching('KEYMAT_PARTITION', /^aws(-[a-z]+)*$/, 'an AWS partition such as aws or aws-us-gov'),
  custodians: withDefault(
    json('KEYMAT_CUSTODIANS', () => z.array(z.string().check(z.minLength(1))), 'a JSON list of principal ARN patterns'),
    [],
  ),
  approvalRules: withDefault(
    json('KEYMAT_APPROVAL_RULES', () => z.array(approvalRuleSchema), 'a JSON list of approval rules'),
    [],
  ),
} as const;

/** The variable names by their entry in the contract, e.g. `ENV.attestationKeyArn` is `ATTESTATION_KEY_ARN`. */
export const ENV = Object.fromEntries(Object.entries(VARIABLES).map(([key, v]) => [key, v.name])) as {
  readonly [K in keyof typeof VARIABLES]: string;
};

const events = { eventBusName: VARIABLES.eventBusName };
/**
 * Where keymat acts: the hub's own account and Region, and the organisation's member accounts and Regions when the
 * deployment has them (unset: the hub's account and Region only).
 */
const reach = {
  scope: group({ account: VARIABLES.account, region: VARIABLES.region }),
  members: VARIABLES.members,
};
/** The deployment's change calendars; none: no freeze windows. */
const calendars = { changeCalendars: withDefault(VARIABLES.changeCalendars, []) };

/** Each function's schema, by its name (the task state's name, or the function's). */
const SCHEMAS = {
  ValidateOrigin: {
    ...reach,
    /** The ordered approval rules by account or OU; none: every change takes the deployment's quorum and approvers. */
    approvalRules: VARIABLES.approvalRules,
    defaultWaitSeconds: VARIABLES.defaultWaitSeconds,
    recentUseDays: VARIABLES.recentUseDays,
    /** The KMS HMAC key whose MAC on the start attestation ValidateOrigin verifies. */
    attestationKeyArn: VARIABLES.attestationKeyArn,
    ...events,
    ...calendars,
    /** The organisation's change-ticket check function, when the deployment has one. */
    changeTicketFunctionArn: VARIABLES.changeTicketFunctionArn,
  },
  CheckState: {},
  RequestApproval: {
    approvalTopicArn: VARIABLES.approvalTopicArn,
    /** The approval page and its link secret; without them approvers get no web links. */
    web: optionalGroup({ pageUrl: VARIABLES.approvalPageUrl, linkSecretArn: VARIABLES.linkSecretArn }),
    ...events,
    ...calendars,
  },
  /** The calendars (at least one) and how long an approved change may wait for them. */
  CheckChangeWindow: {
    changeCalendars: VARIABLES.changeCalendars,
    maxWaitSeconds: VARIABLES.changeWindowMaxWaitSeconds,
  },
  DeleteMaterial: {
    /** The hub's own account and Region: a key elsewhere is deleted through the member delete role. */
    scope: reach.scope,
    outcomeTopicArn: VARIABLES.outcomeTopicArn,
    /** The KMS HMAC key whose MAC on every approval DeleteMaterial verifies. */
    attestationKeyArn: VARIABLES.attestationKeyArn,
    ...events,
  },
  /** The hub's own account and Region: a key elsewhere is read through the member read role. */
  VerifyPendingImport: { scope: reach.scope },
  /**
   * The proving function of AwaitRecoveryProof and ProveRecovery: a key elsewhere is proven through the member
   * recovery role; the import parameters go to the approval topic, to the custodians.
   */
  ProveRecovery: {
    scope: reach.scope,
    approvalTopicArn: VARIABLES.approvalTopicArn,
    /** The KMS HMAC key whose MAC on a custodian's submission ProveRecovery verifies. */
    attestationKeyArn: VARIABLES.attestationKeyArn,
  },
  NotifyOutcome: { outcomeTopicArn: VARIABLES.outcomeTopicArn, ...events },
  ApprovalPage: {
    linkSecretArn: VARIABLES.linkSecretArn,
    /** The KMS HMAC key the page attests each decision with. */
    attestationKeyArn: VARIABLES.attestationKeyArn,
    /**
     * Identity mode: the page sits behind a JWT authorizer, and this claim of the verified token (e.g. `email`) must
     * name the link's approver. Unset: the page is possession-based (the signed link alone admits a request).
     */
    identityClaim: VARIABLES.approvalPageIdentityClaim,
    ...events,
  },
  ExpiryScan: {
    stateMachineArn: VARIABLES.stateMachineArn,
    outcomeTopicArn: VARIABLES.outcomeTopicArn,
    /** The scan policy and limits as JSON; the scan parses them with its own schemas. */
    policyJson: VARIABLES.scanPolicy,
    limitsJson: VARIABLES.scanLimits,
    /** The KMS HMAC key the scan attests the changes it starts with. */
    attestationKeyArn: VARIABLES.attestationKeyArn,
    /** With members, the fleet scan: the hub's own account and Region, and the accounts and Regions it scans. */
    ...reach,
    /** Where the fleet scan puts its Scan Completed event. */
    ...events,
  },
  /**
   * The fleet doctor: from the hub's account and Region, every member account and Region (which it exists for), and
   * the partition of the member roles' ARNs.
   */
  OrgDoctor: { scope: reach.scope, members: required(VARIABLES.members), partition: VARIABLES.partition },
  /** The gateway: the one entry point for people, which starts changes and records decisions under their identity. */
  Gateway: {
    stateMachineArn: VARIABLES.stateMachineArn,
    /** The KMS HMAC key the gateway attests each start and decision with. */
    attestationKeyArn: VARIABLES.attestationKeyArn,
    /** Roles whose session name a policy pins, so that it identifies a person (see `canonicalPrincipal`). */
    sessionBoundRoles: VARIABLES.sessionBoundRoles,
    /** The member accounts' Regions, so that a start for a key outside them is refused before it runs. */
    members: VARIABLES.members,
    /** Who may submit a custodian's copy (principal patterns); none listed: anyone who may call the gateway. */
    custodians: VARIABLES.custodians,
    ...events,
  },
} satisfies Record<string, Fields>;

type Schemas = typeof SCHEMAS;
/** A function keymat deploys, by the name of its task state (or its own, for the others). */
export type FunctionName = keyof Schemas;

type Simplify<T> = { [K in keyof T]: T[K] } & {};
type ValueOf<E> = E extends Variable<infer T> ? T : E extends Group<infer F> ? ConfigOf<F> : never;
type KeysWhere<F extends Fields, C> = { [K in keyof F]: F[K] extends C ? K : never }[keyof F];

/** The configuration a schema reads: a field per entry, optional where the entry may be unset. */
type ConfigOf<F extends Fields> = Simplify<
  { [K in Exclude<keyof F, KeysWhere<F, { unset: 'optional' }>>]: ValueOf<F[K]> } & {
    [K in KeysWhere<F, { unset: 'optional' }>]?: ValueOf<F[K]>;
  }
>;

type WrittenValueOf<E> = E extends Variable<infer T> ? T : E extends Group<infer F> ? WrittenConfigOf<F> : never;

/** The configuration a schema writes: without what the runtime sets, and with defaulted entries optional. */
type WrittenConfigOf<F extends Fields> = Simplify<
  { [K in Exclude<KeysWhere<F, { unset: 'required' }>, KeysWhere<F, { runtime: true }>>]: WrittenValueOf<F[K]> } & {
    [K in Exclude<keyof F, KeysWhere<F, { unset: 'required' }> | KeysWhere<F, { runtime: true }>>]?: WrittenValueOf<
      F[K]
    >;
  }
>;

/** Each function's configuration, by its name. */
export type FunctionConfigs = { [N in FunctionName]: ConfigOf<Schemas[N]> };

/** A configuration as the stack gives it: without the values the Lambda runtime supplies (the Region). */
export type DeployedConfig<N extends FunctionName> = WrittenConfigOf<Schemas[N]>;

/** The hub's own account and Region. */
export type Scope = FunctionConfigs['ValidateOrigin']['scope'];
/** ValidateOrigin's configuration (its factory's `config`). */
export type ValidateOriginConfig = FunctionConfigs['ValidateOrigin'];
/** RequestApproval's configuration. */
export type RequestApprovalConfig = FunctionConfigs['RequestApproval'];
/** CheckChangeWindow's configuration. */
export type CheckChangeWindowConfig = FunctionConfigs['CheckChangeWindow'];
/** DeleteMaterial's configuration. */
export type DeleteMaterialConfig = FunctionConfigs['DeleteMaterial'];
/** The proving function's configuration. */
export type ProveRecoveryConfig = FunctionConfigs['ProveRecovery'];
/** NotifyOutcome's configuration: where outcomes go. */
export type OutcomeConfig = FunctionConfigs['NotifyOutcome'];
/** The approval page's configuration. */
export type ApprovalPageConfig = FunctionConfigs['ApprovalPage'];
/** The expiry scan's configuration. */
export type ExpiryScanConfig = FunctionConfigs['ExpiryScan'];
/** The fleet doctor's configuration. */
export type OrgDoctorConfig = FunctionConfigs['OrgDoctor'];
/** The gateway's configuration. */
export type GatewayConfig = FunctionConfigs['Gateway'];

/** The variables to set on a function for its configuration (the Region comes from the Lambda runtime). */
export function environmentOf<N extends FunctionName>(name: N, config: DeployedConfig<N>): Record<string, string> {
  return write(SCHEMAS[name], config as Readonly<Record<string, unknown>>);
}

function write(fields: Fields, config: Readonly<Record<string, unknown>>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [field, entry] of Object.entries(fields)) {
    const value = config[field];
    if (value === undefined) continue;
    if (entry.kind === 'group') {
      Object.assign(env, write(entry.fields, value as Readonly<Record<string, unknown>>));
      continue;
    }
    if (entry.runtime) continue;
    const text = entry.text(value);
    const unsetText = entry.unset === 'default' ? entry.text(entry.fallback) : undefined;
    if (text !== '' && text !== unsetText) env[entry.name] = text;
  }
  return env;
}

/** Reads a function's configuration from its environment (the handler passes `process.env`). */
export function configFromEnvironment<N extends FunctionName>(name: N, env: Env = process.env): FunctionConfigs[N] {
  return read(SCHEMAS[name], env) as FunctionConfigs[N];
}

function read(fields: Fields, env: Env): Record<string, unknown> {
  const config: Record<string, unknown> = {};
  for (const [field, entry] of Object.entries(fields)) {
    const value = entry.kind === 'group' ? readGroup(entry, env) : readVariable(entry, env);
    if (value !== undefined) config[field] = value;
  }
  return config;
}

/** A group's value; an optional group with none of its variables set is undefined. */
function readGroup(group: Group<Fields>, env: Env): Record<string, unknown> | undefined {
  if (group.unset === 'optional') {
    const names = variableNames(group.fields);
    const set = names.filter((name) => isSet(env[name]));
    if (set.length === 0) return undefined;
    if (set.length < names.length) {
      throw new Error(`environment variables ${names.join(' and ')} go together; only ${set.join(' and ')} is set`);
    }
  }
  return read(group.fields, env);
}

const variableNames = (fields: Fields): string[] =>
  Object.values(fields).flatMap((entry) => (entry.kind === 'group' ? variableNames(entry.fields) : [entry.name]));

const isSet = (text: string | undefined): text is string => text !== undefined && text !== '';

function readVariable(v: Variable<unknown>, env: Env): unknown {
  const text = env[v.name];
  if (!isSet(text)) {
    if (v.unset === 'required') throw new Error(`environment variable ${v.name} is not set`);
    return v.fallback;
  }
  const result = z.safeParse(v.schema, text);
  if (!result.success) {
    // A document's first problem, by its path in the document (a list or a single value has none worth naming).
    const issue = result.error.issues[0];
    const where = issue && issue.path.length > 0 ? ` (${issue.path.join('.')}: ${issue.message})` : '';
    throw new Error(`environment variable ${v.name} must be ${v.expected}${where}; got '${text}'`);
  }
  return result.data;
}

/** The log levels of the functions' logger (Powertools' names). */
export const LOG_LEVELS = ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR', 'CRITICAL', 'SILENT'] as const;

export type LogLevel = (typeof LOG_LEVELS)[number];
