import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { userCaller } from './caller';
import { isRefusal, type Identities } from './identities';
import { jsonError, type Answer, type IncomingRequest, type LocalService } from './local-service';
import type { RequestLog } from './request-log';

/**
 * The largest request body the local stack reads: well above any KMS request and Step Functions' 256 KiB input and
 * output limits, and small enough that a runaway client cannot exhaust the process.
 */
export const MAX_BODY_BYTES = 1024 * 1024;

/**
 * How much of a refused body is read and thrown away after the answer, so its sender gets the answer (a client still
 * writing its body when the socket closes sees only `EPIPE`). Past it, the connection is closed.
 */
const DRAIN_LIMIT_BYTES = 64 * MAX_BODY_BYTES;

/** How long a refused request's connection stays open for body bytes that do not come. */
const DRAIN_IDLE_MS = 1_000;

/** The statuses Node's own answer gives these parse failures; any other is a 400. */
const CLIENT_ERROR_STATUS: Partial<Record<string, { code: number; text: string }>> = {
  HPE_HEADER_OVERFLOW: { code: 431, text: 'Request Header Fields Too Large' },
  ERR_HTTP_REQUEST_TIMEOUT: { code: 408, text: 'Request Timeout' },
};

/**
 * A SigV4 Authorization header as AWS takes it: the algorithm, then exactly one credential scope, its signed headers
 * and its signature, each in its place; a `Credential=` anywhere else names nobody.
 */
const SIGV4_AUTHORIZATION =
  /^AWS4-HMAC-SHA256 Credential=([^/,\s]+)\/\d{8}\/([^/,\s]+)\/([^/,\s]+)\/aws4_request, ?SignedHeaders=[a-z0-9;-]+, ?Signature=[0-9a-f]+$/;

/** Raised while reading a body that cannot be answered by a service. */
class BadRequest extends Error {
  constructor(
    readonly status: number,
    readonly type: string,
    message: string,
  ) {
    super(message);
    this.name = type;
  }
}

/**
 * The local stack's one HTTP entry point: reads the body (up to {@link MAX_BODY_BYTES}), parses the SigV4 credential
 * scope, hands the request to the first service that claims it and writes the request log. A request never takes the
 * process down: whatever goes wrong is answered (400 for what the client sent, 500 for a bug), never thrown.
 */
export class Router {
  private readonly services: LocalService[];
  /** Set while request log entries cannot be written, so the failure is reported once. */
  private logFailing = false;
  private opened: () => void = () => undefined;
  /** Settles when the stack is ready: requests that arrive while it starts wait for it. */
  private readonly ready = new Promise<void>((resolve) => (this.opened = resolve));

  constructor(
    services: readonly LocalService[],
    private readonly requestLog: Pick<RequestLog, 'append'>,
    private readonly defaultRegion: string,
    /** Who signed a request. @default every access key id an IAM user of the local hub account */
    private readonly identities: Pick<Identities, 'identify'> = { identify: (accessKeyId) => userCaller(accessKeyId) },
  ) {
    this.services = [...services];
  }

  /** Adds a service; the first service that matches a request answers it. */
  add(service: LocalService): void {
    this.services.push(service);
  }

  /** Starts answering requests, the held-back ones first. */
  open(): void {
    this.opened();
  }

  /** The `request` listener of the HTTP server. */
  readonly listener = (req: IncomingMessage, res: ServerResponse): void => {
    void this.ready
      .then(() => this.route(req, res))
      .catch((err: unknown) => {
        // Reached only when the answer itself cannot be written (the client went away): nothing is left to tell.
        res.destroy(err instanceof Error ? err : undefined);
      });
  };

  /**
   * The `clientError` listener: a request Node could not parse (a malformed request line, a body shorter than its
   * Content-Length, headers too large) is answered with a status saying so, and the connection closed.
   */
  readonly clientError = (err: Error, socket: Socket): void => {
    if (socket.writable && !socket.writableEnded) {
      const code = (err as NodeJS.ErrnoException).code ?? err.name;
      const status = CLIENT_ERROR_STATUS[code] ?? { code: 400, text: 'Bad Request' };
      const message = `The request could not be read (${code}: ${err.message}): send one well-formed HTTP/1.1 request whose body is as long as its Content-Length`;
      socket.end(
        `HTTP/1.1 ${status.code} ${status.text}\r\ncontent-type: text/plain\r\ncontent-length: ${Buffer.byteLength(message)}\r\nconnection: close\r\n\r\n${message}`,
      );
    }
    socket.destroy();
  };

  private async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const requestId = randomUUID();
    let answer: Answer;
    try {
      const request = this.incoming(req, await readBody(req), requestId);
      answer = await this.dispatch(request);
      if (answer.log) this.log(request, answer, requestId);
    } catch (err) {
      answer =
        err instanceof BadRequest
          ? jsonError('1.1', requestId, err)
          : jsonError('1.1', requestId, {
              status: 500,
              type: 'InternalFailure',
              message: `The local stack failed to answer: ${(err as Error).message}`,
            });
      // A refused body may not have been read to its end: the connection cannot be reused.
      if (err instanceof BadRequest) answer.headers.connection = 'close';
    }
    if (res.headersSent || res.destroyed) return;
    res.writeHead(answer.status, { ...answer.headers, 'content-length': String(Buffer.byteLength(answer.body)) });
    if (req.complete) res.end(answer.body);
    else {
      // The whole answer goes out now; the connection closes once the rest of the body is read.
      res.write(answer.body);
      drain(req, () => res.end());
    }
  }

  /**
   * Writes the request log entry of an answered call. The call's own change is already committed, so a log that
   * cannot be written (a full disk) leaves the answer as it is: the failure is reported on stderr, once until a write
   * succeeds again.
   */
  private log(request: IncomingRequest, answer: Answer, requestId: string): void {
    const log = answer.log;
    if (!log) return;
    try {
      this.requestLog.append({
        time: new Date().toISOString(),
        service: log.service,
        region: request.region,
        operation: log.operation,
        ...(log.keyId !== undefined && { keyId: log.keyId }),
        ...(log.keyMaterialId !== undefined && { keyMaterialId: log.keyMaterialId }),
        status: answer.status,
        ...(log.error !== undefined && { error: log.error }),
        // An unsigned request (a browser's, on the approval page) has no caller to name.
        ...(request.service !== '' && { caller: request.caller.arn, account: request.caller.account }),
        ...(request.caller.session?.sourceIdentity !== undefined && {
          sourceIdentity: request.caller.session.sourceIdentity,
        }),
        requestId,
      });
      this.logFailing = false;
    } catch (err) {
      if (!this.logFailing)
        process.stderr.write(`keymat local: the request log misses entries: ${(err as Error).message}\n`);
      this.logFailing = true;
    }
  }

  private incoming(req: IncomingMessage, body: string, requestId: string): IncomingRequest {
    const authorization = req.headers.authorization;
    const scope = authorization === undefined ? null : SIGV4_AUTHORIZATION.exec(authorization);
    if (authorization !== undefined && scope === null)
      throw new BadRequest(
        400,
        'IncompleteSignatureException',
        `Authorization header requires one Credential, SignedHeaders and Signature in AWS4-HMAC-SHA256 form: ${JSON.stringify(authorization.slice(0, 200))}`,
      );
    const target = req.headers['x-amz-target'];
    const token = req.headers['x-amz-security-token'];
    const accessKeyId = scope?.[1] ?? '';
    const caller = this.identities.identify(accessKeyId, typeof token === 'string' ? token : undefined);
    if (isRefusal(caller)) throw new BadRequest(caller.refused.status, caller.refused.type, caller.refused.message);
    return {
      method: req.method ?? 'GET',
      url: new URL(req.url ?? '/', 'http://127.0.0.1'),
      headers: req.headers,
      target: typeof target === 'string' ? target : undefined,
      accessKeyId,
      caller,
      region: scope?.[2] ?? this.defaultRegion,
      service: scope?.[3] ?? '',
      body,
      requestId,
    };
  }

  private async dispatch(request: IncomingRequest): Promise<Answer> {
    const signed = request.service !== '';
    const service = this.services.find((s) => (signed || s.anonymous === true) && s.matches(request));
    if (service) return service.handle(request);
    return jsonError(
      '1.1',
      request.requestId,
      signed
        ? {
            status: 400,
            type: 'UnknownOperationException',
            message: `No local service answers ${request.service}`,
          }
        : { status: 400, type: 'MissingAuthenticationTokenException', message: 'Missing Authentication Token' },
    );
  }
}

/**
 * Reads a request body as UTF-8, refusing one larger than {@link MAX_BODY_BYTES} (at once when its Content-Length
 * says so) or cut short. The rest of a refused body is left to {@link drain}.
 */
function readBody(req: IncomingMessage): Promise<string> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > MAX_BODY_BYTES) return Promise.reject(tooLarge(declared));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size <= MAX_BODY_BYTES) {
        chunks.push(chunk);
        return;
      }
      req.off('data', onData);
      reject(tooLarge(size));
    };
    const cutShort = (reason: string): void =>
      reject(new BadRequest(400, 'SerializationException', `The request body could not be read: ${reason}`));
    req.on('data', onData);
    req.once('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.once('error', (err) => cutShort(err.message));
    req.once('close', () => {
      if (!req.complete) cutShort(`the connection closed after ${size} bytes`);
    });
  });
}

/**
 * Reads the rest of a refused request's body and throws it away, then calls `done`: when the body ends, when no byte
 * has come for {@link DRAIN_IDLE_MS}, or (closing the connection) past {@link DRAIN_LIMIT_BYTES}. A client that
 * writes its whole body before it reads so gets the answer, and one that never sends its body is not waited on.
 */
function drain(req: IncomingMessage, done: () => void): void {
  let drained = 0;
  let timer: NodeJS.Timeout | undefined;
  let finished = false;
  const finish = (): void => {
    if (finished) return;
    finished = true;
    clearTimeout(timer);
    req.off('data', onData);
    done();
  };
  const onData = (chunk: Buffer): void => {
    drained += chunk.length;
    if (drained > DRAIN_LIMIT_BYTES) {
      finish();
      req.destroy();
      return;
    }
    clearTimeout(timer);
    timer = setTimeout(finish, DRAIN_IDLE_MS);
  };
  req.on('data', onData);
  req.once('end', finish);
  req.once('close', finish);
  timer = setTimeout(finish, DRAIN_IDLE_MS);
  req.resume();
}

const tooLarge = (bytes: number): BadRequest =>
  new BadRequest(
    413,
    'RequestEntityTooLargeException',
    `The request body has ${bytes} bytes, more than the local stack's limit of ${MAX_BODY_BYTES}; send a smaller request`,
  );
