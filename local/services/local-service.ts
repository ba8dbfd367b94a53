import type { IncomingHttpHeaders } from 'node:http';
import type { Caller } from './caller';
import type { RequestLogEntry } from './request-log';

/** A request as the router hands it to a service: the body read, the SigV4 credential scope parsed. */
export interface IncomingRequest {
  method: string;
  url: URL;
  headers: IncomingHttpHeaders;
  /** The `X-Amz-Target` header of the JSON protocols (`TrentService.DescribeKey`, …). */
  target: string | undefined;
  /** The access key id of the signature: the local STS answers with the IAM user of that name. */
  accessKeyId: string;
  /** Who the signature (and its session token) authenticates: the router works it out once per request. */
  caller: Caller;
  /** The Region of the signature, or the local stack's default Region when the request is unsigned. */
  region: string;
  /** The service name of the signature (`kms`, `sns`, …), empty when the request is unsigned. */
  service: string;
  body: string;
  /** The `x-amzn-RequestId` the answer carries and the request log records. */
  requestId: string;
}

/** What the request log records about a call, beyond what the router knows itself. */
export type LoggedCall = Pick<RequestLogEntry, 'service' | 'operation' | 'keyId' | 'keyMaterialId' | 'error'>;

/** A service's answer to one request. */
export interface Answer {
  status: number;
  headers: Record<string, string>;
  body: string;
  /** Set when the call belongs in the request log. @default not logged */
  log?: LoggedCall;
}

/** One emulated service behind the router. */
export interface LocalService {
  /**
   * Whether the service answers requests that carry no SigV4 signature (a browser's, for the approval page).
   * Unsigned requests no such service claims are refused with MissingAuthenticationTokenException.
   * @default false
   */
  readonly anonymous?: boolean;
  /** Whether this service answers the request. */
  matches(request: IncomingRequest): boolean;
  /** Answers the request. Protocol errors are answers too; a throw is a bug the router answers with a 500. */
  handle(request: IncomingRequest): Promise<Answer>;
}

/** The JSON protocols' content types: KMS and Secrets Manager speak 1.1, Step Functions 1.0. */
export type AwsJsonVersion = '1.0' | '1.1';

/** A JSON protocol answer. */
export const jsonAnswer = (
  version: AwsJsonVersion,
  requestId: string,
  status: number,
  body: unknown,
  log?: LoggedCall,
): Answer => ({
  status,
  headers: { 'content-type': `application/x-amz-json-${version}`, 'x-amzn-requestid': requestId },
  body: JSON.stringify(body),
  ...(log && { log }),
});

/** A JSON protocol error, with the `__type` in the body and in `x-amzn-errortype` as AWS sends it. */
export const jsonError = (
  version: AwsJsonVersion,
  requestId: string,
  error: { status: number; type: string; message: string },
  log?: LoggedCall,
): Answer => {
  const answer = jsonAnswer(version, requestId, error.status, { __type: error.type, message: error.message }, log);
  answer.headers['x-amzn-errortype'] = error.type;
  return answer;
};

/** A query protocol (SNS, STS) answer: XML. */
export const xmlAnswer = (requestId: string, status: number, xml: string, log?: LoggedCall): Answer => ({
  status,
  headers: { 'content-type': 'text/xml', 'x-amzn-requestid': requestId },
  body: xml,
  ...(log && { log }),
});

/** Text made safe to stand in an XML answer's element. */
export const escapeXml = (s: string): string =>
  s.replace(/[<>&'"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[c] as string);

/**
 * Parses a JSON protocol body (an empty body is `{}`), or returns undefined when it is not a JSON object, so each
 * service answers its own SerializationException.
 */
export function parseJsonBody(body: string): Record<string, unknown> | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body || '{}');
  } catch {
    return undefined;
  }
  return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)
    ? (parsed as Record<string, unknown>)
    : undefined;
}

/**
 * The operation a JSON 1.1 request names in its `X-Amz-Target` after the service's prefix (`AmazonSSM.` →
 * `GetCalendarState`), with what its answers need: the request log entry, and an error answer that logs it.
 */
export function jsonOperation(request: IncomingRequest, prefix: string, service: string) {
  const operation = request.target?.startsWith(prefix) ? request.target.slice(prefix.length) : '';
  const log = (error?: string): LoggedCall => ({ service, operation, ...(error && { error }) });
  return {
    operation,
    log,
    refuse: (status: number, type: string, message: string): Answer =>
      jsonError('1.1', request.requestId, { status, type, message }, log(type)),
  };
}
