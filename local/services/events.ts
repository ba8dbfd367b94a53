import { randomUUID } from 'node:crypto';
import {
  jsonAnswer,
  jsonOperation,
  parseJsonBody,
  type Answer,
  type IncomingRequest,
  type LocalService,
} from './local-service';
import type { EventPublisher } from '../../core/change-events';
import { DEFAULT_EVENT_BUS } from '../../core/defaults';
import { createEventsClient, eventBridgePublisher } from '../../functions/runtime/events';
import type { LocalClientConfig } from './clients';
import type { OutboxEvent } from '../state/records';
import { LocalStateError, type StateStore } from '../state/store';

export type { OutboxEvent } from '../state/records';

/** The most entries one PutEvents call takes, as in EventBridge. */
const MAX_ENTRIES = 10;

/**
 * EventBridge PutEvents (JSON 1.1, `AWSEvents.PutEvents`), kept in the state database's events outbox
 * (`keymat outbox --events`). Each call's entries are committed together before the answer; an entry without a
 * source, detail type or JSON object detail fails on its own, as EventBridge reports it (FailedEntryCount).
 */
export class LocalEvents implements LocalService {
  constructor(private readonly store: StateStore) {}

  matches(request: IncomingRequest): boolean {
    return request.target?.startsWith('AWSEvents.') ?? false;
  }

  async handle(request: IncomingRequest): Promise<Answer> {
    const { operation, log, refuse } = jsonOperation(request, 'AWSEvents.', 'events');
    if (operation !== 'PutEvents') {
      return refuse(400, 'InvalidAction', `${operation} is not supported by the local stack's EventBridge`);
    }
    const entries = parseJsonBody(request.body)?.Entries;
    if (!Array.isArray(entries) || entries.length === 0 || entries.length > MAX_ENTRIES) {
      return refuse(400, 'ValidationException', `Entries must list 1 to ${MAX_ENTRIES} events`);
    }
    const now = new Date().toISOString();
    const taken: OutboxEvent[] = [];
    const results = entries.map((raw: unknown) => {
      const e = (typeof raw === 'object' && raw !== null ? raw : {}) as Record<string, unknown>;
      let detail: unknown;
      try {
        detail = JSON.parse(String(e.Detail ?? ''));
      } catch {
        detail = undefined;
      }
      if (
        typeof e.Source !== 'string' ||
        typeof e.DetailType !== 'string' ||
        typeof detail !== 'object' ||
        detail === null ||
        Array.isArray(detail)
      ) {
        return {
          ErrorCode: 'MalformedDetail',
          ErrorMessage: 'Source, DetailType and a JSON object Detail are required',
        };
      }
      const event: OutboxEvent = {
        id: randomUUID(),
        time: now,
        eventBusName: typeof e.EventBusName === 'string' ? e.EventBusName : 'default',
        source: e.Source,
        detailType: e.DetailType,
        resources: Array.isArray(e.Resources) ? e.Resources.map(String) : [],
        detail: detail as Record<string, unknown>,
      };
      taken.push(event);
      return { EventId: event.id };
    });
    try {
      this.store.appendEvents(taken);
    } catch (err) {
      if (!(err instanceof LocalStateError)) throw err;
      return refuse(500, 'InternalException', err.message);
    }
    const failed = results.filter((r) => 'ErrorCode' in r).length;
    return jsonAnswer('1.1', request.requestId, 200, { FailedEntryCount: failed, Entries: results }, log());
  }
}

/** keymat's change events on the local stack: PutEvents to its EventBridge, as keymat's roles put them. */
export const localEventPublisher = (aws: LocalClientConfig): EventPublisher =>
  eventBridgePublisher(createEventsClient(aws), DEFAULT_EVENT_BUS);
