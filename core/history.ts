import type { HistoryEvent } from '@aws-sdk/client-sfn';
import { allPages, type SfnCall } from './aws-api';
import { windowCheckSchema, type WindowCheck } from './change-window';
import { awaitRecoveryProofEvent, requestApprovalEvent, windowHoldEvent } from './events';
import * as z from './schema';
import type { ImportParameters } from './recovery';
import { CHANGE_WINDOW_TASK, WINDOW_WAIT_STATE } from './tasks';
import { planSchema, type ApprovalResult, type ChangeInput, type Plan, type RecoveryState } from './types';

/**
 * What RequestApproval was invoked with: the token to answer on, the change, its plan (with the approval rules the
 * change takes), the approvals so far.
 */
export interface PendingApprovalTask {
  taskToken: string;
  input: ChangeInput;
  plan: Plan;
  approval: ApprovalResult;
  /** The recovery proof the approvals are given on, if any. */
  recovery: RecoveryState;
}

/** What AwaitRecoveryProof was invoked with: the token a custodian's submission answers, the change, its plan. */
export interface PendingProofTask {
  taskToken: string;
  input: ChangeInput;
  plan: Plan;
  /** The import parameters the custodians were sent: a submission must carry their token. */
  importParameters: ImportParameters;
}

/** Every event of an execution, all pages. */
export async function readHistory(sfn: SfnCall, executionArn: string): Promise<HistoryEvent[]> {
  const events: HistoryEvent[] = [];
  const pages = allPages(
    (nextToken) => sfn('GetExecutionHistory', { executionArn, maxResults: 1000, nextToken }),
    (page) => page.nextToken,
  );
  for await (const page of pages) {
    events.push(...(page.events ?? []));
  }
  return events;
}

// The callback task's parameters as the history records them: the Lambda payload is RequestApproval's event.
const scheduledApproval = z.lazy(() => z.object({ Payload: requestApprovalEvent }));
const ANSWERED = new Set(['TaskSucceeded', 'TaskFailed', 'TaskTimedOut', 'TaskSubmitFailed']);

function scheduledTask(parameters: string | undefined): PendingApprovalTask | undefined {
  let json: unknown;
  try {
    json = JSON.parse(parameters ?? '{}');
  } catch {
    return undefined;
  }
  const parsed = scheduledApproval.safeParse(json);
  if (!parsed.success) return undefined;
  const { taskToken, input, plan, approval, recovery } = parsed.data.Payload;
  return { taskToken, input, plan, approval, recovery };
}

const scheduledProof = z.lazy(() => z.object({ Payload: awaitRecoveryProofEvent }));

/**
 * The recovery proof request an execution waits on, from its history: the latest TaskScheduled of AwaitRecoveryProof
 * while no answer came after it. Undefined when it waits on none.
 */
export function pendingProof(events: HistoryEvent[]): PendingProofTask | undefined {
  let found: PendingProofTask | undefined;
  for (const e of events) {
    if (e.type === 'TaskScheduled' && e.taskScheduledEventDetails?.resource === 'invoke.waitForTaskToken') {
      let json: unknown;
      try {
        json = JSON.parse(e.taskScheduledEventDetails.parameters ?? '{}');
      } catch {
        continue;
      }
      const parsed = scheduledProof.safeParse(json);
      if (parsed.success) {
        const { taskToken, input, plan, importParameters } = parsed.data.Payload;
        found = { taskToken, input, plan, importParameters };
      }
    } else if (ANSWERED.has(e.type ?? '') || e.type === 'LambdaFunctionFailed') {
      // Answered, timed out, or (the local stack's record of a timeout) failed.
      found = undefined;
    }
  }
  return found;
}

/**
 * The approval request of an execution, from its history: the latest TaskScheduled of the callback task, and
 * whether it is still unanswered. This is how approvers' tools find the token: nobody copies tokens.
 */
export function approvalTask(events: HistoryEvent[]): { task: PendingApprovalTask; pending: boolean } | undefined {
  let found: { task: PendingApprovalTask; pending: boolean } | undefined;
  for (const e of events) {
    if (e.type === 'TaskScheduled' && e.taskScheduledEventDetails?.resource === 'invoke.waitForTaskToken') {
      const task = scheduledTask(e.taskScheduledEventDetails.parameters);
      if (task) found = { task, pending: true };
    } else if (found && ANSWERED.has(e.type ?? '')) {
      found.pending = false;
    }
  }
  return found;
}

/**
 * An approved change held by its change window: the token the hold waits on, the change, its plan, its approvals and
 * the check that holds it.
 */
export interface HeldChangeTask extends PendingApprovalTask {
  changeWindow: WindowCheck;
}

const scheduledHold = z.lazy(() => z.object({ Payload: windowHoldEvent }));

function heldTask(parameters: string | undefined): HeldChangeTask | undefined {
  let json: unknown;
  try {
    json = JSON.parse(parameters ?? '{}');
  } catch {
    return undefined;
  }
  const parsed = scheduledHold.safeParse(json);
  if (!parsed.success) return undefined;
  const { taskToken, state } = parsed.data.Payload;
  return { taskToken, ...state };
}

/**
 * The hold an execution waits in now, if any: it is in WaitForChangeWindow, and the hold's latest TaskScheduled is not
 * answered or timed out. Each entry of the hold (after each check) waits on a new token.
 */
export function heldChange(events: HistoryEvent[]): HeldChangeTask | undefined {
  if (progress(events).current !== WINDOW_WAIT_STATE) return undefined;
  let held: HeldChangeTask | undefined;
  for (const e of events) {
    if (e.type === 'TaskScheduled' && e.taskScheduledEventDetails?.resource === 'invoke.waitForTaskToken') {
      held = heldTask(e.taskScheduledEventDetails.parameters) ?? held;
    } else if (ANSWERED.has(e.type ?? '')) {
      held = undefined;
    }
  }
  return held;
}

/** The approval task an execution waits on now, if any. */
export function pendingApproval(events: HistoryEvent[]): PendingApprovalTask | undefined {
  const found = approvalTask(events);
  return found?.pending ? found.task : undefined;
}

/** The states an execution went through so far, and the one it is in, from its history. */
export function progress(events: HistoryEvent[]): { entered: string[]; current?: string } {
  const entered: string[] = [];
  let current: string | undefined;
  for (const e of events) {
    const name = e.stateEnteredEventDetails?.name;
    if (e.type?.endsWith('StateEntered') && name !== undefined) {
      entered.push(name);
      current = name;
    }
    if (e.type?.endsWith('StateExited')) current = undefined;
  }
  return { entered, ...(current && { current }) };
}

/** The state's exit output, parsed, of the last exit of `state`; undefined when it has none that parses. */
function lastExitOutput(events: HistoryEvent[], state: string): unknown {
  for (let i = events.length - 1; i >= 0; i--) {
    const details = events[i]?.stateExitedEventDetails;
    if (details?.name === state && details.output !== undefined) {
      try {
        return JSON.parse(details.output);
      } catch {
        return undefined;
      }
    }
  }
  return undefined;
}

const windowOutput = z.lazy(() => z.object({ changeWindow: windowCheckSchema }));
const planOutput = z.lazy(() => z.object({ plan: planSchema }));

/**
 * What the execution's history says of its change management: the plan ValidateOrigin made (with the ticket check's
 * answer), and the last change-window check (CheckChangeWindow's output), if any.
 */
export function changeManagement(events: HistoryEvent[]): { plan?: Plan; changeWindow?: WindowCheck } {
  const window = windowOutput.safeParse(lastExitOutput(events, CHANGE_WINDOW_TASK));
  const plan = planOutput.safeParse(lastExitOutput(events, 'ValidateOrigin'));
  return {
    ...(plan.success && { plan: plan.data.plan }),
    ...(window.success && { changeWindow: window.data.changeWindow }),
  };
}

/** Whether the execution is held by its change window: checking the calendars, or held until they open. */
export const waitsForWindow = (current: string | undefined): boolean =>
  current === CHANGE_WINDOW_TASK || current === WINDOW_WAIT_STATE;
