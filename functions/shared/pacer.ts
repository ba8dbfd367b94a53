import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Spaces calls evenly at a rate per second, across concurrent callers: each `take()` resolves at the next free slot.
 * (Hand-written: the usual limiter packages are ESM-only or unmaintained; this is the whole of it.)
 */
export class Pacer {
  private next = 0;
  private readonly intervalMs: number;

  constructor(perSecond: number) {
    this.intervalMs = 1000 / perSecond;
  }

  async take(): Promise<void> {
    const now = performance.now();
    const at = Math.max(now, this.next);
    this.next = at + this.intervalMs;
    if (at - now >= 1) await sleep(at - now);
  }
}
