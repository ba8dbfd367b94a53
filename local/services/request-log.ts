import type { RequestLogEntry } from '../state/records';
import type { StateStore } from '../state/store';

export type { RequestLogEntry } from '../state/records';

/**
 * The local stack's request log, in the state database (`requests` table): one entry per call a service logs.
 * Another process (the CLI, the bench) reads it with {@link readRequestLog}.
 */
export class RequestLog {
  constructor(private readonly store: StateStore) {}

  /** Appends an entry in its own transaction; throws `LocalStateError` when it cannot be written. */
  append(entry: RequestLogEntry): void {
    this.store.appendRequest(entry);
  }

  /** The log, oldest first. */
  read(): RequestLogEntry[] {
    return this.store.readRequestLog();
  }
}
