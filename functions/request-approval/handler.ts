import { PublishCommand } from '@aws-sdk/client-sns';
import { createSnsClient } from '../shared/aws';
import { requireEnv } from '../shared/env';
import { parseEvent, requestApprovalEvent } from '../shared/events';
import { logger, startInvocation } from '../shared/logger';
import { describePlan } from '../shared/words';

const sns = createSnsClient();
const topicArn = requireEnv('APPROVAL_TOPIC_ARN');

/**
 * RequestApproval: publishes the approval request. The state machine then waits for SendTaskSuccess or
 * SendTaskFailure on the task token; the token itself is never put in the message (approvers' tools find it in the
 * execution history), so a forwarded message cannot decide anything.
 */
export async function handler(event: unknown): Promise<{ messageId: string }> {
  const e = parseEvent(requestApprovalEvent, event, 'RequestApproval');
  startInvocation({ executionId: e.executionId, changeId: e.input.changeId, keyArn: e.plan.keyArn });
  const expires = new Date(Date.now() + e.approvalTimeoutSeconds * 1000).toISOString();
  const given = e.approval.approvals.map((a) => a.approver);
  const message = [
    'keymat: a deletion of imported key material needs your approval.',
    '',
    ...describePlan(e.plan, e.input),
    '',
    `Approvals: ${given.length} of ${e.rules.quorum} distinct approvers${given.length > 0 ? ` (so far: ${given.join(', ')})` : ''}.`,
    ...(e.rules.allowedApprovers.length > 0 ? [`Allowed approvers: ${e.rules.allowedApprovers.join(', ')}.`] : []),
    `This request expires at ${expires}; without a decision the change ends ApprovalTimedOut.`,
    `Approve: keymat approve ${e.executionId} --comment "…"`,
    `Reject:  keymat reject ${e.executionId} --comment "…"`,
    `The requester (${e.input.requestedBy}) cannot approve this change.`,
  ].join('\n');
  const published = await sns.send(
    new PublishCommand({
      TopicArn: topicArn,
      Subject: `keymat approval needed: ${e.input.changeId}`.slice(0, 100),
      Message: message,
      MessageAttributes: {
        event: { DataType: 'String', StringValue: 'ApprovalRequested' },
        executionId: { DataType: 'String', StringValue: e.executionId },
        changeId: { DataType: 'String', StringValue: e.input.changeId },
        planDigest: { DataType: 'String', StringValue: e.plan.digest },
      },
    }),
  );
  logger.info('approval requested', { messageId: published.MessageId, expires });
  return { messageId: published.MessageId as string };
}
