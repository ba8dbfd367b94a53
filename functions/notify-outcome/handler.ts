import { PublishCommand } from '@aws-sdk/client-sns';
import { z } from 'zod';
import { createSnsClient } from '../runtime/aws';
import { requireEnv } from '../runtime/env';
import { parseEvent } from '../../core/events';
import { logger, startInvocation } from '../runtime/logger';
import type { Outcome, WorkflowState } from '../../core/types';
import { outcomeOf } from './outcome';

const sns = createSnsClient();
const topicArn = requireEnv('OUTCOME_TOPIC_ARN');

const notifyEvent = z.object({
  executionId: z.string().min(1),
  state: z.object({}).passthrough() as unknown as z.ZodType<WorkflowState>,
  executionInput: z.unknown(),
});

/** NotifyOutcome: one outcome message per change, and the execution's output. */
export async function handler(event: unknown): Promise<Outcome> {
  const e = parseEvent(notifyEvent, event, 'NotifyOutcome');
  const outcome = outcomeOf(e.state, e.executionInput);
  startInvocation({ executionId: e.executionId, changeId: outcome.changeId, keyArn: outcome.keyArn });
  await sns.send(
    new PublishCommand({
      TopicArn: topicArn,
      Subject:
        `keymat ${outcome.changeId ?? '(invalid change)'}: ${outcome.status}${outcome.error ? ` ${outcome.error}` : ''}`.slice(
          0,
          100,
        ),
      Message: JSON.stringify({ executionId: e.executionId, ...outcome }, null, 2),
      MessageAttributes: {
        event: { DataType: 'String', StringValue: 'Outcome' },
        status: { DataType: 'String', StringValue: outcome.status },
        executionId: { DataType: 'String', StringValue: e.executionId },
      },
    }),
  );
  logger.info('outcome', { ...outcome });
  return outcome;
}
