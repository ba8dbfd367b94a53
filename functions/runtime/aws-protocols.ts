import type { IncomingHttpHeaders } from 'node:http';
import type { EventsApi, KmsApi, LambdaApi, SecretsApi, SfnApi, SnsApi, SsmApi } from '../../core/aws-api';

/**
 * The wire protocols of the operations keymat calls, as the AWS SDK speaks them: AWS JSON 1.0 and 1.1 (KMS, Step
 * Functions, Secrets Manager, EventBridge, Systems Manager), the query protocol (SNS) and Lambda's REST Invoke. Only
 * what those operations use is here: no event streams, no XML beyond a flat result, no endpoint rules.
 */

/** A request before signing: the path under the endpoint, the protocol's headers, the body. */
export interface WireRequest {
  path: string;
  /** @default none */
  query?: Record<string, string>;
  headers: Record<string, string>;
  body: string | Uint8Array;
}

/** An answer as it came. */
export interface WireResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** How one service's requests and answers look on the wire. */
export interface Protocol {
  /** SigV4's service name. */
  signingName: string;
  /** The first label of the service's public host name. */
  endpointPrefix: string;
  /** The service's part of its `AWS_ENDPOINT_URL_<SERVICE>` variable. */
  endpointVariable: string;
  serialize(operation: string, input: object): WireRequest;
  /** A 2xx answer, shaped as the SDK's output (with `$metadata`). */
  deserialize(operation: string, response: WireResponse, attempts: number): object;
  /** The error code (the SDK's exception name) and message of an error answer. */
  error(response: WireResponse): { code: string; message: string };
}

/** The API of each service keymat's client speaks. */
export interface ServiceApis {
  kms: KmsApi;
  sns: SnsApi;
  secretsmanager: SecretsApi;
  events: EventsApi;
  ssm: SsmApi;
  states: SfnApi;
  lambda: LambdaApi;
}

export type ServiceName = keyof ServiceApis;

/** A service's SigV4 name, endpoint prefix and endpoint variable suffix. */
type ServiceNames = [signingName: string, endpointPrefix: string, endpointVariable: string];

/** The request id AWS gives an answer (`x-amzn-RequestId`), which CloudTrail records too. */
export const requestIdOf = (headers: IncomingHttpHeaders): string | undefined => {
  const id = headers['x-amzn-requestid'];
  return typeof id === 'string' ? id : undefined;
};

const metadata = (response: WireResponse, attempts: number) => {
  const requestId = requestIdOf(response.headers);
  return { $metadata: { httpStatusCode: response.status, ...(requestId !== undefined && { requestId }), attempts } };
};

/** A JSON error's code: `x-amzn-errortype` (before any `:`), else the body's `__type` or `code` (after any `#`). */
function jsonErrorCode(response: WireResponse, body: Record<string, unknown>): string {
  const header = response.headers['x-amzn-errortype'];
  const raw = typeof header === 'string' ? header : String(body.__type ?? body.code ?? body.Code ?? '');
  const code = raw.split(':')[0]?.split('#').pop() ?? '';
  return code === '' ? `Http${response.status}Error` : code;
}

function parseObject(text: string): Record<string, unknown> {
  try {
    const parsed: unknown = JSON.parse(text || '{}');
    return typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

const jsonMessage = (body: Record<string, unknown>): string => String(body.message ?? body.Message ?? '');

/**
 * AWS JSON 1.0/1.1: `POST /`, the operation in `X-Amz-Target`, the input as JSON with its bytes (`Uint8Array`,
 * `Buffer`) as base64. In answers, the members named in `timestamps` (epoch seconds on the wire) become `Date`s and
 * those in `blobs` (base64) `Uint8Array`s, wherever they appear, as the SDK's deserializers make them.
 */
function awsJson(
  version: '1.0' | '1.1',
  targetPrefix: string,
  [signingName, endpointPrefix, endpointVariable]: ServiceNames,
  members: { timestamps: string[]; blobs?: string[] },
): Protocol {
  const timestamps = new Set(members.timestamps);
  const blobs = new Set(members.blobs ?? []);
  const revive = (key: string, value: unknown): unknown => {
    if (typeof value === 'number' && timestamps.has(key)) return new Date(Math.round(value * 1000));
    if (typeof value === 'string' && blobs.has(key)) return new Uint8Array(Buffer.from(value, 'base64'));
    return value;
  };
  // The holder's own value: JSON.stringify hands a replacer a Buffer already turned into `{ type, data }`.
  function base64(this: Record<string, unknown>, key: string, value: unknown): unknown {
    const raw = this[key];
    return raw instanceof Uint8Array
      ? Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString('base64')
      : value;
  }
  return {
    signingName,
    endpointPrefix,
    endpointVariable,
    serialize: (operation, input) => ({
      path: '/',
      headers: {
        'content-type': `application/x-amz-json-${version}`,
        'x-amz-target': `${targetPrefix}.${operation}`,
      },
      body: JSON.stringify(input, base64),
    }),
    deserialize: (_operation, response, attempts) => {
      const text = response.body.toString('utf8');
      const output: unknown = text === '' ? {} : JSON.parse(text, revive);
      return { ...(output as object), ...metadata(response, attempts) };
    },
    error: (response) => {
      const body = parseObject(response.body.toString('utf8'));
      return { code: jsonErrorCode(response, body), message: jsonMessage(body) };
    },
  };
}

/** The SDK's URI encoding: encodeURIComponent, and `!'()*` as well. */
const encode = (s: string): string =>
  encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

/** The query protocol's form fields of a value: structures by member, lists as `member.N`, maps as `entry.N`. */
function queryFields(prefix: string, value: unknown, maps: ReadonlySet<string>, out: [string, string][]): void {
  if (value === undefined || value === null) return;
  if (value instanceof Uint8Array) out.push([prefix, Buffer.from(value).toString('base64')]);
  else if (Array.isArray(value)) value.forEach((v, i) => queryFields(`${prefix}.member.${i + 1}`, v, maps, out));
  else if (typeof value === 'object' && maps.has(prefix)) {
    Object.entries(value).forEach(([k, v], i) => {
      out.push([`${prefix}.entry.${i + 1}.Name`, k]);
      queryFields(`${prefix}.entry.${i + 1}.Value`, v, maps, out);
    });
  } else if (typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) queryFields(prefix === '' ? k : `${prefix}.${k}`, v, maps, out);
  } else out.push([prefix, String(value)]);
}

const XML_ENTITIES: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };

const unescapeXml = (s: string): string =>
  s.replace(/&(#x[0-9a-f]+|#\d+|lt|gt|amp|quot|apos);/gi, (_, e: string) =>
    e.startsWith('#x') || e.startsWith('#X')
      ? String.fromCodePoint(parseInt(e.slice(2), 16))
      : e.startsWith('#')
        ? String.fromCodePoint(Number(e.slice(1)))
        : (XML_ENTITIES[e.toLowerCase()] ?? e),
  );

/** The text of the first `<name>` element in `xml`. */
const xmlText = (xml: string, name: string): string | undefined => {
  const match = new RegExp(`<${name}>([^<]*)</${name}>`).exec(xml);
  return match?.[1] === undefined ? undefined : unescapeXml(match[1]);
};

/**
 * The query protocol (form-encoded `Action=…&Version=…`, XML answers). Results are read as flat elements, which is
 * all Publish answers. Error codes are the service's query codes, named as the SDK names their exceptions.
 */
function awsQuery(
  version: string,
  [signingName, endpointPrefix, endpointVariable]: ServiceNames,
  maps: string[],
  errorNames: (code: string) => string,
): Protocol {
  const mapMembers = new Set(maps);
  return {
    signingName,
    endpointPrefix,
    endpointVariable,
    serialize: (operation, input) => {
      const fields: [string, string][] = [
        ['Action', operation],
        ['Version', version],
      ];
      queryFields('', input, mapMembers, fields);
      return {
        path: '/',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: fields.map(([k, v]) => `${encode(k)}=${encode(v)}`).join('&'),
      };
    },
    deserialize: (operation, response, attempts) => {
      const xml = response.body.toString('utf8');
      const result = new RegExp(`<${operation}Result>([\\s\\S]*)</${operation}Result>`).exec(xml)?.[1] ?? '';
      const output: Record<string, string> = {};
      for (const [, name, text] of result.matchAll(/<(\w+)>([^<]*)<\/\1>/g)) {
        output[name as string] = unescapeXml(text as string);
      }
      return { ...output, ...metadata(response, attempts) };
    },
    error: (response) => {
      const xml = response.body.toString('utf8');
      const code = xmlText(xml, 'Code');
      return {
        code: code === undefined ? `Http${response.status}Error` : errorNames(code),
        message: xmlText(xml, 'Message') ?? '',
      };
    },
  };
}

/**
 * SNS's query error codes whose SDK exception is not simply the code with `Exception` appended; any code SNS's model
 * does not list keeps its own name, as in the SDK.
 */
const SNS_ERROR_NAMES: Record<string, string> = {
  ParameterValueInvalid: 'InvalidParameterValueException',
  KMSOptInRequired: 'KMSOptInRequired',
  ValidationException: 'ValidationException',
};
const SNS_MODELED_CODES = new Set(
  (
    'AuthorizationError BatchEntryIdsNotDistinct BatchRequestTooLong ConcurrentAccess EmptyBatchRequest EndpointDisabled ' +
    'FilterPolicyLimitExceeded InternalError InvalidBatchEntryId InvalidParameter ParameterValueInvalid InvalidSecurity ' +
    'InvalidState KMSAccessDenied KMSDisabled KMSInvalidState KMSNotFound KMSOptInRequired KMSThrottling NotFound ' +
    'OptedOut PlatformApplicationDisabled ReplayLimitExceeded ResourceNotFound StaleTag SubscriptionLimitExceeded ' +
    'TagLimitExceeded TagPolicy Throttled TooManyEntriesInBatchRequest TopicLimitExceeded UserError ValidationException'
  ).split(' '),
);
const snsErrorName = (code: string): string =>
  SNS_ERROR_NAMES[code] ?? (SNS_MODELED_CODES.has(code) ? `${code}Exception` : code);

/** A blob payload (the SDK takes a string, an ArrayBuffer or a view of one) as the bytes to send. */
function payloadBytes(payload: LambdaApi['Invoke'][0]['Payload']): string | Uint8Array {
  if (payload === undefined || typeof payload === 'string') return payload ?? '';
  if (ArrayBuffer.isView(payload)) return new Uint8Array(payload.buffer, payload.byteOffset, payload.byteLength);
  return new Uint8Array(payload as ArrayBuffer);
}

/**
 * Lambda's Invoke (REST): the payload is the body both ways; the function's own failure is a 200 with
 * `X-Amz-Function-Error`.
 */
const lambdaInvoke: Protocol = {
  signingName: 'lambda',
  endpointPrefix: 'lambda',
  endpointVariable: 'LAMBDA',
  serialize: (operation, input) => {
    if (operation !== 'Invoke') throw new Error(`keymat's Lambda client sends Invoke only, not ${operation}`);
    const i = input as LambdaApi['Invoke'][0];
    const header = (name: string, value: string | undefined) => (value === undefined ? {} : { [name]: value });
    return {
      path: `/2015-03-31/functions/${encode(i.FunctionName ?? '')}/invocations`,
      ...(i.Qualifier !== undefined && { query: { Qualifier: i.Qualifier } }),
      headers: {
        'content-type': 'application/octet-stream',
        ...header('x-amz-invocation-type', i.InvocationType),
        ...header('x-amz-log-type', i.LogType),
        ...header('x-amz-client-context', i.ClientContext),
      },
      body: payloadBytes(i.Payload),
    };
  },
  deserialize: (_operation, response, attempts) => {
    const header = (name: string) => {
      const value = response.headers[name];
      return typeof value === 'string' ? value : undefined;
    };
    const fields = {
      FunctionError: header('x-amz-function-error'),
      LogResult: header('x-amz-log-result'),
      ExecutedVersion: header('x-amz-executed-version'),
    };
    return {
      StatusCode: response.status,
      ...Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined)),
      Payload: new Uint8Array(response.body),
      ...metadata(response, attempts),
    };
  },
  error: (response) => {
    const body = parseObject(response.body.toString('utf8'));
    return { code: jsonErrorCode(response, body), message: jsonMessage(body) };
  },
};

/**
 * Each service's protocol. The timestamp and blob members listed are those of the operations in core/aws-api.ts;
 * the code reads KMS's ValidTo, RotationDate, CreationDate, Timestamp and TrackingStartDate, GenerateMac's Mac, and
 * Step Functions' dates.
 */
export const PROTOCOLS: Record<ServiceName, Protocol> = {
  kms: awsJson('1.1', 'TrentService', ['kms', 'kms', 'KMS'], {
    timestamps: [
      'CreationDate',
      'DeletionDate',
      'ValidTo',
      'RotationDate',
      'NextRotationDate',
      'OnDemandRotationStartDate',
      'KeyCreationDate',
      'LastUpdatedDate',
      'Timestamp',
      'TrackingStartDate',
    ],
    blobs: ['Mac'],
  }),
  sns: awsQuery('2010-03-31', ['sns', 'sns', 'SNS'], ['MessageAttributes'], snsErrorName),
  secretsmanager: awsJson('1.1', 'secretsmanager', ['secretsmanager', 'secretsmanager', 'SECRETS_MANAGER'], {
    timestamps: ['CreatedDate'],
    blobs: ['SecretBinary'],
  }),
  events: awsJson('1.1', 'AWSEvents', ['events', 'events', 'EVENTBRIDGE'], { timestamps: [] }),
  ssm: awsJson('1.1', 'AmazonSSM', ['ssm', 'ssm', 'SSM'], {
    timestamps: ['ExecutionStartTime', 'ExecutionEndTime', 'ScheduledTime'],
  }),
  states: awsJson('1.0', 'AWSStepFunctions', ['states', 'states', 'SFN'], {
    timestamps: ['startDate', 'stopDate', 'redriveDate', 'timestamp'],
  }),
  lambda: lambdaInvoke,
};
