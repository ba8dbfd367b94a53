import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import type { EventsCall } from '../../core/aws-api';
import type { Decided } from '../../core/change-client';
import type { ChangeEvent, EventPublisher } from '../../core/change-events';
import { EVENT_SOURCE } from '../../core/naming';
import { EVENT_NOT_PUBLISHED, KeymatError, errorName } from '../../core/errors';
import { awsCall, sdkConfig, type AwsClientOptions } from './aws';
import type { Logger } from './logger';

/**
 * An EventBridge client for the change events.
 *
 * @param options - Where and as whom to call; `maxAttempts` @default 1, for the tasks: the state machine retries a
 *   failed put. The gateway and the approval page, which answer people, take the SDK's standard attempts.
 */
export const createEventsClient = (options: AwsClientOptions = {}): EventsCall =>
  awsCall(new EventBridgeClient(sdkConfig({ maxAttempts: 1, ...options })), { PutEvents: PutEventsCommand });

/**
 * Puts change events on a bus, in one PutEvents call, in the order given. An entry EventBridge did not take fails
 * the call with EventNotPublished (retried by the state machine; the events' ids let consumers drop the repeats).
 */
export function eventBridgePublisher(client: EventsCall, eventBusName: string): EventPublisher {
  return {
    async publish(...events: ChangeEvent[]) {
      if (events.length === 0) return;
      const result = await client('PutEvents', {
        Entries: events.map((e) => ({
          EventBusName: eventBusName,
          Source: EVENT_SOURCE,
          DetailType: e.detailType,
          Detail: JSON.stringify(e.detail),
          Resources: 'keyArn' in e.detail && e.detail.keyArn !== undefined ? [e.detail.keyArn] : [],
        })),
      });
      const failed = (result.Entries ?? []).flatMap((entry, i) =>
        entry.ErrorCode === undefined
          ? []
          : [`${events[i]?.detailType}: ${entry.ErrorCode} ${entry.ErrorMessage ?? ''}`],
      );
      if ((result.FailedEntryCount ?? 0) > 0 || failed.length > 0) {
        throw new KeymatError(
          EVENT_NOT_PUBLISHED,
          `EventBridge did not take ${result.FailedEntryCount ?? failed.length} of ${events.length} events on bus ${eventBusName}: ${failed.join('; ')}`,
        );
      }
    },
  };
}

/**
 * Logs, whole, the Approval Decided event of a decision that took effect but that EventBridge did not take: the log
 * is then the event's record, as DeleteMaterial's is for an untaken Key Material Deleted.
 */
export function logNotPublished(logger: Pick<Logger, 'error'>, decided: Decided): void {
  if (!decided.notPublished) return;
  const { event, error } = decided.notPublished;
  logger.error('the decision took effect, but its Approval Decided event was not published', {
    error: errorName(error),
    event,
  });
}
