import { randomUUID } from 'node:crypto';
import { errorMessage, errorName } from '../../core/errors';

/**
 * A Distributed Map on the local engine. aws-local-stepfunctions runs inline Map states only (no distributed mode,
 * ItemReader, ToleratedFailurePercentage or ResultWriter), so keymat runs a Distributed Map's children itself, as
 * Step Functions does: at most `maxConcurrency` at once, each a child execution whose failure is recorded rather than
 * thrown, and the map failing only when more than the tolerated share failed. The results are those of a
 * `ResultWriter` with `WriterConfig` COMPACT: each child's output as it returned it, and each failed child's record
 * whole (its status, input, error and cause).
 */

/** The error a map ends with when more children failed than it tolerates, as Step Functions names it. */
export const EXCEEDED_TOLERATED_FAILURES = 'States.ExceedToleratedFailureThreshold';

/** A map run that failed because too many of its children did: an error of the engine, not of a task. */
export class ToleratedFailuresExceeded extends Error {
  override readonly name = EXCEEDED_TOLERATED_FAILURES;
}

/** A failed child's record among the results, as Step Functions writes it with a COMPACT WriterConfig. */
export interface FailedChildRecord {
  ExecutionArn: string;
  Name: string;
  Input: string;
  Status: 'FAILED';
  Error: string;
  Cause: string;
  StartDate: string;
  StopDate: string;
}

export interface DistributedMapOptions<I> {
  /** The map run, whose children are named under it (`<map run>/<child>`). */
  mapRunArn: string;
  items: readonly I[];
  maxConcurrency: number;
  /** 0-100: the share of children that may fail before the map fails. */
  toleratedFailurePercentage: number;
  /** Runs one child on its item: resolves with the child's output, rejects with the error it ends with. */
  child: (item: I, executionArn: string) => Promise<unknown>;
}

/** How a map run ended: the results in item order, and how many children failed. */
export interface DistributedMapResult {
  results: unknown[];
  failed: number;
}

/**
 * Runs a Distributed Map's children over its items.
 *
 * @throws ToleratedFailuresExceeded (`States.ExceedToleratedFailureThreshold`) when the share of failed children is over the tolerated
 *   percentage (with 100, never)
 */
export async function runDistributedMap<I>(options: DistributedMapOptions<I>): Promise<DistributedMapResult> {
  const { items, child } = options;
  const results: unknown[] = new Array(items.length);
  let failed = 0;
  let next = 0;
  const runOne = async (index: number): Promise<void> => {
    const item = items[index] as I;
    const name = randomUUID();
    const executionArn = `${options.mapRunArn.replace(':mapRun:', ':execution:')}:${name}`;
    const startDate = new Date().toISOString();
    try {
      results[index] = await child(item, executionArn);
    } catch (err) {
      failed += 1;
      const record: FailedChildRecord = {
        ExecutionArn: executionArn,
        Name: name,
        Input: JSON.stringify(item),
        Status: 'FAILED',
        Error: errorName(err) ?? 'Error',
        Cause: errorMessage(err),
        StartDate: startDate,
        StopDate: new Date().toISOString(),
      };
      results[index] = record;
    }
  };
  await Promise.all(
    Array.from({ length: Math.min(options.maxConcurrency, items.length) }, async () => {
      while (next < items.length) await runOne(next++);
    }),
  );
  if (items.length > 0 && (failed * 100) / items.length > options.toleratedFailurePercentage) {
    throw new ToleratedFailuresExceeded(
      `${failed} of ${items.length} children of map run ${options.mapRunArn} failed, over the tolerated ${options.toleratedFailurePercentage}%`,
    );
  }
  return { results, failed };
}
