import { randomBytes, randomUUID } from 'node:crypto';
import type { StateMachineDefinition, StateMachine as StateMachineType } from 'aws-local-stepfunctions' with {
  'resolution-mode': 'import',
};
import { executionArnOf } from '../core/input';
import type { ApprovalResult, ApprovalRules, ChangeInput, Plan } from '../core/types';
import { TASK_STATES, WAIT_STATE, type TaskState } from '../workflows/states';
import { LOCAL_CREDENTIALS } from './clients';
import { join } from 'node:path';
import { readRequestLog, type RequestLogEntry } from './request-log';
import { readOutbox, type OutboxMessage } from './sns';

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

type Handler = (event: unknown) => Promise<unknown>;
type HandlerModule = { handler: Handler };

// The package's types are ESM-only; its CommonJS build is what loads here.
const { StateMachine } = require('aws-local-stepfunctions') as { StateMachine: typeof StateMachineType };

/** The real handler modules, loaded after the environment they read at module scope is set. */
const HANDLER_MODULES: Record<TaskState, () => HandlerModule> = {
  ValidateOrigin: () => require('../functions/validate-origin/handler') as HandlerModule,
  CheckState: () => require('../functions/check-state/handler') as HandlerModule,
  RequestApproval: () => require('../functions/request-approval/handler') as HandlerModule,
  DeleteMaterial: () => require('../functions/delete-material/handler') as HandlerModule,
  VerifyPendingImport: () => require('../functions/verify-pending-import/handler') as HandlerModule,
  NotifyOutcome: () => require('../functions/notify-outcome/handler') as HandlerModule,
};

/** What the handlers are configured with, once per process (their clients are created at module load). */
export interface HandlerEnvironment {
  endpoint: string;
  /** Another KMS endpoint (LocalStack, another emulator) instead of the local stack's. */
  kmsEndpoint?: string;
  account: string;
  region: string;
  defaultWaitSeconds: number;
}

let configured: string | undefined;

/** Where the local stack serves the approval page. */
export const APPROVAL_PAGE_PATH = '/approval';

/** Points the handlers' SDK clients at the local stack, as the deployed stack's environment variables would. */
export function configureHandlers(env: HandlerEnvironment): void {
  const fingerprint = JSON.stringify(env);
  if (configured !== undefined && configured !== fingerprint) {
    throw new Error('the handlers of this process are already configured for another local stack');
  }
  configured = fingerprint;
  Object.assign(process.env, {
    AWS_REGION: env.region,
    AWS_ACCESS_KEY_ID: process.env.AWS_ACCESS_KEY_ID ?? LOCAL_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: process.env.AWS_SECRET_ACCESS_KEY ?? LOCAL_CREDENTIALS.secretAccessKey,
    AWS_ENDPOINT_URL: env.endpoint,
    AWS_ENDPOINT_URL_SNS: env.endpoint,
    AWS_ENDPOINT_URL_KMS: env.kmsEndpoint ?? env.endpoint,
    KEYMAT_ACCOUNT_ID: env.account,
    APPROVAL_TOPIC_ARN: `arn:aws:sns:${env.region}:${env.account}:keymat-approvals`,
    OUTCOME_TOPIC_ARN: `arn:aws:sns:${env.region}:${env.account}:keymat-outcomes`,
    DEFAULT_WAIT_SECONDS: String(env.defaultWaitSeconds),
    APPROVAL_PAGE_URL: `${env.endpoint}${APPROVAL_PAGE_PATH}`,
    LINK_SECRET_ARN: `arn:aws:secretsmanager:${env.region}:${env.account}:secret:keymat-approval-links`,
    // Handler logs are for CloudWatch; locally they are off unless asked for (POWERTOOLS_LOG_LEVEL=INFO).
    POWERTOOLS_LOG_LEVEL: process.env.POWERTOOLS_LOG_LEVEL ?? 'SILENT',
  });
}

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
  taskToken: string;
  message: OutboxMessage;
  /** RequestApproval's payload: the change, the plan, the approvals so far and the rules. */
  payload: { input: ChangeInput; plan: Plan; approval: ApprovalResult; rules: ApprovalRules };
}

/** Decides an approval request: resolves with the decision, rejects with an error named like SendTaskFailure's. */
export type Decider = (request: PendingApproval) => Promise<ApprovalResult>;

export interface LocalRunOptions {
  definition: Record<string, unknown>;
  input: unknown;
  account: string;
  region: string;
  /** @default a random name */
  executionName?: string;
  decide: Decider;
  /** Overrides WaitForPropagation's seconds with milliseconds. @default the input's waitSeconds */
  waitMs?: number;
  /** Overrides every retrier's interval with milliseconds. @default the definition's backoff */
  retryIntervalMs?: number;
  onEvent?: (event: HistoryEvent) => void;
  /** Stops the execution (StopExecution). */
  signal?: AbortSignal;
}

export interface LocalRunResult {
  executionArn: string;
  status: ExecutionStatus;
  output: unknown;
  error: string | null;
  cause: string | null;
  history: HistoryEvent[];
  kmsCalls: { operation: string; keyId: string | null; status: number; error: string | null }[];
}

/** The local deletion state machine's ARN; its executions are named as in AWS. */
export const localStateMachineArn = (region: string, account: string): string =>
  `arn:aws:states:${region}:${account}:stateMachine:keymat-deletion`;

/**
 * Runs one execution of the synthesized definition on aws-local-stepfunctions, dispatching each task to its real
 * handler in-process. The approval request goes through the stack's SNS outbox; the approver reads it there and
 * answers on the task token, as SendTaskSuccess/SendTaskFailure would.
 */
export async function runLocalExecution(stateDir: string, options: LocalRunOptions): Promise<LocalRunResult> {
  const name = options.executionName ?? randomUUID();
  const requestLog = () => readRequestLog(join(stateDir, 'requests.jsonl'));
  const executionArn = executionArnOf(localStateMachineArn(options.region, options.account), name);
  const taskToken = randomBytes(48).toString('base64');
  const handlers = loadHandlers();
  const logStart = requestLog().length;

  const emit = (event: Omit<HistoryEvent, 'timestamp'>): void => {
    const entry = { ...event, timestamp: new Date().toISOString() };
    history.push(entry);
    options.onEvent?.(entry);
  };
  const history: HistoryEvent[] = [];

  const localHandlers: Record<string, (input: never) => Promise<never>> = {};
  for (const state of TASK_STATES) {
    localHandlers[state] = (async (params: Record<string, unknown>) => {
      if (state !== 'RequestApproval') return handlers[state](params);
      // The callback task: the handler publishes the request; the promise stands in for the token's answer.
      const payload = params.Payload as { taskToken?: string };
      if (payload.taskToken !== taskToken) throw new Error('RequestApproval did not receive the task token');
      emit({ type: 'TaskScheduled', state, parameters: JSON.stringify(params) });
      const { messageId } = (await handlers.RequestApproval(payload)) as { messageId: string };
      const message = readOutbox(join(stateDir, 'outbox.jsonl')).find((m) => m.messageId === messageId);
      if (!message) throw new Error(`the approval request ${messageId} is not in the outbox`);
      try {
        const decision = await options.decide({
          executionArn,
          taskToken,
          message,
          payload: payload as unknown as PendingApproval['payload'],
        });
        emit({ type: 'TaskSucceeded', state, output: JSON.stringify(decision) });
        return decision;
      } catch (err) {
        emit({ type: 'TaskFailed', state, error: (err as Error).name, cause: (err as Error).message });
        throw err;
      }
    }) as never;
  }

  const machine = new StateMachine(options.definition as unknown as StateMachineDefinition);
  const execution = machine.run(options.input as never, {
    context: {
      Execution: { Id: executionArn, Name: name, Input: options.input, StartTime: new Date().toISOString() },
      Task: { Token: taskToken },
    } as never,
    overrides: {
      taskResourceLocalHandlers: localHandlers as never,
      ...(options.waitMs !== undefined && { waitTimeOverrides: { [WAIT_STATE]: options.waitMs } }),
      ...(options.retryIntervalMs !== undefined && {
        retryIntervalOverrides: Object.fromEntries(TASK_STATES.map((s) => [s, options.retryIntervalMs as number])),
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
      state?: { name: string };
      Error?: string;
      Cause?: unknown;
      output?: unknown;
    };
    emit({
      type: e.type,
      ...(e.state && { state: e.state.name }),
      ...(e.Error !== undefined && { error: e.Error, cause: String(e.Cause ?? '') }),
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

  const kmsCalls = requestLog()
    .slice(logStart)
    .filter((entry: RequestLogEntry) => entry.service === 'kms')
    .map((entry) => ({
      operation: entry.operation,
      keyId: entry.keyId ?? null,
      status: entry.status,
      error: entry.error ?? null,
    }));
  return { executionArn, status, output, error, cause, history, kmsCalls };
}

function loadHandlers(): Record<TaskState, Handler> {
  if (configured === undefined) throw new Error('configureHandlers must run before the handlers load');
  return Object.fromEntries(TASK_STATES.map((s) => [s, HANDLER_MODULES[s]().handler])) as Record<TaskState, Handler>;
}
