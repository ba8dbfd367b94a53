import type { S3Call } from './aws-api';
import * as z from './schema';

/**
 * A Distributed Map's results in S3, as its `ResultWriter` exports them: the map state's output names the run's
 * `manifest.json` (under `<prefix>/<map run id>/`), which lists the result files by the children's status. Each
 * SUCCEEDED file is a JSON array of the children's outputs (with `WriterConfig` COMPACT; without it, of whole
 * execution records whose `Output` is a JSON string), each FAILED file one of failed, timed-out and aborted
 * children's execution records, each PENDING file one of children never started because the map run ended.
 * The deployed map writes them; keymat's local engine writes the same files to the local stack's S3.
 */

/** The map state's output when its results went to S3: where the manifest is. */
export const mapRunOutputSchema = z.lazy(() =>
  z.object({
    MapRunArn: z.string(),
    ResultWriterDetails: z.object({ Bucket: z.string().check(z.minLength(3)), Key: z.string().check(z.minLength(1)) }),
  }),
);
export type MapRunOutput = z.infer<typeof mapRunOutputSchema>;

/** The statuses the result files are split by. */
export const RESULT_FILE_STATUSES = ['SUCCEEDED', 'FAILED', 'PENDING'] as const;
export type ResultFileStatus = (typeof RESULT_FILE_STATUSES)[number];

const resultFiles = () => z._default(z.array(z.object({ Key: z.string(), Size: z.number() })), []);

/** `manifest.json`: the run, and each status's result files (their keys in the destination bucket). */
export const mapRunManifestSchema = z.lazy(() =>
  z.object({
    DestinationBucket: z.string(),
    MapRunArn: z.string(),
    ResultFiles: z.object({ SUCCEEDED: resultFiles(), FAILED: resultFiles(), PENDING: resultFiles() }),
  }),
);
export type MapRunManifest = z.infer<typeof mapRunManifestSchema>;

/** The name of a status's n-th result file (from 0), beside the manifest. */
export const resultFileName = (status: ResultFileStatus, index: number): string => `${status}_${index}.json`;

/** The manifest's name, under the writer's prefix and the map run's id. */
export const MANIFEST_FILE = 'manifest.json';

/** A child that was never started, as the summary reports it: the map run ended first. */
export const NOT_STARTED = 'NotStarted';

/** A result file's entries and the manifest, read and parsed; what does not parse is an error naming the object. */
async function readJson(s3: S3Call, bucket: string, key: string): Promise<unknown> {
  const object = await s3('GetObject', { Bucket: bucket, Key: key });
  const text = (await object.Body?.transformToString('utf-8')) ?? '';
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new Error(`s3://${bucket}/${key} is not JSON: ${(err as Error).message}`);
  }
}

/** A successful child's output: the entry itself (COMPACT), or the `Output` of its whole record. */
function succeededOutput(entry: unknown): unknown {
  const record = entry as { Status?: unknown; Output?: unknown } | null;
  if (record?.Status === 'SUCCEEDED' && typeof record.Output === 'string') return JSON.parse(record.Output);
  return entry;
}

/**
 * Every child's result of a map run whose results went to S3: the successful children's outputs, then the failed
 * children's records, then the never-started children's records (given the status `PENDING` and the error
 * {@link NOT_STARTED}, so that a summary reports each as not scanned).
 *
 * @throws Error naming the object when the manifest or a result file is not of this shape
 */
export async function readMapResults(s3: S3Call, output: MapRunOutput): Promise<unknown[]> {
  const { Bucket, Key } = output.ResultWriterDetails;
  const parsed = mapRunManifestSchema.safeParse(await readJson(s3, Bucket, Key));
  if (!parsed.success) {
    throw new Error(`s3://${Bucket}/${Key} is not a map run's manifest: ${z.prettifyError(parsed.error)}`);
  }
  const manifest = parsed.data;
  const entries: unknown[] = [];
  for (const status of RESULT_FILE_STATUSES) {
    for (const file of manifest.ResultFiles[status]) {
      const content = await readJson(s3, manifest.DestinationBucket, file.Key);
      if (!Array.isArray(content)) {
        throw new Error(`s3://${manifest.DestinationBucket}/${file.Key} is not a JSON array of ${status} children`);
      }
      for (const entry of content) {
        if (status === 'SUCCEEDED') entries.push(succeededOutput(entry));
        else if (status === 'FAILED') entries.push(entry);
        else entries.push({ ...(entry as object), Status: 'PENDING', Error: NOT_STARTED });
      }
    }
  }
  return entries;
}
