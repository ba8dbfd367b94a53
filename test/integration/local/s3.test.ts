import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { errorName } from '../../../core/errors';
import { createS3Client } from '../../../functions/runtime/aws';
import { FLEET_RESULTS_BUCKET, LOCAL_CREDENTIALS } from '../../../local/constants';
import { localClientConfig } from '../../../local/services/clients';
import { internalCredentials, taskCredentials } from '../../../local/services/internal-access';
import { LocalStack } from '../../../local/services/server';
import { readRequestLog, requestLogEnd } from '../../../local/state/store';

/**
 * The local stack's S3, over the SDK's S3 client: the bucket of the fleet scan's results, which only keymat's own
 * identities may read or write (as only the hub's roles may in a deployment).
 */
let dir: string;
let stack: LocalStack;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'keymat-s3-'));
  stack = await LocalStack.start({ stateDir: dir });
});
afterAll(async () => {
  await stack.close();
  rmSync(dir, { recursive: true, force: true });
});

const s3As = (credentials = internalCredentials(dir)) =>
  createS3Client({ ...localClientConfig(stack.endpoint, 'us-east-1', credentials), maxAttempts: 1 });
const KEY = 'fleet-scan-results/run 1/SUCCEEDED_0.json';

describe('the local S3', () => {
  it("keeps an object keymat's engine writes, for the scan to read back byte for byte", async () => {
    const body = JSON.stringify([{ account: '444455556666', region: 'eu-west-1', note: 'ünïcode ✓' }]);
    await s3As()('PutObject', { Bucket: FLEET_RESULTS_BUCKET, Key: KEY, Body: body });
    const read = await s3As(taskCredentials(internalCredentials(dir), 'ExpiryScan'))('GetObject', {
      Bucket: FLEET_RESULTS_BUCKET,
      Key: KEY,
    });
    expect(await read.Body?.transformToString()).toBe(body);
    expect(read.ETag).toMatch(/^"[0-9a-f]{32}"$/);
  });

  it('refuses anyone but keymat AccessDenied, naming the caller, and changes nothing', async () => {
    const logStart = requestLogEnd(dir);
    const outsider = s3As(LOCAL_CREDENTIALS);
    const put = outsider('PutObject', { Bucket: FLEET_RESULTS_BUCKET, Key: KEY, Body: '[]' });
    await expect(put).rejects.toMatchObject({ name: 'AccessDenied', $metadata: { httpStatusCode: 403 } });
    const get = outsider('GetObject', { Bucket: FLEET_RESULTS_BUCKET, Key: KEY });
    await expect(get).rejects.toThrow(`User: arn:aws:iam::111122223333:user/${LOCAL_CREDENTIALS.accessKeyId}`);
    const kept = await s3As()('GetObject', { Bucket: FLEET_RESULTS_BUCKET, Key: KEY });
    expect(await kept.Body?.transformToString()).not.toBe('[]');
    expect(readRequestLog(dir, logStart).map((e) => [e.operation, e.error])).toEqual([
      ['PutObject', 'AccessDenied'],
      ['GetObject', 'AccessDenied'],
      ['GetObject', undefined],
    ]);
  });

  it('answers NoSuchKey for an object never written and NoSuchBucket for a bucket the stack does not have', async () => {
    const missing = await s3As()('GetObject', { Bucket: FLEET_RESULTS_BUCKET, Key: 'fleet-scan-results/none' }).catch(
      (err: unknown) => err,
    );
    expect(errorName(missing)).toBe('NoSuchKey');
    const elsewhere = await s3As()('GetObject', { Bucket: 'someone-elses-bucket', Key: KEY }).catch(
      (err: unknown) => err,
    );
    expect(errorName(elsewhere)).toBe('NoSuchBucket');
  });
});

describe('a crafted S3 request', () => {
  it('is answered, not thrown: a path that is not percent-encoding names no bucket', async () => {
    const internal = internalCredentials(dir);
    const response = await fetch(`${stack.endpoint}/%zz/key`, {
      headers: {
        authorization: `AWS4-HMAC-SHA256 Credential=${internal.accessKeyId}/20260101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=0`,
      },
    });
    expect(response.status).toBe(404);
    expect(await response.text()).toContain('<Code>NoSuchBucket</Code>');
  });
});
