import { createHash } from 'node:crypto';
import type { Caller } from './caller';
import { escapeXml, type Answer, type IncomingRequest, type LocalService, type LoggedCall } from './local-service';
import { LocalStateError, type StateStore } from '../state/store';

/**
 * S3 GetObject and PutObject, path-style (`/<bucket>/<key>`), on the local stack's buckets, kept in the state
 * database. They hold what the deployed hub keeps in S3: the fleet scan's results, which its Distributed Map writes
 * and its summary step reads. As the deployed bucket admits only the hub's roles, only keymat's own identities may
 * read or write here; anyone else is refused AccessDenied.
 */
export class LocalS3 implements LocalService {
  constructor(
    private readonly store: StateStore,
    /** The buckets that exist. */
    private readonly buckets: readonly string[],
    /** Whether a caller is one of keymat's own identities. */
    private readonly isKeymat: (caller: Caller) => boolean,
  ) {}

  matches(request: IncomingRequest): boolean {
    return request.service === 's3';
  }

  async handle(request: IncomingRequest): Promise<Answer> {
    const { requestId } = request;
    const operation = { GET: 'GetObject', PUT: 'PutObject' }[request.method] ?? request.method;
    const [bucketSegment = '', ...keySegments] = request.url.pathname.slice(1).split('/');
    // A segment that is not percent-encoding (`%zz`) names no bucket or key, and is answered as such.
    const decoded = (segment: string): string => {
      try {
        return decodeURIComponent(segment);
      } catch {
        return '';
      }
    };
    const bucket = decoded(bucketSegment);
    const key = keySegments.map(decoded).join('/');
    const log = (error?: string): LoggedCall => ({ service: 's3', operation, ...(error && { error }) });
    const refuse = (status: number, code: string, message: string, resource = `/${bucket}/${key}`): Answer => ({
      status,
      headers: { 'content-type': 'application/xml', 'x-amz-request-id': requestId },
      body: `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>${escapeXml(message)}</Message><Resource>${escapeXml(resource)}</Resource><RequestId>${requestId}</RequestId></Error>`,
      log: log(code),
    });

    if (operation !== 'GetObject' && operation !== 'PutObject') {
      return refuse(
        405,
        'MethodNotAllowed',
        `${request.method} is not supported locally: only GetObject and PutObject`,
      );
    }
    if (!this.isKeymat(request.caller)) {
      return refuse(403, 'AccessDenied', `User: ${request.caller.arn} is not authorized to perform: s3:${operation}`);
    }
    if (!this.buckets.includes(bucket)) {
      return refuse(404, 'NoSuchBucket', 'The specified bucket does not exist', `/${bucket}`);
    }
    if (key === '') return refuse(400, 'InvalidArgument', 'The request names no object key');

    if (operation === 'PutObject') {
      const body = Buffer.from(request.body, 'utf8');
      try {
        this.store.putObject(bucket, key, body);
      } catch (err) {
        if (!(err instanceof LocalStateError)) throw err;
        return refuse(500, 'InternalError', err.message);
      }
      return {
        status: 200,
        headers: { etag: etagOf(body), 'x-amz-request-id': requestId },
        body: '',
        log: log(),
      };
    }
    const object = this.store.getObject(bucket, key);
    if (!object) return refuse(404, 'NoSuchKey', 'The specified key does not exist.');
    return {
      status: 200,
      headers: {
        'content-type': 'application/json',
        etag: etagOf(object.body),
        'last-modified': new Date(object.modified).toUTCString(),
        'x-amz-request-id': requestId,
      },
      body: object.body.toString('utf8'),
      log: log(),
    };
  }
}

/** An object's ETag as S3 gives a single-part upload's: the MD5 of its body, quoted. */
const etagOf = (body: Buffer): string => `"${createHash('md5').update(body).digest('hex')}"`;
