import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Spaces calls at a rate per second, across concurrent callers: each `take()` resolves at the next free slot. Slots
 * missed while the process was busy may be used late, up to `catchUpMs` worth, so the average holds the rate without
 * bursting past it. (Hand-written: the usual limiter packages are ESM-only or unmaintained; this is all of it.)
 */
export class Pacer {
  private next = 0;
  private readonly intervalMs: number;

  constructor(
    perSecond: number,
    private readonly catchUpMs = 50,
  ) {
    this.intervalMs = 1000 / perSecond;
  }

  async take(): Promise<void> {
    const now = performance.now();
    const at = Math.max(now - this.catchUpMs, this.next);
    this.next = at + this.intervalMs;
    if (at - now >= 1) await sleep(at - now);
  }
}
