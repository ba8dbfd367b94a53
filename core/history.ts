import { paginateGetExecutionHistory, type HistoryEvent, type SFNClient } from '@aws-sdk/client-sfn';
import type { ApprovalResult, ApprovalRules, ChangeInput, Plan } from './types';

/** What RequestApproval was invoked with: the token to answer on, the change, its plan, the approvals so far. */
export interface PendingApprovalTask {
  taskToken: string;
  input: ChangeInput;
  plan: Plan;
  approval: ApprovalResult;
  rules: ApprovalRules;
}

export async function readHistory(sfn: SFNClient, executionArn: string): Promise<HistoryEvent[]> {
  const events: HistoryEvent[] = [];
  for await (const page of paginateGetExecutionHistory({ client: sfn }, { executionArn, maxResults: 1000 })) {
    events.push(...(page.events ?? []));
  }
  return events;
}

/**
 * The approval request of an execution, from its history: the latest TaskScheduled of the callback task, and
 * whether it is still unanswered. This is how approvers' tools find the token: nobody copies tokens.
 */
export function approvalTask(events: HistoryEvent[]): { task: PendingApprovalTask; pending: boolean } | undefined {
  let found: { task: PendingApprovalTask; pending: boolean } | undefined;
  for (const e of events) {
    if (e.type === 'TaskScheduled' && e.taskScheduledEventDetails?.resource === 'invoke.waitForTaskToken') {
      const params = JSON.parse(e.taskScheduledEventDetails.parameters ?? '{}') as { Payload?: PendingApprovalTask };
      if (params.Payload?.taskToken) found = { task: params.Payload, pending: true };
    } else if (found && ['TaskSucceeded', 'TaskFailed', 'TaskTimedOut', 'TaskSubmitFailed'].includes(e.type ?? '')) {
      found.pending = false;
    }
  }
  return found;
}

export function pendingApproval(events: HistoryEvent[]): PendingApprovalTask | undefined {
  const found = approvalTask(events);
  return found?.pending ? found.task : undefined;
}
