import { randomBytes, randomUUID } from 'node:crypto';
import type { StateMachineDefinition, StateMachine as StateMachineType } from 'aws-local-stepfunctions' with {
  'resolution-mode': 'import',
};
import { localLogLevel } from '../env';
import { DEFAULT_EVENT_BUS, DEFAULT_RECENT_USE_DAYS, DEFAULT_WINDOW_WAIT_SECONDS } from '../../core/defaults';
import { awaitRecoveryProofEvent, parseEvent, requestApprovalEvent } from '../../core/events';
import { executionArnOf } from '../../core/naming';
import {
  ALL_TASK_STATES,
  PROOF_PARAMETERS_STATE,
  PROOF_WAIT_STATE,
  RESTORE_STATE,
  WAIT_STATE,
  WINDOW_WAIT_STATE,
  type AnyTaskState,
} from '../../core/tasks';
import type { Attestor } from '../../core/attestation';
import type { EventPublisher } from '../../core/change-events';
import {
  MEMBER_DELETE_ROLE,
  MEMBER_READ_ROLE,
  MEMBER_RECOVERY_ROLE,
  type ApprovalRule,
  type MemberRole,
  type Members,
} from '../../core/organisation';
import type { ApprovalResult, ChangeInput, Plan, RecoveryState } from '../../core/types';
import {
  createKmsClient,
  createOrganizationsClient,
  createSecretsClient,
  createSnsClient,
} from '../../functions/runtime/aws';
import { createKeyAccess } from '../../functions/runtime/key-access';
import { createSsmClient, ssmCalendarReader } from '../../functions/runtime/calendars';
import { createLambdaClient, lambdaTicketCheck } from '../../functions/runtime/change-tickets';
import { createLogger } from '../../functions/runtime/logger';
import { kmsAttestor } from '../../functions/runtime/attestor';
import { TASK_FACTORIES, type TaskHandler } from '../../functions/tasks';
import { localClientConfig } from '../services/clients';
import { localEventPublisher } from '../services/events';
import { taskCredentials, type HubIdentity, type InternalAccess } from '../services/internal-access';
import { type OutboxMessage } from '../services/sns';
import { APPROVAL_PAGE_PATH, LOCAL_TICKET_FUNCTION_ARN, localResources, localStateMachineArn } from '../constants';

// aws-local-stepfunctions needs Promise.withResolvers (Node 22); without it every Task fails on Node 20.
if (!('withResolvers' in Promise)) {
  Object.assign(Promise, {
    withResolvers<T>() {
      let resolve!: (v: T) => void;
      let reject!: (e: unknown) => void;
      const promise = new Promise<T>((res, rej) => ((resolve = res), (reject = rej)));
      return { promise, resolve, reject };
    },
  });
}

/** What a local workflow's tasks are configured with: the stack they call and the workflow's scope. */
export interface LocalTaskSettings {
  /** The local stack's endpoint: SNS, Secrets Manager and (unless `kmsEndpoint`) KMS. */
  endpoint: string;
  /** Another KMS endpoint (LocalStack, another emulator) instead of the local stack's. @default `endpoint` */
  kmsEndpoint?: string;
  account: string;
  region: string;
  defaultWaitSeconds: number;
  /** @default DEFAULT_RECENT_USE_DAYS */
  recentUseDays?: number;
  /** keymat's own credentials on the stack and its attestation key: the tasks call as keymat's roles do. */
  internal: InternalAccess;
  /** The change-management settings the workflow runs with. @default none of them */
  changeManagement?: LocalChangeManagement;
  /** The member accounts and approval rules of an organisation on the stack. @default the stack's account only */
  organisation?: LocalOrganisation;
}

/** An organisation on the local stack: the accounts and Regions keymat acts in, and the approval rules by OU or account. */
export interface LocalOrganisation {
  members: Members;
  /** @default none: every change takes the workflow's quorum and approvers */
  approvalRules?: ApprovalRule[];
}

/** Freeze windows and the change-ticket check on the local stack (its calendars and its ticket stub). */
export interface LocalChangeManagement {
  /** Calendars (in the state folder) that must all be OPEN for a deletion. @default none */
  changeCalendars?: string[];
  /** How long an approved change waits for its calendars. @default DEFAULT_WINDOW_WAIT_SECONDS */
  changeWindowMaxWaitSeconds?: number;
  /** Have ValidateOrigin ask the local change-ticket stub. @default false */
  changeTicketCheck?: boolean;
}

/** The tasks of one local workflow, made by the same factories as the Lambda handlers. */
export type LocalTasks = { readonly [S in AnyTaskState]: TaskHandler<S> };

/**
 * Makes a local workflow's tasks: SDK clients pointed at the local stack, each task's configuration as the deployed
 * stack would set it, and a logger per task (silent unless POWERTOOLS_LOG_LEVEL asks for its lines). Nothing is
 * global, so one process can run workflows of several local stacks.
 */
export function createLocalTasks(settings: LocalTaskSettings): LocalTasks {
  const aws = localClientConfig(settings.endpoint, settings.region, settings.internal.credentials);
  const scope = { account: settings.account, region: settings.region };
  // Each task calls KMS as its own function's role, so member roles' trust and the request log tell them apart; a key
  // of a member account through the member role, assumed with the task's identity through the stack's STS.
  const keys = (identity: HubIdentity, role: MemberRole) =>
    createKeyAccess({
      scope,
      role,
      aws: {
        endpoint: settings.kmsEndpoint ?? settings.endpoint,
        credentials: taskCredentials(settings.internal.credentials, identity),
      },
    });
  const members = settings.organisation?.members;
  const sns = createSnsClient(aws);
  const resources = localResources(settings.region, settings.account, settings.internal.attestationKeyArn);
  // The attestation key lives in the local stack's KMS, whichever KMS the keys to delete are in.
  const attestor = localAttestor(settings.endpoint, settings.region, settings.internal);
  const logLevel = localLogLevel();
  const logger = () => createLogger({ logLevel });
  const events = localEventPublisher(aws);
  const calendars = ssmCalendarReader(createSsmClient(aws));
  const changeCalendars = settings.changeManagement?.changeCalendars ?? [];
  return {
    ValidateOrigin: TASK_FACTORIES.ValidateOrigin({
      keys: keys('ValidateOrigin', MEMBER_READ_ROLE),
      ...(members !== undefined && {
        organizations: createOrganizationsClient({
          ...aws,
          credentials: taskCredentials(settings.internal.credentials, 'ValidateOrigin'),
        }),
      }),
      attestor,
      events,
      calendars,
      ...(settings.changeManagement?.changeTicketCheck && {
        tickets: lambdaTicketCheck(createLambdaClient(aws), LOCAL_TICKET_FUNCTION_ARN),
      }),
      config: {
        scope,
        ...(members !== undefined && { members }),
        approvalRules: settings.organisation?.approvalRules ?? [],
        defaultWaitSeconds: settings.defaultWaitSeconds,
        recentUseDays: settings.recentUseDays ?? DEFAULT_RECENT_USE_DAYS,
        attestationKeyArn: resources.attestationKeyArn,
        eventBusName: DEFAULT_EVENT_BUS,
        changeCalendars,
        ...(settings.changeManagement?.changeTicketCheck && { changeTicketFunctionArn: LOCAL_TICKET_FUNCTION_ARN }),
      },
      logger: logger(),
    }),
    CheckChangeWindow: TASK_FACTORIES.CheckChangeWindow({
      calendars,
      config: {
        changeCalendars,
        maxWaitSeconds: settings.changeManagement?.changeWindowMaxWaitSeconds ?? DEFAULT_WINDOW_WAIT_SECONDS,
      },
      logger: logger(),
    }),
    CheckState: TASK_FACTORIES.CheckState({ logger: logger() }),
    ProveRecovery: TASK_FACTORIES.ProveRecovery({
      keys: keys('ProveRecovery', MEMBER_RECOVERY_ROLE),
      sns,
      attestor,
      config: { scope, approvalTopicArn: resources.approvalTopicArn, attestationKeyArn: resources.attestationKeyArn },
      logger: logger(),
    }),
    RequestApproval: TASK_FACTORIES.RequestApproval({
      sns,
      secrets: createSecretsClient(aws),
      events,
      calendars,
      config: {
        approvalTopicArn: resources.approvalTopicArn,
        web: { pageUrl: `${settings.endpoint}${APPROVAL_PAGE_PATH}`, linkSecretArn: resources.linkSecretArn },
        eventBusName: DEFAULT_EVENT_BUS,
        changeCalendars,
      },
      logger: logger(),
    }),
    DeleteMaterial: TASK_FACTORIES.DeleteMaterial({
      keys: keys('DeleteMaterial', MEMBER_DELETE_ROLE),
      sns,
      attestor,
      events,
      config: {
        scope,
        outcomeTopicArn: resources.outcomeTopicArn,
        attestationKeyArn: resources.attestationKeyArn,
        eventBusName: DEFAULT_EVENT_BUS,
      },
      logger: logger(),
    }),
    VerifyPendingImport: TASK_FACTORIES.VerifyPendingImport({
      keys: keys('VerifyPendingImport', MEMBER_READ_ROLE),
      logger: logger(),
    }),
    NotifyOutcome: TASK_FACTORIES.NotifyOutcome({
      sns,
      events,
      config: { outcomeTopicArn: resources.outcomeTopicArn, eventBusName: DEFAULT_EVENT_BUS },
      logger: logger(),
    }),
  };
}

/** keymat's attestor on the local stack at `endpoint`: GenerateMac/VerifyMac with the attestation key, as keymat. */
export const localAttestor = (endpoint: string, region: string, internal: InternalAccess): Attestor =>
  kmsAttestor(createKmsClient(localClientConfig(endpoint, region, internal.credentials)), internal.attestationKeyArn);

export type ExecutionStatus = 'SUCCEEDED' | 'FAILED' | 'TIMED_OUT' | 'ABORTED';

export interface HistoryEvent {
  type: string;
  state?: string;
  timestamp: string;
  error?: string;
  cause?: string;
  /** TaskScheduled: the callback task's resolved parameters, as Step Functions records them (with the token). */
  parameters?: string;
  /** TaskSucceeded: what the decision returned. */
  output?: string;
}

/** An approval request as it reaches whoever decides: the published message, the task's payload, the token. */
export interface PendingApproval {
  executionArn: string;
  /** This round's token: each time RequestApproval is scheduled it gets a new one, as in Step Functions. */
  taskToken: string;
  message: OutboxMessage;
  /**
   * RequestApproval's payload: the change, the plan (with the approval rules it takes), the approvals so far, and
   * the recovery proof, if any.
   */
  payload: { input: ChangeInput; plan: Plan; approval: ApprovalResult; recovery: RecoveryState };
  /**
   * keymat's attestor on the stack, for a decider that stands in for keymat's signers (`keymat local run --approve`):
   * an approval DeleteMaterial accepts is MACed with it.
   */
  attestor: Attestor;
  /** keymat's events on the stack, for such a decider's Approval Decided. */
  events: EventPublisher;
}

/** Decides an approval request: resolves with the decision, rejects with an error named like SendTaskFailure's. */
export type Decider = (request: PendingApproval) => Promise<ApprovalResult>;

/**
 * The states that wait on a task token (Step Functions' callback pattern): the approval rounds, the recovery proof's
 * wait and the hold of an approved change by its change window. Each entry gets a fresh token, and a token stops being
 * taken when its state times out.
 */
export const isCallbackState = (state: string | undefined): boolean =>
  state === 'RequestApproval' || state === PROOF_WAIT_STATE || state === WINDOW_WAIT_STATE;

/** A callback state's task, as its token reaches whoever may answer it. */
export interface CallbackTask {
  executionArn: string;
  taskToken: string;
}

/** A recovery proof request as it reaches the custodians: the published message (with the import parameters). */
export interface PendingProof {
  executionArn: string;
  /** The proof wait's token, which the custodian's submission answers. */
  taskToken: string;
  message: OutboxMessage;
  /** AwaitRecoveryProof's payload: the change and its plan. */
  payload: { input: ChangeInput; plan: Plan };
  /** keymat's attestor on the stack, for a custodian that stands in for the gateway's attestation of a submission. */
  attestor: Attestor;
}

/**
 * Answers a recovery proof request: resolves with the submission (as the gateway hands it over with
 * SendTaskSuccess), rejects with an error named like SendTaskFailure's, or never settles (the wait times out).
 */
export type Custodian = (request: PendingProof) => Promise<unknown>;

/**
 * The error Step Functions ends a task with at its TimeoutSeconds: what a direct run with no custodian answers a
 * proof request with at once, since nobody else can answer it.
 */
const timedOut = (): Error => Object.assign(new Error('no custodian answers this run'), { name: 'States.Timeout' });

export interface LocalRunOptions {
  definition: Record<string, unknown>;
  /** The workflow's tasks (`createLocalTasks`). */
  tasks: LocalTasks;
  /** Handed to the decider with each request (`localAttestor`). */
  attestor: Attestor;
  /** Handed to the decider with each request (`localEventPublisher`). */
  events: EventPublisher;
  input: unknown;
  account: string;
  region: string;
  /** @default a random name */
  executionName?: string;
  decide: Decider;
  /**
   * Answers the recovery proof requests. @default none: nobody can answer a direct run's request, so its wait ends as
   * at its timeout, at once (an offered proof goes on without one; a required one ends RecoveryNotProven)
   */
  custodian?: Custodian;
  /**
   * Answers the hold of a change by its change window: rejects with an error named like SendTaskFailure's to end the
   * change. @default no answer: the hold lasts until its timeout
   */
  hold?: (request: CallbackTask) => Promise<unknown>;
  /** Overrides WaitForPropagation's seconds with milliseconds. @default the input's waitSeconds */
  waitMs?: number;
  /** Overrides every retrier's interval with milliseconds. @default the definition's backoff */
  retryIntervalMs?: number;
  onEvent?: (event: HistoryEvent) => void;
  /** Stops the execution (StopExecution). */
  signal?: AbortSignal;
}

/** How an execution ended, and its history as the engine reported it. */
export interface ExecutionResult {
  executionArn: string;
  status: ExecutionStatus;
  output: unknown;
  error: string | null;
  cause: string | null;
  history: HistoryEvent[];
}

/**
 * Finds a message in the local stack's SNS outbox by its MessageId: the approval request RequestApproval published,
 * handed to the decider.
 */
export type OutboxLookup = (messageId: string) => OutboxMessage | undefined;

/**
 * The engine's state machine for a definition, made once: a StateMachine keeps no execution's state (each `run` has
 * its own), so one serves every execution of its definition.
 *
 * The engine is loaded with the first execution (about 150 ms: it brings its own SDK clients and asl-validator), so a
 * stack that runs none never pays for it. It does not validate the definition: validation compiles asl-validator's
 * JSON schema with ajv, about 0.4 s at each start. The definitions it runs are local/workflow/definition.ts's, which the tests
 * hold equal to the construct's and to asl-validator (test/unit/infra/definition.cdk.ts).
 */
const stateMachines = new WeakMap<Record<string, unknown>, StateMachineType>();

function stateMachineOf(definition: Record<string, unknown>): StateMachineType {
  let machine = stateMachines.get(definition);
  if (!machine) {
    // The package's types are ESM-only; its CommonJS build is what loads here.
    const { StateMachine } = require('aws-local-stepfunctions') as { StateMachine: typeof StateMachineType };
    machine = new StateMachine(withTimeoutPathsOnParameters(definition) as unknown as StateMachineDefinition, {
      validationOptions: { noValidate: true },
    });
    stateMachines.set(definition, machine);
  }
  return machine;
}

/**
 * The definition as aws-local-stepfunctions needs it to read a task's `TimeoutSecondsPath` as Step Functions does.
 * Step Functions reads the path in the state's input; the engine reads it in the task's parameters. keymat's tasks
 * with such a path (the change-window hold) hand the whole state to their function as `Payload.state`, so the
 * engine is given the same path under it.
 */
function withTimeoutPathsOnParameters(definition: Record<string, unknown>): Record<string, unknown> {
  // A JSON copy, not structuredClone: the engine takes only objects of its own realm for plain ones (under jest too).
  const copy = JSON.parse(JSON.stringify(definition)) as Record<string, unknown>;
  for (const [name, state] of Object.entries((copy.States ?? {}) as Record<string, Record<string, unknown>>)) {
    const path = state.TimeoutSecondsPath;
    if (typeof path !== 'string') continue;
    const payload = (state.Parameters as { Payload?: Record<string, unknown> } | undefined)?.Payload;
    if (payload?.['state.$'] !== '$') {
      throw new Error(
        `the local engine cannot read ${name}'s TimeoutSecondsPath: its parameters do not carry the state`,
      );
    }
    state.TimeoutSecondsPath = `$.Payload.state${path.slice(1)}`;
  }
  return copy;
}

/**
 * Runs one execution of the synthesized definition on aws-local-stepfunctions, dispatching each task to its real
 * handler in-process. The approval request goes through the stack's SNS outbox, where `outbox` finds it for the
 * decider, whose answer stands for the one on the task token (SendTaskSuccess/SendTaskFailure).
 */
export async function runLocalExecution(outbox: OutboxLookup, options: LocalRunOptions): Promise<ExecutionResult> {
  const name = options.executionName ?? randomUUID();
  const executionArn = executionArnOf(localStateMachineArn(options.region, options.account), name);
  // What `$$.Task.Token` resolves to in the engine: one value for the whole run, so each approval round swaps it for
  // a fresh token of its own (an answer to round 1 must not be taken as one to round 2).
  const contextToken = `keymat-local-context-token-${randomUUID()}`;
  const handlers = options.tasks;

  const emit = (event: Omit<HistoryEvent, 'timestamp'>): void => {
    const entry = { ...event, timestamp: new Date().toISOString() };
    history.push(entry);
    options.onEvent?.(entry);
  };
  const history: HistoryEvent[] = [];

  /**
   * A callback task: the handler publishes its request with a fresh token of its own (as Step Functions gives each
   * scheduling one); `answer` stands for the token's answer (SendTaskSuccess/SendTaskFailure).
   */
  const callback = async <R, T>(
    state: string,
    handler: (payload: Record<string, unknown>) => Promise<R>,
    params: Record<string, unknown>,
    answer: (taskToken: string, invoked: R, payload: Record<string, unknown>) => Promise<T>,
  ): Promise<T> => {
    const given = params.Payload as { taskToken?: string };
    if (given.taskToken !== contextToken) throw new Error(`${state} did not receive the task token`);
    const taskToken = randomBytes(48).toString('base64');
    const payload = { ...given, taskToken };
    emit({ type: 'TaskScheduled', state, parameters: JSON.stringify({ ...params, Payload: payload }) });
    const invoked = await handler(payload);
    try {
      const result = await answer(taskToken, invoked, payload);
      emit({ type: 'TaskSucceeded', state, output: JSON.stringify(result) });
      return result;
    } catch (err) {
      emit({ type: 'TaskFailed', state, error: (err as Error).name, cause: (err as Error).message });
      throw err;
    }
  };

  /** A callback's handler that publishes its request: the message it published, found in the outbox. */
  const publishing =
    (state: string, handler: (payload: Record<string, unknown>) => Promise<unknown>) =>
    async (payload: Record<string, unknown>): Promise<OutboxMessage> => {
      const { messageId } = (await handler(payload)) as { messageId: string };
      const message = outbox(messageId);
      if (!message) throw new Error(`the ${state} request ${messageId} is not in the outbox`);
      return message;
    };

  const localHandlers: Record<string, (input: never) => Promise<never>> = {};
  for (const state of ALL_TASK_STATES) {
    localHandlers[state] = (async (params: Record<string, unknown>) => {
      if (state !== 'RequestApproval') return handlers[state](params);
      return callback(state, publishing(state, handlers.RequestApproval), params, (taskToken, message, payload) => {
        const { input, plan, approval, recovery } = parseEvent(requestApprovalEvent, payload, state);
        return options.decide({
          executionArn,
          taskToken,
          message,
          payload: { input, plan, approval, recovery },
          attestor: options.attestor,
          events: options.events,
        });
      });
    }) as never;
  }
  // The proving function's callback state: the same handler as ProveRecovery's, asked for the import parameters.
  localHandlers[PROOF_WAIT_STATE] = (async (params: Record<string, unknown>) =>
    callback(
      PROOF_WAIT_STATE,
      publishing(PROOF_WAIT_STATE, handlers.ProveRecovery),
      params,
      async (taskToken, message, payload) => {
        if (!options.custodian) throw timedOut();
        const { input, plan } = parseEvent(awaitRecoveryProofEvent, payload, PROOF_WAIT_STATE);
        return options.custodian({
          executionArn,
          taskToken,
          message,
          payload: { input, plan },
          attestor: options.attestor,
        });
      },
    )) as never;
  // The change-window hold invokes the check's function, as in the deployed workflow, then waits on its token.
  localHandlers[WINDOW_WAIT_STATE] = (async (params: Record<string, unknown>) =>
    callback(WINDOW_WAIT_STATE, handlers.CheckChangeWindow, params, (taskToken) =>
      options.hold ? options.hold({ executionArn, taskToken }) : new Promise(() => undefined),
    )) as never;
  // The proof's import parameters and a restore's import: the proving function again.
  localHandlers[PROOF_PARAMETERS_STATE] = (async (params: Record<string, unknown>) =>
    handlers.ProveRecovery(params)) as never;
  localHandlers[RESTORE_STATE] = (async (params: Record<string, unknown>) => handlers.ProveRecovery(params)) as never;

  const machine = stateMachineOf(options.definition);
  const execution = machine.run(options.input as never, {
    context: {
      Execution: { Id: executionArn, Name: name, Input: options.input, StartTime: new Date().toISOString() },
      Task: { Token: contextToken },
    } as never,
    overrides: {
      taskResourceLocalHandlers: localHandlers as never,
      ...(options.waitMs !== undefined && { waitTimeOverrides: { [WAIT_STATE]: options.waitMs } }),
      ...(options.retryIntervalMs !== undefined && {
        retryIntervalOverrides: Object.fromEntries(
          [...ALL_TASK_STATES, PROOF_PARAMETERS_STATE, PROOF_WAIT_STATE, RESTORE_STATE].map((s) => [
            s,
            options.retryIntervalMs as number,
          ]),
        ),
      }),
    },
  });

  options.signal?.addEventListener('abort', () => execution.abort());
  let status: ExecutionStatus = 'FAILED';
  let error: string | null = null;
  let cause: string | null = null;
  let output: unknown = null;
  for await (const event of execution.eventLogs) {
    const e = event as {
      type: string;
      timestamp: number;
      state?: { name: string; output?: unknown };
      Error?: string;
      Cause?: unknown;
      output?: unknown;
    };
    emit({
      type: e.type,
      ...(e.state && { state: e.state.name }),
      ...(e.Error !== undefined && { error: e.Error, cause: String(e.Cause ?? '') }),
      // As GetExecutionHistory reports a state's exit: with its output (`keymat status` reads the window check's).
      ...(e.type === 'StateExited' && e.state?.output !== undefined && { output: JSON.stringify(e.state.output) }),
    });
    if (e.type === 'ExecutionSucceeded') {
      status = 'SUCCEEDED';
      output = e.output;
    } else if (e.type === 'ExecutionFailed') {
      error = e.Error ?? null;
      cause = e.Cause === undefined ? null : String(e.Cause);
    } else if (e.type === 'ExecutionTimeout') {
      status = 'TIMED_OUT';
    } else if (e.type === 'ExecutionAborted') {
      status = 'ABORTED';
    }
  }
  await execution.result.catch(() => undefined);
  return { executionArn, status, output, error, cause, history };
}
