import type { DescribeExecutionCommandOutput, HistoryEvent } from '@aws-sdk/client-sfn';
import { setTimeout as sleep } from 'node:timers/promises';
import { irreversibleRefusal, refusal, rejection, rejectionRole, withApproval } from './approvals';
import type { Attestor } from './attestation';
import type { SfnCall } from './aws-api';
import { approvalDecided, type ChangeEvent, type EventPublisher } from './change-events';
import { ChangeError, hasErrorName } from './errors';
import { calendarLabel, type WindowCheck } from './change-window';
import {
  approvalTask,
  changeManagement,
  heldChange,
  pendingApproval,
  pendingProof,
  progress,
  readHistory,
  waitsForWindow,
  type PendingApprovalTask,
  type PendingProofTask,
} from './history';
import { executionArnOf, executionNameFor } from './naming';
import type { ProofWrappingAlgorithm } from './proof-wrapping';
import { attestedSubmission, irreversibleToConfirm, type ProofSubmission } from './recovery';
import type { ApprovalResult, Plan } from './types';

/** An execution as one look at it shows: its description, its history, where it is, and its approval task. */
export interface ChangeStatus {
  described: DescribeExecutionCommandOutput;
  events: HistoryEvent[];
  /** The states entered so far, in order. */
  entered: string[];
  /** The state it is in now, if it is in one. */
  current?: string;
  /** The latest approval request, and whether it still waits for an answer. */
  approval?: { task: PendingApprovalTask; pending: boolean };
  /** The plan ValidateOrigin made, with the change-ticket check's answer when the stack has one. */
  plan?: Plan;
  /** The last change-window check, when the stack has change calendars and the change reached it. */
  changeWindow?: WindowCheck;
}

/** The running changes that wait for people or for time: a custodian's proof, an approval, or a change window. */
export interface PendingChanges {
  /** Changes that wait for a custodian's recovery proof before their approval. */
  proofs: { executionArn: string; task: PendingProofTask }[];
  approvals: { executionArn: string; task: PendingApprovalTask }[];
  /** Approved changes held by a CLOSED change calendar (`window` is missing before the first check answers). */
  windows: { executionArn: string; plan?: Plan; window?: WindowCheck }[];
}

/**
 * What `start` found or did: `STARTED` a new execution, or found the change's execution with the same input
 * `RUNNING` (a repeated start) or already `FINISHED` (with its status).
 */
export type StartResult =
  { executionArn: string; state: 'STARTED' | 'RUNNING' } | { executionArn: string; state: 'FINISHED'; status: string };

/** An approver's answer to an approval round. */
export interface Decision {
  /** The identity deciding (as the approval rules and the record name them). */
  by: string;
  /** Where the decision was made: `cli`, `web`. */
  channel: string;
  comment?: string;
  /**
   * The approver confirms that the deletion may be irreversible: required of each approver of an unproven change
   * whose proof was asked, and recorded (attested) only there.
   */
  irreversible?: boolean;
}

/** A custodian's recovery proof submission: the wrapped copy under the published import parameters. */
export interface CustodianSubmission {
  /** The identity submitting (as the gateway authenticated it). */
  by: string;
  channel: string;
  /** The wrapped material, base64. */
  wrappedKeyMaterial: string;
  /** The published import token it was wrapped for, base64. */
  importToken: string;
  wrappingAlgorithm: ProofWrappingAlgorithm;
}

/** What a change client works on: a Step Functions client and the workflow's state machine. */
export interface ChangeClientOptions {
  /** The Step Functions client, configured by the caller (Region, endpoint, credentials). */
  sfn: SfnCall;
  /** The deletion workflow's state machine. */
  stateMachineArn: string;
  /**
   * MACs approvals with keymat's attestation key: only keymat's own signers (the gateway, the approval page) have one.
   * @default none: `approve` is refused
   */
  attestor?: Attestor;
  /**
   * Publishes Approval Decided for each decision the workflow took: keymat's signers have one.
   * @default none: no event
   */
  events?: EventPublisher;
}

/**
 * A decision that took effect. When its Approval Decided event could not be published, `notPublished` holds the
 * event and why: the decision stands (it is in the execution's history), so the caller is not told it failed, which
 * would have them answer again into AlreadyDecided with the event never sent; the caller logs the event in full.
 */
export interface Decided {
  notPublished?: { event: ChangeEvent; error: unknown };
}

/** How `watch` looks at an execution. */
export interface WatchOptions {
  /** Milliseconds between looks. @default 1000 */
  intervalMs?: number;
}

/**
 * The changes of one deletion workflow, over the Step Functions API: the one client the CLI, the expiry scan, the
 * approval page and the demo use. Executions are named after their change id, so a change is started at most once.
 */
export class ChangeClient {
  readonly stateMachineArn: string;
  private readonly sfn: SfnCall;
  private readonly attestor: Attestor | undefined;
  private readonly events: EventPublisher | undefined;

  constructor(options: ChangeClientOptions) {
    this.sfn = options.sfn;
    this.stateMachineArn = options.stateMachineArn;
    this.attestor = options.attestor;
    this.events = options.events;
  }

  /** An execution given by ARN or by name (a name is taken under this client's state machine). */
  executionArn(execution: string): string {
    if (!execution.startsWith('arn:')) return executionArnOf(this.stateMachineArn, execution);
    // An ARN of another state machine is not a change of this workflow: whoever holds SendTask* for keymat must not
    // answer some other workflow's task on a caller's say-so.
    if (!execution.startsWith(executionArnOf(this.stateMachineArn, ''))) {
      throw new ChangeError('ExecutionNotFound', `no execution ${execution} in state machine ${this.stateMachineArn}`);
    }
    return execution;
  }

  /**
   * Starts the change's execution under `executionNameFor(changeId)`, idempotently: when the execution exists with
   * the same input, it is returned (RUNNING or FINISHED) and nothing starts. The same change id with other input is
   * refused (ChangeIdInUse): a change id names one change.
   */
  async start(changeId: string, input: Record<string, unknown>): Promise<StartResult> {
    const name = executionNameFor(changeId);
    const executionArn = executionArnOf(this.stateMachineArn, name);
    const existing = await this.find(executionArn);
    if (existing) return this.startedBefore(changeId, existing, input);
    try {
      const started = await this.sfn('StartExecution', {
        stateMachineArn: this.stateMachineArn,
        name,
        input: JSON.stringify(input),
      });
      return { executionArn: started.executionArn ?? executionArn, state: 'STARTED' };
    } catch (err) {
      // Started by someone else between the look and the start (or finished: a closed name is never reused).
      if (!hasErrorName(err, 'ExecutionAlreadyExists')) throw err;
      const raced = await this.find(executionArn);
      if (!raced) throw err;
      return this.startedBefore(changeId, raced, input);
    }
  }

  /** DescribeExecution; a missing execution is refused as ExecutionNotFound naming what was asked for. */
  async describe(execution: string): Promise<DescribeExecutionCommandOutput> {
    const found = await this.find(this.executionArn(execution));
    if (!found) throw new ChangeError('ExecutionNotFound', `no execution ${execution}`);
    return found;
  }

  /** Every event of an execution. */
  history(execution: string): Promise<HistoryEvent[]> {
    return readHistory(this.sfn, this.executionArn(execution));
  }

  /** One look at an execution: description, history, progress and approval task. */
  async status(execution: string): Promise<ChangeStatus> {
    const described = await this.describe(execution);
    const events = await this.history(execution);
    const approval = approvalTask(events);
    return { described, events, ...progress(events), ...(approval && { approval }), ...changeManagement(events) };
  }

  /**
   * Looks at an execution every `intervalMs` until it ends, yielding each look; the last one yielded is the
   * execution's end.
   */
  async *watch(execution: string, options: WatchOptions = {}): AsyncGenerator<ChangeStatus> {
    for (;;) {
      const look = await this.status(execution);
      yield look;
      if (look.described.status !== 'RUNNING') return;
      await sleep(options.intervalMs ?? 1000);
    }
  }

  /** The approval task an execution waits on, or undefined when it waits on none or does not exist. */
  async pendingApproval(execution: string): Promise<PendingApprovalTask | undefined> {
    return pendingApproval(await this.historyIfAny(execution));
  }

  /** An execution's history; none when it does not exist (any more). */
  private async historyIfAny(execution: string): Promise<HistoryEvent[]> {
    try {
      return await this.history(execution);
    } catch (err) {
      if (hasErrorName(err, 'ExecutionDoesNotExist')) return [];
      throw err;
    }
  }

  /**
   * The approval task a running execution waits on; refused with ExecutionNotFound, or NothingToDecide when the
   * execution has ended, has not asked for an approval yet, or is approved and held by its change window.
   */
  async waitingApproval(execution: string): Promise<{ executionArn: string; task: PendingApprovalTask }> {
    const { described, events } = await this.running(execution);
    const task = pendingApproval(events);
    if (!task) {
      const held = heldChange(events);
      throw new ChangeError(
        'NothingToDecide',
        held
          ? `execution ${described.name} is approved; held by its change window (${held.changeWindow.calendars.map(calendarLabel).join(', ')} CLOSED) until ${held.changeWindow.waitUntil}, when it is checked again: there is nothing to approve (reject it to withdraw it)`
          : notAskedYet(described.name, events),
      );
    }
    return { executionArn: described.executionArn ?? this.executionArn(execution), task };
  }

  /**
   * What a rejection of a running execution answers: its pending approval round, the hold of an approved change by
   * its change window, or its wait for a custodian's recovery proof (rejecting either ends the change as rejecting a
   * round does, before anything is deleted or imported). Refused as `waitingApproval`.
   */
  async waitingRejection(execution: string): Promise<{ executionArn: string; task: PendingApprovalTask }> {
    const { described, events } = await this.running(execution);
    const task = pendingApproval(events) ?? heldChange(events) ?? beforeApprovals(pendingProof(events));
    if (!task) throw new ChangeError('NothingToDecide', notAskedYet(described.name, events));
    return { executionArn: described.executionArn ?? this.executionArn(execution), task };
  }

  /** A running execution's description and history; NothingToDecide when it has ended. */
  private async running(
    execution: string,
  ): Promise<{ described: DescribeExecutionCommandOutput; events: HistoryEvent[] }> {
    const described = await this.describe(execution);
    if (described.status !== 'RUNNING') {
      throw new ChangeError(
        'NothingToDecide',
        `execution ${described.name} is ${described.status}: there is nothing to decide`,
      );
    }
    return { described, events: await this.history(execution) };
  }

  /**
   * The running executions that wait for a custodian's recovery proof or for an approval (with their tasks), and
   * those held by their change window.
   */
  async pending(): Promise<PendingChanges> {
    const found: PendingChanges = { proofs: [], approvals: [], windows: [] };
    let nextToken: string | undefined;
    do {
      const page = await this.sfn('ListExecutions', {
        stateMachineArn: this.stateMachineArn,
        statusFilter: 'RUNNING',
        maxResults: 100,
        nextToken,
      });
      for (const e of page.executions ?? []) {
        if (!e.executionArn) continue;
        const events = await this.historyIfAny(e.executionArn);
        const task = pendingApproval(events);
        const proof = task ? undefined : pendingProof(events);
        if (task) found.approvals.push({ executionArn: e.executionArn, task });
        else if (proof) found.proofs.push({ executionArn: e.executionArn, task: proof });
        else if (waitsForWindow(progress(events).current)) {
          const { plan, changeWindow } = changeManagement(events);
          found.windows.push({
            executionArn: e.executionArn,
            ...(plan && { plan }),
            ...(changeWindow && { window: changeWindow }),
          });
        }
      }
      nextToken = page.nextToken;
    } while (nextToken);
    return found;
  }

  /**
   * The recovery proof request a running execution waits on; refused with ExecutionNotFound, or NothingToDecide when
   * the execution has ended or does not wait for a proof.
   */
  async waitingProof(execution: string): Promise<{ executionArn: string; task: PendingProofTask }> {
    const described = await this.describe(execution);
    if (described.status !== 'RUNNING') {
      throw new ChangeError(
        'NothingToDecide',
        `execution ${described.name} is ${described.status}: it waits for no proof`,
      );
    }
    const task = pendingProof(await this.history(execution));
    if (!task) {
      throw new ChangeError('NothingToDecide', `execution ${described.name} is not waiting for a recovery proof`);
    }
    return { executionArn: described.executionArn ?? this.executionArn(execution), task };
  }

  /**
   * Hands a custodian's wrapped copy to the proof `task` of `executionArn` waits on, attested as submitted by
   * `submission.by` (the proving task verifies it and reimports the copy). AlreadyDecided when the wait was answered
   * or timed out meanwhile.
   */
  async submitProof(
    executionArn: string,
    task: PendingProofTask,
    submission: CustodianSubmission,
  ): Promise<ProofSubmission> {
    if (!this.attestor) throw new Error("this change client has no attestor: only keymat's gateway takes proofs");
    // Refused here, before the proof is answered: a replayed token would end the change RecoveryNotProven.
    if (submission.importToken !== task.importParameters.importToken) {
      throw new ChangeError(
        'ProofRefused',
        `importToken is not the one execution ${executionArn} asked for: wrap the copy under the import parameters its RecoveryProofRequested message carries (valid until ${task.importParameters.parametersValidTo})`,
      );
    }
    const unsigned = {
      wrappedKeyMaterial: submission.wrappedKeyMaterial,
      importToken: submission.importToken,
      wrappingAlgorithm: submission.wrappingAlgorithm,
      custodian: submission.by,
      at: new Date().toISOString(),
      channel: submission.channel,
    };
    const output = await attestedSubmission(this.attestor, executionArn, task.plan, unsigned);
    await this.answer(() => this.sfn('SendTaskSuccess', { taskToken: task.taskToken, output: JSON.stringify(output) }));
    return output;
  }

  /**
   * Adds `decision.by`'s attested approval to the round `task` of `executionArn` asks for, then publishes Approval
   * Decided. Refused as ApprovalRefused when the approval rules do not let them approve, and as AlreadyDecided (with
   * no event) when the round was answered or timed out meanwhile.
   */
  async approve(
    executionArn: string,
    task: PendingApprovalTask,
    decision: Decision,
  ): Promise<{ output: ApprovalResult } & Decided> {
    if (!this.attestor) throw new Error("this change client has no attestor: only keymat's signers approve");
    const why = refusal(decision.by, task.approval.approvals, task.input, task.plan.rules);
    if (why) throw new ChangeError('ApprovalRefused', why.message);
    const proof = task.recovery.proof;
    const unconfirmed = irreversibleRefusal(decision.by, task.plan, proof, decision.irreversible ?? false);
    if (unconfirmed) throw new ChangeError('ApprovalRefused', unconfirmed);
    // Recorded only where it is asked: the attestation then says exactly what the approver confirmed.
    const irreversible = irreversibleToConfirm(task.plan, proof);
    const subject = {
      executionArn,
      startedAt: task.input.startedAt ?? '',
      planDigest: task.plan.digest,
      ...(proof && { recoveryProof: proof.submissionDigest }),
    };
    const at = new Date();
    const output = await withApproval(
      this.attestor,
      subject,
      task.approval.approvals,
      {
        approver: decision.by,
        channel: decision.channel,
        ...(decision.comment && { comment: decision.comment }),
        irreversible,
      },
      at,
    );
    await this.answer(() => this.sfn('SendTaskSuccess', { taskToken: task.taskToken, output: JSON.stringify(output) }));
    const event = approvalDecided(
      executionArn,
      task,
      {
        by: decision.by,
        channel: decision.channel,
        ...(decision.comment && { comment: decision.comment }),
        decision: 'APPROVED',
        irreversible,
      },
      at,
    );
    return { output, ...(await this.announce(event)) };
  }

  /**
   * Rejects the change `task` asks about (a pending round, or the hold of an approved change by its window): it ends
   * ApprovalRejected, and Approval Decided is published (for a held change, in the round after its last approval).
   * Only an allowed approver rejects, or the requester, who withdraws the change (`as` says which); anyone else is
   * refused RejectionRefused. AlreadyDecided as for `approve`.
   */
  async reject(
    executionArn: string,
    task: PendingApprovalTask,
    decision: Decision,
  ): Promise<{ as: 'APPROVER' | 'REQUESTER' } & Decided> {
    const role = rejectionRole(decision.by, task.input, task.plan.rules);
    if (!role) {
      throw new ChangeError(
        'RejectionRefused',
        `${decision.by} may not reject change ${task.input.changeId}: only its requester and its allowed approvers (${task.plan.rules.allowedApprovers.join(', ')}) may`,
      );
    }
    const at = new Date();
    const { error, cause } = rejection(decision.by, role, decision.channel, decision.comment);
    await this.answer(() => this.sfn('SendTaskFailure', { taskToken: task.taskToken, error, cause }));
    const event = approvalDecided(executionArn, task, { ...decision, decision: 'REJECTED', as: role }, at);
    return { as: role, ...(await this.announce(event)) };
  }

  /** Publishes the event of a decision Step Functions took; a failure is reported, not thrown (see `Decided`). */
  private async announce(event: ChangeEvent): Promise<Decided> {
    try {
      await this.events?.publish(event);
      return {};
    } catch (error) {
      return { notPublished: { event, error } };
    }
  }

  private async answer(send: () => Promise<unknown>): Promise<void> {
    try {
      await send();
    } catch (err) {
      if (hasErrorName(err, 'TaskDoesNotExist', 'TaskTimedOut')) {
        throw new ChangeError(
          'AlreadyDecided',
          'the task (an approval round, a recovery proof request) was already answered or timed out',
          {
            cause: err,
          },
        );
      }
      throw err;
    }
  }

  private async find(executionArn: string): Promise<DescribeExecutionCommandOutput | undefined> {
    try {
      return await this.sfn('DescribeExecution', { executionArn });
    } catch (err) {
      if (hasErrorName(err, 'ExecutionDoesNotExist')) return undefined;
      throw err;
    }
  }

  private startedBefore(
    changeId: string,
    existing: DescribeExecutionCommandOutput,
    input: Record<string, unknown>,
  ): StartResult {
    const executionArn = existing.executionArn as string;
    // The same change asked for again: its attestation (made at another time) does not make it another change.
    if (!sameJson(withoutAttestation(parseJson(existing.input)), withoutAttestation(input))) {
      throw new ChangeError(
        'ChangeIdInUse',
        `change ${changeId} already has execution ${executionArn} with other input; use a new change id`,
      );
    }
    if (existing.status === 'RUNNING') return { executionArn, state: 'RUNNING' };
    return { executionArn, state: 'FINISHED', status: existing.status ?? 'UNKNOWN' };
  }
}

function withoutAttestation(input: unknown): unknown {
  if (typeof input !== 'object' || input === null) return input;
  return Object.fromEntries(Object.entries(input).filter(([k]) => k !== 'attestation'));
}

function parseJson(text: string | undefined): unknown {
  try {
    return JSON.parse(text ?? 'null');
  } catch {
    return undefined;
  }
}

/** Equal as JSON values, whatever the order of object keys. */
function sameJson(a: unknown, b: unknown): boolean {
  return canonical(a) === canonical(b);
}

function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/**
 * A change waiting for its recovery proof, as the rejection of its first round sees it: no approval given yet, no
 * proof in the state.
 */
function beforeApprovals(proof: PendingProofTask | undefined): PendingApprovalTask | undefined {
  return proof && { ...proof, approval: { planDigest: proof.plan.digest, approvals: [] }, recovery: {} };
}

/** Why a running execution has nothing to approve or reject yet: it waits for a custodian, or is still planning. */
const notAskedYet = (name: string | undefined, events: HistoryEvent[]): string =>
  pendingProof(events)
    ? `execution ${name} waits for a custodian's recovery proof (keymat recovery prove): its approvals are asked once the proof is in or its wait ends; reject it to withdraw it`
    : `execution ${name} is not waiting for an approval yet`;
