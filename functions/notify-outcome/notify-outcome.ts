import { PublishCommand, type SNSClient } from '@aws-sdk/client-sns';
import type { OutcomeConfig } from '../../core/config';
import { notifyOutcomeEvent, parseEvent } from '../../core/events';
import type { Outcome } from '../../core/types';
import { startInvocation, type Logger } from '../runtime/logger';
import { outcomeOf } from './outcome';

/** What NotifyOutcome works with. */
export interface NotifyOutcomeDeps {
  sns: SNSClient;
  config: OutcomeConfig;
  logger: Logger;
}

/** NotifyOutcome: one outcome message per change, and the execution's output. */
export function createNotifyOutcome({ sns, config, logger }: NotifyOutcomeDeps): (event: unknown) => Promise<Outcome> {
  return async (event) => {
    const e = parseEvent(notifyOutcomeEvent, event, 'NotifyOutcome');
    const outcome = outcomeOf(e.state, e.executionInput);
    startInvocation(logger, { executionId: e.executionId, changeId: outcome.changeId, keyArn: outcome.keyArn });
    await sns.send(
      new PublishCommand({
        TopicArn: config.outcomeTopicArn,
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
  };
}
