import { randomUUID } from 'node:crypto';
import type { S3Call } from '../../core/aws-api';
import { errorMessage, errorName } from '../../core/errors';
import {
  MANIFEST_FILE,
  resultFileName,
  type MapRunManifest,
  type MapRunOutput,
  type ResultFileStatus,
} from '../../core/map-results';

/**
 * A Distributed Map on the local engine. aws-local-stepfunctions runs inline Map states only (no distributed mode,
 * ItemReader, ToleratedFailurePercentage or ResultWriter), so keymat runs a Distributed Map's children itself, as
 * Step Functions does: at most `maxConcurrency` at once, each a child execution whose failure is recorded rather than
 * thrown, and the map failing only when more than the tolerated share failed. Its `ResultWriter` writes what a
 * deployed map with `WriterConfig` COMPACT writes, to the local stack's S3 ({@link writeMapResults}): each child's
 * output as it returned it, and each failed child's record whole (its status, input, error and cause).
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

/** How a map run ended: the outputs of the children that succeeded and the records of those that failed. */
export interface DistributedMapResult {
  succeeded: unknown[];
  failed: FailedChildRecord[];
}

/**
 * Runs a Distributed Map's children over its items.
 *
 * @throws ToleratedFailuresExceeded (`States.ExceedToleratedFailureThreshold`) when the share of failed children is over the tolerated
 *   percentage (with 100, never)
 */
export async function runDistributedMap<I>(options: DistributedMapOptions<I>): Promise<DistributedMapResult> {
  const { items, child } = options;
  const succeeded: unknown[] = [];
  const failed: FailedChildRecord[] = [];
  let next = 0;
  const runOne = async (index: number): Promise<void> => {
    const item = items[index] as I;
    const name = randomUUID();
    const executionArn = `${options.mapRunArn.replace(':mapRun:', ':execution:')}:${name}`;
    const startDate = new Date().toISOString();
    try {
      succeeded.push(await child(item, executionArn));
    } catch (err) {
      failed.push({
        ExecutionArn: executionArn,
        Name: name,
        Input: JSON.stringify(item),
        Status: 'FAILED',
        Error: errorName(err) ?? 'Error',
        Cause: errorMessage(err),
        StartDate: startDate,
        StopDate: new Date().toISOString(),
      });
    }
  };
  await Promise.all(
    Array.from({ length: Math.min(options.maxConcurrency, items.length) }, async () => {
      while (next < items.length) await runOne(next++);
    }),
  );
  if (items.length > 0 && (failed.length * 100) / items.length > options.toleratedFailurePercentage) {
    throw new ToleratedFailuresExceeded(
      `${failed.length} of ${items.length} children of map run ${options.mapRunArn} failed, over the tolerated ${options.toleratedFailurePercentage}%`,
    );
  }
  return { succeeded, failed };
}

/**
 * The largest result file the local engine writes: under the local stack's request limit, where Step Functions starts
 * another file at 5 GB. A large fleet's results so span several files, as a very large one's do in AWS.
 */
const RESULT_FILE_BYTES = 512 * 1024;

/** Entries as JSON arrays of at most {@link RESULT_FILE_BYTES} each (an entry larger than that alone in its file). */
function resultFiles(entries: readonly unknown[]): string[] {
  const files: string[] = [];
  let current: string[] = [];
  let size = 2;
  for (const entry of entries) {
    const json = JSON.stringify(entry);
    if (current.length > 0 && size + json.length + 1 > RESULT_FILE_BYTES) {
      files.push(`[${current.join(',')}]`);
      current = [];
      size = 2;
    }
    current.push(json);
    size += json.length + 1;
  }
  if (current.length > 0) files.push(`[${current.join(',')}]`);
  return files;
}

/** Where a map's ResultWriter puts its results: a bucket and a prefix, and the S3 access it writes with. */
export interface ResultWriterTarget {
  s3: S3Call;
  bucket: string;
  prefix: string;
}

/**
 * The local engine's ResultWriter: writes a map run's results as Step Functions exports them
 * (`<prefix>/<map run id>/SUCCEEDED_n.json`, `FAILED_n.json` and `manifest.json`, which lists them) and returns the
 * map state's output, which names the manifest.
 */
export async function writeMapResults(
  target: ResultWriterTarget,
  mapRunArn: string,
  result: DistributedMapResult,
): Promise<MapRunOutput> {
  const folder = `${target.prefix}/${mapRunArn.split(':').at(-1) as string}`;
  const manifest: MapRunManifest = {
    DestinationBucket: target.bucket,
    MapRunArn: mapRunArn,
    ResultFiles: { SUCCEEDED: [], FAILED: [], PENDING: [] },
  };
  const put = async (key: string, body: string): Promise<void> => {
    await target.s3('PutObject', { Bucket: target.bucket, Key: key, Body: body, ContentType: 'application/json' });
  };
  const statuses: [ResultFileStatus, readonly unknown[]][] = [
    ['SUCCEEDED', result.succeeded],
    ['FAILED', result.failed],
  ];
  for (const [status, entries] of statuses) {
    for (const [index, body] of resultFiles(entries).entries()) {
      const key = `${folder}/${resultFileName(status, index)}`;
      await put(key, body);
      manifest.ResultFiles[status].push({ Key: key, Size: Buffer.byteLength(body) });
    }
  }
  const manifestKey = `${folder}/${MANIFEST_FILE}`;
  await put(manifestKey, JSON.stringify(manifest));
  return { MapRunArn: mapRunArn, ResultWriterDetails: { Bucket: target.bucket, Key: manifestKey } };
}
