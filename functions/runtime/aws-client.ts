import { setTimeout as sleep } from 'node:timers/promises';
import type { AwsCall } from '../../core/aws-api';
import { awsCredentials, awsEndpoint, awsRegion, type AwsCredentials } from '../../core/config';
import { KeymatError, NETWORK_ERROR } from '../../core/errors';
import { PROTOCOLS, requestIdOf, type ServiceApis, type ServiceName, type WireResponse } from './aws-protocols';
import type { createSender, SendRequest } from './aws-transport';

export type { ServiceName } from './aws-protocols';

/** Where and as whom a client calls. */
export interface AwsClientOptions {
  /** @default the function's Region (`AWS_REGION`) */
  region?: string;
  /**
   * A URL to call instead of the service's public endpoint (the local stack).
   * @default `AWS_ENDPOINT_URL_<SERVICE>` or `AWS_ENDPOINT_URL` when set, as the SDK takes them, else
   *   `https://<service>.<region>.amazonaws.com`
   */
  endpoint?: string;
  /** @default the Lambda runtime's `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and `AWS_SESSION_TOKEN` */
  credentials?: AwsCredentials;
  /**
   * Attempts per call: throttling, 5xx answers and network failures are tried again with exponential backoff and full
   * jitter, as the SDK's standard retry does. @default 3
   */
  maxAttempts?: number;
}

/** An error answer of an AWS service: `name` is its error code, as the SDK names its exceptions. */
export class AwsServiceError extends Error {
  readonly $fault: 'client' | 'server';
  readonly $metadata: { httpStatusCode: number; requestId?: string; attempts: number };
  constructor(name: string, message: string, status: number, requestId: string | undefined, attempts: number) {
    super(message);
    this.name = name;
    this.$fault = status >= 500 ? 'server' : 'client';
    this.$metadata = { httpStatusCode: status, ...(requestId !== undefined && { requestId }), attempts };
  }
}

/** The error codes the SDK's standard retry treats as throttling (a longer backoff) or as transient. */
const THROTTLING = new Set([
  'Throttling',
  'ThrottlingException',
  'ThrottledException',
  'RequestThrottledException',
  'TooManyRequestsException',
  'ProvisionedThroughputExceededException',
  'TransactionInProgressException',
  'RequestLimitExceeded',
  'BandwidthLimitExceeded',
  'LimitExceededException',
  'RequestThrottled',
  'SlowDown',
  'PriorRequestNotComplete',
  'EC2ThrottledException',
]);
const TRANSIENT = new Set(['TimeoutError', 'RequestTimeout', 'RequestTimeoutException']);
const TRANSIENT_STATUS = new Set([500, 502, 503, 504]);

/** The socket errors of a request that never got an answer: `NetworkError`, which the state machine retries. */
const NETWORK_CODES = new Set([
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'ECONNREFUSED',
  'ECONNABORTED',
  'EAI_AGAIN',
  'ENOTFOUND',
]);

const BASE_DELAY_MS = 100;
const THROTTLING_BASE_DELAY_MS = 500;
const MAX_DELAY_MS = 20_000;

/**
 * A client of one AWS service: each call is serialized in the service's wire protocol, signed with SigV4 and sent
 * over node:https (node:http for a local endpoint); the answer comes back shaped as the SDK shapes it (`$metadata`,
 * timestamps as `Date`, blobs as `Uint8Array`), an error answer as {@link AwsServiceError}, a request that got no
 * answer as `NetworkError`. Credentials are read at the first call.
 */
export function awsClient<S extends ServiceName>(service: S, options: AwsClientOptions = {}): ServiceCall<S> {
  const protocol = PROTOCOLS[service];
  const region = options.region ?? awsRegion();
  const endpoint = new URL(
    options.endpoint ?? awsEndpoint(protocol.endpointVariable) ?? publicEndpoint(protocol.endpointPrefix, region),
  );
  const maxAttempts = options.maxAttempts ?? 3;
  let sender: Promise<SendRequest> | undefined;

  const call = async (operation: string, input: object): Promise<object> => {
    sender ??= loadSender({
      service: protocol.signingName,
      region,
      credentials: options.credentials ?? awsCredentials(),
    });
    const send = await sender;
    const wire = protocol.serialize(operation, input);
    for (let attempt = 1; ; attempt++) {
      let response: WireResponse;
      try {
        response = await send(endpoint, wire);
      } catch (err) {
        const failure = networkError(err);
        if (attempt >= maxAttempts) throw failure;
        await backoff(attempt, BASE_DELAY_MS);
        continue;
      }
      if (response.status < 300) return protocol.deserialize(operation, response, attempt);
      const { code, message } = protocol.error(response);
      const error = new AwsServiceError(code, message, response.status, requestIdOf(response.headers), attempt);
      const throttled = THROTTLING.has(code) || response.status === 429;
      if (attempt >= maxAttempts || !(throttled || TRANSIENT.has(code) || TRANSIENT_STATUS.has(response.status))) {
        throw error;
      }
      await backoff(attempt, throttled ? THROTTLING_BASE_DELAY_MS : BASE_DELAY_MS);
    }
  };
  // The protocol shapes each output as the operation's SDK output type says.
  return call as unknown as ServiceCall<S>;
}

/**
 * The signer and node's http and https, loaded at a client's first call rather than at every cold start (the bundle
 * keeps them in a chunk of their own): functions/runtime/aws-transport.ts.
 */
const loadSender = (signing: Parameters<typeof createSender>[0]): Promise<SendRequest> =>
  import('./aws-transport.js').then((m) => m.createSender(signing));

/** The call type of a service's client. */
export type ServiceCall<S extends ServiceName> = AwsCall<ServiceApis[S]>;

/** A service's public endpoint in a Region, the China partition's in cn-* Regions. */
export const publicEndpoint = (prefix: string, region: string): string =>
  `https://${prefix}.${region}.amazonaws.com${region.startsWith('cn-') ? '.cn' : ''}`;

/** Full jitter on an exponential backoff, as the SDK's standard retry strategy waits. */
const backoff = (attempt: number, baseMs: number): Promise<void> =>
  sleep(Math.random() * Math.min(MAX_DELAY_MS, baseMs * 2 ** (attempt - 1)));

/** A failure to get an answer, named NetworkError when it is one the state machine retries. */
function networkError(err: unknown): Error {
  const e = err as NodeJS.ErrnoException;
  if (e.code === undefined || !NETWORK_CODES.has(e.code)) return e;
  return new KeymatError(NETWORK_ERROR, `the request did not complete: ${e.code}: ${e.message}`, { cause: err });
}
