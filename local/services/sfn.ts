import { randomUUID } from 'node:crypto';
import { executionArnOf } from '../../core/naming';
import type { EventPublisher } from '../../core/change-events';
import type { Attestor } from '../../core/attestation';
import type { Members } from '../../core/organisation';
import type { ApprovalResult } from '../../core/types';
import { localStateMachineArn } from '../constants';
import { isCallbackState, runLocalExecution, type HistoryEvent, type LocalTasks } from '../workflow/engine';
import {
  jsonAnswer,
  jsonError,
  parseJsonBody,
  type Answer,
  type IncomingRequest,
  type LocalService,
} from './local-service';
import type { Caller } from './caller';
import type { InternalAccess } from './internal-access';
import { executionRowSchema, type ExecutionRecord, type ExecutionRow, type SfnEvent } from '../state/records';
import { LocalStateError, type ExecutionChange, type StateStore } from '../state/store';

/** A Step Functions error as the JSON 1.0 protocol carries it. */
export class SfnError extends Error {
  constructor(
    readonly type: string,
    message: string,
    readonly status = 400,
  ) {
    super(message);
    this.name = type;
  }
}

type Status = ExecutionRecord['status'];

/** A change of one execution: the fields of its row that change, and the event its history gains. */
interface ExecutionUpdate {
  set?: Partial<ExecutionRow>;
  event?: SfnEvent;
}

// eslint-disable-next-line no-control-regex -- execution names may not contain control characters
const NAME = /^[^\s<>{}[\]?*"#%\\^|~`$&,;:/\u0000-\u001f\u007f-\u009f]{1,80}$/u;

/** One page of a list, with Step Functions' `maxResults` (default 100, at most 1000) and opaque `nextToken`. */
function page<T>(all: T[], body: Record<string, unknown>): { items: T[]; nextToken?: string } {
  const max = typeof body.maxResults === 'number' && body.maxResults > 0 ? Math.min(body.maxResults, 1000) : 100;
  const start = typeof body.nextToken === 'string' ? Number(body.nextToken) : 0;
  return { items: all.slice(start, start + max), ...(start + max < all.length && { nextToken: String(start + max) }) };
}

/** An execution as ListExecutions shows it; DescribeExecution adds input, output and error. */
const summary = (e: ExecutionRecord) => ({
  executionArn: e.executionArn,
  stateMachineArn: e.stateMachineArn,
  name: e.name,
  status: e.status,
  startDate: e.startDate / 1000,
  ...(e.stopDate !== undefined && { stopDate: e.stopDate / 1000 }),
});

/** What the local Step Functions needs of the deletion workflow. */
export interface LocalWorkflowDefinition {
  definition: Record<string, unknown>;
  /**
   * Makes what its executions run with, as keymat's internal identity: the tasks (`createLocalTasks`) and the attestor
   * handed to the deciders (`localAttestor`).
   */
  prepare: (internal: InternalAccess) => { tasks: LocalTasks; attestor: Attestor; events: EventPublisher };
  account: string;
  region: string;
  /** The member accounts and Regions whose keys the gateway takes changes for. @default the hub's account only */
  members?: Members;
  /** Who may submit a custodian's copy at the gateway (principal patterns); none listed: anyone who may call it. */
  custodians: string[];
}

/**
 * The Step Functions API subset keymat's operators use (StartExecution, DescribeExecution, GetExecutionHistory,
 * ListExecutions, SendTaskSuccess/Failure/Heartbeat, StopExecution), for the one deletion state machine; its
 * endpoint lets only keymat's own identities call those that change an execution. Executions
 * run in the background on the local engine; an approval really waits until a SendTask call or its timeout.
 * Executions and their histories persist in the state database: a call that changes one is answered once the change
 * is committed, and a change that cannot be written is refused (500) with nothing changed. A change the background
 * run cannot write (a full disk mid-execution) stops that execution: memory keeps it ABORTED with the cause, the
 * database keeps it RUNNING, and the next start marks it lost.
 */
export class LocalStepFunctions {
  readonly stateMachineArn: string;
  private readonly executions: Record<string, ExecutionRecord>;
  /** The callback tasks waiting for an answer (approval rounds, proof requests, change-window holds), by task token. */
  private readonly pending = new Map<
    string,
    { executionArn: string; resolve: (r: unknown) => void; reject: (e: Error) => void }
  >();
  private readonly aborts = new Map<string, AbortController>();
  /** Executions whose decision SendTask* committed, so the engine's own record of it is not written twice. */
  private readonly decided = new Set<string>();
  private readonly runtime: { tasks: LocalTasks; attestor: Attestor; events: EventPublisher };
  /** Set while the stack closes: running executions stay RUNNING on disk and are marked lost at the next start. */
  private closing = false;

  constructor(
    private readonly store: StateStore,
    private readonly workflow: LocalWorkflowDefinition,
    internal: InternalAccess,
  ) {
    this.runtime = workflow.prepare(internal);
    this.stateMachineArn = localStateMachineArn(workflow.region, workflow.account);
    this.executions = store.loadExecutions();
    this.markLostExecutions();
  }

  /**
   * Commits `change` (the execution's row only when a field of it changes, the new event appended to its history),
   * and only then shows it in memory. Throws `LocalStateError` (nothing changed) when it cannot be written.
   */
  private update(e: ExecutionRecord, change: ExecutionUpdate): void {
    if (!change.set && !change.event) return;
    this.store.saveExecutions([written(e, change)]);
    apply(e, change);
  }

  /**
   * {@link update} from the background run, where there is no caller to answer: a change that cannot be written
   * stops the execution, reported on stderr.
   */
  private updateInBackground(e: ExecutionRecord, change: ExecutionUpdate): void {
    try {
      this.update(e, change);
    } catch (err) {
      if (!(err instanceof LocalStateError)) throw err;
      process.stderr.write(`keymat local: execution ${e.name} is stopped: ${err.message}\n`);
      this.aborts.get(e.executionArn)?.abort();
      this.forgetTokens(e.executionArn);
      if (e.status === 'RUNNING') {
        apply(e, finishing(e, { status: 'ABORTED', error: 'LocalStateWriteFailed', cause: err.message }));
      }
    }
  }

  /**
   * An execution that was RUNNING when the previous process stopped cannot be resumed mid-state by the local engine:
   * it is ended ABORTED with a cause that says so, never silently dropped. Nothing was deleted unless its history
   * shows DeleteMaterial entered; the cause names the last state.
   */
  private markLostExecutions(): void {
    const lost = Object.values(this.executions)
      .filter((e) => e.status === 'RUNNING')
      .map((e) => {
        const last = e.events.findLast((ev) => ev.type.endsWith('StateEntered'));
        const lastState = (last?.stateEnteredEventDetails as { name?: string } | undefined)?.name ?? 'the start';
        const change = finishing(e, {
          status: 'ABORTED',
          error: 'LocalStackRestarted',
          cause: `the local stack stopped while this execution was at ${lastState}; start the change again (a repeated start is idempotent only while an execution is open)`,
        });
        return { e, change };
      });
    this.store.saveExecutions(lost.map(({ e, change }) => written(e, change)));
    for (const { e, change } of lost) apply(e, change);
  }

  async call(operation: string, body: Record<string, unknown>): Promise<Record<string, unknown>> {
    switch (operation) {
      case 'StartExecution':
        return this.start(body);
      case 'DescribeExecution':
        return this.describe(this.execution(body.executionArn));
      case 'GetExecutionHistory':
        return this.history(body);
      case 'ListExecutions':
        return this.list(body);
      case 'SendTaskSuccess':
        return this.sendTaskSuccess(body);
      case 'SendTaskFailure':
        return this.sendTaskFailure(body);
      case 'SendTaskHeartbeat':
        this.task(body.taskToken);
        return {};
      case 'StopExecution':
        return this.stop(body);
      default:
        throw new SfnError('UnknownOperationException', `Operation ${operation} is not supported locally`);
    }
  }

  /**
   * The resource IAM checks `operation` against: the execution a StopExecution names, else the state machine (the
   * one a StartExecution names; a task token's, for SendTask*).
   */
  resourceOf(operation: string, body: Record<string, unknown>): string {
    if (operation === 'StopExecution') return String(body.executionArn);
    if (operation === 'StartExecution' && typeof body.stateMachineArn === 'string') return body.stateMachineArn;
    return this.stateMachineArn;
  }

  /**
   * Stops the background executions when the stack closes, without recording it: on disk they stay RUNNING, and the
   * next start marks them lost (as after a kill -9).
   */
  drain(): void {
    this.closing = true;
    for (const c of this.aborts.values()) c.abort();
    for (const task of this.pending.values()) task.reject(new Error('the local stack is closing'));
    this.pending.clear();
  }

  private start(body: Record<string, unknown>): Record<string, unknown> {
    if (body.stateMachineArn !== this.stateMachineArn) {
      throw new SfnError('StateMachineDoesNotExist', `State Machine Does Not Exist: '${String(body.stateMachineArn)}'`);
    }
    const name = body.name === undefined ? randomUUID() : body.name;
    if (typeof name !== 'string' || !NAME.test(name)) {
      throw new SfnError('InvalidName', `Invalid Name: '${String(name)}'`);
    }
    const input = typeof body.input === 'string' ? body.input : '{}';
    let parsed: unknown;
    try {
      parsed = JSON.parse(input);
    } catch {
      throw new SfnError('InvalidExecutionInput', 'Invalid State Machine Execution Input: the input is not valid JSON');
    }
    const executionArn = executionArnOf(this.stateMachineArn, name);
    const existing = this.executions[executionArn];
    if (existing) {
      if (existing.status === 'RUNNING' && existing.input === input) {
        return { executionArn, startDate: existing.startDate / 1000 };
      }
      throw new SfnError('ExecutionAlreadyExists', `Execution Already Exists: '${executionArn}'`);
    }
    const row: ExecutionRow = {
      executionArn,
      name,
      stateMachineArn: this.stateMachineArn,
      input,
      status: 'RUNNING',
      startDate: Date.now(),
    };
    this.store.saveExecutions([{ executionArn, row }]);
    const record: ExecutionRecord = { ...row, events: [] };
    this.executions[executionArn] = record;
    this.launch(record, parsed);
    return { executionArn, startDate: record.startDate / 1000 };
  }

  private launch(record: ExecutionRecord, input: unknown): void {
    const abort = new AbortController();
    this.aborts.set(record.executionArn, abort);
    void runLocalExecution((messageId) => this.store.outboxMessage(messageId), {
      definition: this.workflow.definition,
      account: this.workflow.account,
      region: this.workflow.region,
      ...this.runtime,
      input,
      executionName: record.name,
      signal: abort.signal,
      decide: (request) => this.awaitAnswer<ApprovalResult>(request),
      custodian: (request) => this.awaitAnswer(request),
      hold: (request) => this.awaitAnswer(request),
      onEvent: (event) => {
        // An execution's history ends with its end: an aborted run's last events are not recorded after it.
        if (this.closing || record.status !== 'RUNNING') return;
        if (isCallbackState(event.state) && event.type === 'StateFailed' && event.error === 'States.Timeout') {
          this.forgetTokens(record.executionArn);
        }
        if (
          (event.type === 'TaskSucceeded' || event.type === 'TaskFailed') &&
          this.decided.delete(record.executionArn)
        ) {
          return;
        }
        this.updateInBackground(record, { event: this.historyEvent(record, event) });
      },
    })
      .then((result) => {
        if (record.status === 'RUNNING' && !this.closing) {
          this.updateInBackground(
            record,
            finishing(record, {
              status: result.status,
              ...(result.output !== null && { output: JSON.stringify(result.output) }),
              ...(result.error !== null && { error: result.error }),
              ...(result.cause !== null && { cause: result.cause }),
            }),
          );
        }
      })
      .catch((err: Error) => {
        if (record.status === 'RUNNING' && !this.closing) {
          this.updateInBackground(
            record,
            finishing(record, { status: 'FAILED', error: 'States.Runtime', cause: err.message }),
          );
        }
      })
      .finally(() => {
        this.forgetTokens(record.executionArn);
        this.decided.delete(record.executionArn);
        this.aborts.delete(record.executionArn);
      });
  }

  /**
   * Waits on the callback's own token: the tokens of the execution's earlier callbacks (an earlier approval round, the
   * proof request) stop being accepted.
   */
  private awaitAnswer<T>(request: { executionArn: string; taskToken: string }): Promise<T> {
    this.forgetTokens(request.executionArn);
    return new Promise<T>((resolve, reject) => {
      this.pending.set(request.taskToken, {
        executionArn: request.executionArn,
        resolve: resolve as (r: unknown) => void,
        reject,
      });
    });
  }

  private forgetTokens(executionArn: string): void {
    for (const [token, p] of this.pending) if (p.executionArn === executionArn) this.pending.delete(token);
  }

  private task(token: unknown) {
    if (typeof token !== 'string' || token.length < 1 || token.length > 2048) {
      throw new SfnError('InvalidToken', 'Invalid Task Token');
    }
    const task = this.pending.get(token);
    if (!task)
      throw new SfnError('TaskDoesNotExist', 'Task Does Not Exist: it was already decided, timed out or never existed');
    return task;
  }

  private sendTaskSuccess(body: Record<string, unknown>): Record<string, unknown> {
    const task = this.task(body.taskToken);
    let output: unknown;
    try {
      output = JSON.parse(String(body.output));
    } catch {
      throw new SfnError('InvalidOutput', 'Invalid Output: the output is not valid JSON');
    }
    this.commitDecision(task.executionArn, { type: 'TaskSucceeded', output: JSON.stringify(output) });
    this.pending.delete(body.taskToken as string);
    task.resolve(output);
    return {};
  }

  private sendTaskFailure(body: Record<string, unknown>): Record<string, unknown> {
    const task = this.task(body.taskToken);
    const error = new Error(typeof body.cause === 'string' ? body.cause : '');
    error.name = typeof body.error === 'string' && body.error ? body.error : 'States.TaskFailed';
    this.commitDecision(task.executionArn, { type: 'TaskFailed', error: error.name, cause: error.message });
    this.pending.delete(body.taskToken as string);
    task.reject(error);
    return {};
  }

  /**
   * Commits a SendTask* answer to the execution's history before it is acknowledged, so a stack killed right after
   * the answer still shows the decision; one that cannot be written is refused with the task still open.
   */
  private commitDecision(executionArn: string, decision: Omit<HistoryEvent, 'state' | 'timestamp'>): void {
    const record = this.execution(executionArn);
    const event = { ...decision, state: 'RequestApproval', timestamp: new Date().toISOString() };
    this.update(record, { event: this.historyEvent(record, event) });
    this.decided.add(executionArn);
  }

  private stop(body: Record<string, unknown>): Record<string, unknown> {
    const record = this.execution(body.executionArn);
    if (record.status === 'RUNNING') {
      this.update(
        record,
        finishing(record, {
          status: 'ABORTED',
          ...(typeof body.error === 'string' && { error: body.error }),
          ...(typeof body.cause === 'string' && { cause: body.cause }),
        }),
      );
      this.forgetTokens(record.executionArn);
      this.aborts.get(record.executionArn)?.abort();
    }
    return { stopDate: (record.stopDate ?? Date.now()) / 1000 };
  }

  private execution(arn: unknown): ExecutionRecord {
    const record = typeof arn === 'string' ? this.executions[arn] : undefined;
    if (!record) throw new SfnError('ExecutionDoesNotExist', `Execution Does Not Exist: '${String(arn)}'`);
    return record;
  }

  private describe(e: ExecutionRecord): Record<string, unknown> {
    return {
      ...summary(e),
      input: e.input,
      ...(e.output !== undefined && { output: e.output }),
      ...(e.error !== undefined && { error: e.error }),
      ...(e.cause !== undefined && { cause: e.cause }),
    };
  }

  private history(body: Record<string, unknown>): Record<string, unknown> {
    const events = [...this.execution(body.executionArn).events];
    if (body.reverseOrder === true) events.reverse();
    const { items, nextToken } = page(events, body);
    // Each event's members in the order of Step Functions' model, in which the SDK's client returns them: a client
    // that keeps the order of the wire, as keymat's does, gives `keymat history --json` the same lines.
    const answered = items.map(({ timestamp, type, id, previousEventId, ...details }) => ({
      timestamp: timestamp / 1000,
      type,
      id,
      previousEventId,
      ...details,
    }));
    return { events: answered, ...(nextToken && { nextToken }) };
  }

  private list(body: Record<string, unknown>): Record<string, unknown> {
    if (body.stateMachineArn !== undefined && body.stateMachineArn !== this.stateMachineArn) {
      throw new SfnError('StateMachineDoesNotExist', `State Machine Does Not Exist: '${String(body.stateMachineArn)}'`);
    }
    const all = Object.values(this.executions)
      .filter((e) => body.statusFilter === undefined || e.status === body.statusFilter)
      .sort((a, b) => b.startDate - a.startDate);
    const { items, nextToken } = page(all, body);
    return {
      executions: items.map(summary),
      ...(nextToken && { nextToken }),
    };
  }

  /**
   * A local engine event in GetExecutionHistory's vocabulary, as the next event of `e`'s history; undefined for the
   * execution's end, which {@link finishing} records with the final output or error.
   */
  private historyEvent(e: ExecutionRecord, event: HistoryEvent): SfnEvent | undefined {
    const states = (this.workflow.definition.States ?? {}) as Record<string, { Type: string }>;
    const kind = event.state ? (states[event.state]?.Type ?? 'Task') : '';
    const next = (type: string, details: Record<string, unknown>) =>
      nextEvent(e, Date.parse(event.timestamp), type, details);
    switch (event.type) {
      case 'ExecutionStarted':
        return next('ExecutionStarted', { executionStartedEventDetails: { input: e.input } });
      case 'StateEntered':
        return next(`${kind}StateEntered`, { stateEnteredEventDetails: { name: event.state } });
      case 'StateExited':
        return next(`${kind}StateExited`, {
          stateExitedEventDetails: { name: event.state, ...(event.output !== undefined && { output: event.output }) },
        });
      case 'StateFailed':
        return next('LambdaFunctionFailed', {
          lambdaFunctionFailedEventDetails: { error: event.error, cause: event.cause },
        });
      case 'TaskScheduled':
        return next('TaskScheduled', {
          taskScheduledEventDetails: {
            resourceType: 'lambda',
            resource: 'invoke.waitForTaskToken',
            region: this.workflow.region,
            parameters: event.parameters,
          },
        });
      case 'TaskSucceeded':
        return next('TaskSucceeded', {
          taskSucceededEventDetails: {
            resourceType: 'lambda',
            resource: 'invoke.waitForTaskToken',
            output: event.output,
          },
        });
      case 'TaskFailed':
        return next('TaskFailed', {
          taskFailedEventDetails: {
            resourceType: 'lambda',
            resource: 'invoke.waitForTaskToken',
            error: event.error,
            cause: event.cause,
          },
        });
      default:
        return undefined;
    }
  }
}

/** The event that follows the last of `e`'s history. */
const nextEvent = (
  e: ExecutionRecord,
  timestamp: number,
  type: string,
  details: Record<string, unknown>,
): SfnEvent => ({
  id: e.events.length + 1,
  previousEventId: e.events.length,
  timestamp,
  type,
  ...details,
});

/** IAM's refusal of an action no identity-based policy of the caller allows, worded as IAM words it. */
const accessDenied = (caller: Caller, operation: string, resource: string): SfnError =>
  new SfnError(
    'AccessDeniedException',
    `User: ${caller.arn} is not authorized to perform: states:${operation} on resource: ${resource} because no identity-based policy allows the states:${operation} action`,
  );

/** The end of an execution: its status, output or error, and the closing history event. */
function finishing(
  e: ExecutionRecord,
  end: { status: Status; output?: string; error?: string; cause?: string },
): ExecutionUpdate {
  const now = Date.now();
  const type = {
    SUCCEEDED: 'ExecutionSucceeded',
    FAILED: 'ExecutionFailed',
    TIMED_OUT: 'ExecutionTimedOut',
    ABORTED: 'ExecutionAborted',
    RUNNING: '',
  }[end.status];
  const key = `${type.charAt(0).toLowerCase()}${type.slice(1)}EventDetails`;
  return {
    set: { ...end, stopDate: now },
    event: nextEvent(e, now, type, {
      [key]: end.status === 'SUCCEEDED' ? { output: end.output } : { error: end.error, cause: end.cause },
    }),
  };
}

/** What the state database writes for `change` of `e`: its row (without the history) when a field changes, the event. */
function written(e: ExecutionRecord, { set, event }: ExecutionUpdate): ExecutionChange {
  return {
    executionArn: e.executionArn,
    ...(set && { row: executionRowSchema.parse({ ...e, ...set }) }),
    ...(event && { events: [event] }),
  };
}

/** Shows a committed `change` in memory. */
function apply(e: ExecutionRecord, { set, event }: ExecutionUpdate): void {
  Object.assign(e, set);
  if (event) e.events.push(event);
}

const TARGET_PREFIX = 'AWSStepFunctions.';

/**
 * The operations that change an execution. On a deployed stack IAM grants them to keymat's roles alone (the gateway
 * and the approval page answer tasks, the gateway and the expiry scan start changes) and to no person: people go
 * through the gateway, which records who they are. Reads stay open to every operator.
 */
const KEYMAT_ONLY_OPERATIONS: ReadonlySet<string> = new Set([
  'StartExecution',
  'StopExecution',
  'SendTaskSuccess',
  'SendTaskFailure',
  'SendTaskHeartbeat',
]);

/**
 * Step Functions' JSON 1.0 protocol in front of {@link LocalStepFunctions}. A stack started without the workflow
 * (`keymat local kms serve`) has no executions to serve and refuses every call, saying which command serves them.
 */
export class StepFunctionsEndpoint implements LocalService {
  constructor(
    readonly executions: LocalStepFunctions | undefined,
    /** Whether a caller is one of keymat's own identities (`isKeymatIdentity`): only they change executions. */
    private readonly isKeymat: (caller: Caller) => boolean,
  ) {}

  matches(request: IncomingRequest): boolean {
    return request.target?.startsWith(TARGET_PREFIX) ?? false;
  }

  async handle(request: IncomingRequest): Promise<Answer> {
    const operation = (request.target ?? '').slice(TARGET_PREFIX.length);
    try {
      if (!this.executions) {
        throw new SfnError('UnknownOperationException', 'this local stack serves KMS only: use keymat local serve');
      }
      const body = parseJsonBody(request.body);
      if (!body) throw new SfnError('SerializationException', 'The request body is not valid JSON');
      if (KEYMAT_ONLY_OPERATIONS.has(operation) && !this.isKeymat(request.caller)) {
        throw accessDenied(request.caller, operation, this.executions.resourceOf(operation, body));
      }
      const result = await this.executions.call(operation, body);
      return jsonAnswer('1.0', request.requestId, 200, result, { service: 'states', operation });
    } catch (err) {
      const e = err instanceof SfnError ? err : new SfnError('InternalFailure', (err as Error).message, 500);
      return jsonError('1.0', request.requestId, e, { service: 'states', operation, error: e.type });
    }
  }
}
