import { Sha256 } from '@smithy/core/checksum';
import { SignatureV4 } from '@smithy/signature-v4';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { awsClient, publicEndpoint } from '../../../../functions/runtime/aws-client';
import { readKey } from '../../../../functions/runtime/aws';
import { FakeAws } from '../../../helpers/fake-aws';

const CREDENTIALS = { accessKeyId: 'AKIDCLIENTTEST', secretAccessKey: 'client-test-secret', sessionToken: 'session-1' };
const REGION = 'eu-west-1';

const aws = new FakeAws();
let endpoint: string;
beforeAll(async () => {
  endpoint = await aws.start();
});
afterAll(() => aws.stop());
beforeEach(() => aws.reset());

const client = <S extends Parameters<typeof awsClient>[0]>(service: S, maxAttempts?: number) =>
  awsClient(service, { endpoint, region: REGION, credentials: CREDENTIALS, ...(maxAttempts && { maxAttempts }) });

/** A server that answers each request with the next of `answers`, recording what came. */
async function rawServer(
  // An answer of undefined drops the connection.
  answers: (() => { status: number; headers?: Record<string, string>; body: string } | undefined)[],
): Promise<{ url: string; requests: { req: IncomingMessage; body: string }[]; server: Server }> {
  const requests: { req: IncomingMessage; body: string }[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      requests.push({ req, body });
      const answer = (answers[requests.length - 1] ?? answers[answers.length - 1])?.();
      if (!answer) return void req.socket.destroy();
      res
        .writeHead(answer.status, { 'x-amzn-requestid': `raw-${requests.length}`, ...answer.headers })
        .end(answer.body);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, requests, server };
}
const closing = (server: Server) => new Promise<void>((r) => server.close(() => r()));

describe('signing', () => {
  it('signs the request it sends: the signature recomputed from what arrived matches', async () => {
    await client('kms')('DescribeKey', { KeyId: 'alias/x' });
    const [call] = aws.calls;
    const headers = call?.headers ?? {};
    const auth = String(headers.authorization);
    const signedHeaders = /SignedHeaders=([^,]+)/.exec(auth)?.[1]?.split(';') ?? [];
    expect(signedHeaders).toEqual(
      expect.arrayContaining(['host', 'x-amz-date', 'x-amz-target', 'x-amz-security-token']),
    );
    expect(auth).toMatch(/^AWS4-HMAC-SHA256 Credential=AKIDCLIENTTEST\/\d{8}\/eu-west-1\/kms\/aws4_request, /);
    // Signed again from the bytes the server received, at the request's own time, by an independent signer.
    const date = String(headers['x-amz-date']);
    const signer = new SignatureV4({ service: 'kms', region: REGION, credentials: CREDENTIALS, sha256: Sha256 });
    const url = new URL(endpoint);
    const resigned = await signer.sign(
      {
        method: 'POST',
        protocol: 'http:',
        hostname: url.hostname,
        port: Number(url.port),
        path: '/',
        query: {},
        headers: Object.fromEntries(signedHeaders.map((h) => [h, String(headers[h])])),
        body: JSON.stringify(call?.input),
      },
      {
        signingDate: new Date(
          `${date.slice(0, 4)}-${date.slice(4, 6)}-${date.slice(6, 8)}T${date.slice(9, 11)}:${date.slice(11, 13)}:${date.slice(13, 15)}Z`,
        ),
      },
    );
    expect(resigned.headers.authorization).toBe(auth);
  });

  it('calls the public endpoint of the Region, the China partition in cn-*', () => {
    expect(publicEndpoint('kms', 'eu-west-1')).toBe('https://kms.eu-west-1.amazonaws.com');
    expect(publicEndpoint('states', 'cn-north-1')).toBe('https://states.cn-north-1.amazonaws.com.cn');
  });
});

describe('answers', () => {
  it('turns epoch-second timestamps into Dates and base64 blobs into bytes, and keeps the request id', async () => {
    const created = new Date('2026-11-01T10:00:00.500Z');
    aws.on('DescribeKey', { output: { KeyMetadata: { KeyId: 'k', CreationDate: created, ValidTo: created } } });
    aws.on('GenerateMac', { output: { Mac: new Uint8Array([1, 2, 255]), KeyId: 'k' } });
    const kms = client('kms');
    const described = await kms('DescribeKey', { KeyId: 'k' });
    expect(described.KeyMetadata?.CreationDate).toEqual(created);
    expect(described.KeyMetadata?.ValidTo).toEqual(created);
    expect(described.$metadata).toEqual({ httpStatusCode: 200, requestId: 'req-1', attempts: 1 });
    const mac = await kms('GenerateMac', {
      KeyId: 'k',
      MacAlgorithm: 'HMAC_SHA_256',
      Message: new TextEncoder().encode('hello'),
    });
    expect(mac.Mac).toEqual(new Uint8Array([1, 2, 255]));
    // A Buffer too (the attestor's messages), though JSON.stringify would make it `{ type, data }`.
    await kms('VerifyMac', { KeyId: 'k', MacAlgorithm: 'HMAC_SHA_256', Message: Buffer.from('héllo'), Mac: mac.Mac });
    expect(aws.inputs('GenerateMac')[0]).toEqual({
      KeyId: 'k',
      MacAlgorithm: 'HMAC_SHA_256',
      Message: Buffer.from('hello').toString('base64'),
    });
    expect(aws.inputs('VerifyMac')[0]).toMatchObject({
      Message: Buffer.from('héllo', 'utf8').toString('base64'),
      Mac: Buffer.from([1, 2, 255]).toString('base64'),
    });
  });

  it('speaks JSON 1.0 to Step Functions and turns its dates into Dates', async () => {
    aws.on('DescribeExecution', { output: { status: 'RUNNING', startDate: new Date('2026-11-22T00:00:00Z') } });
    const described = await client('states')('DescribeExecution', { executionArn: 'arn:e' });
    expect(described.startDate).toEqual(new Date('2026-11-22T00:00:00Z'));
    expect(aws.calls[0]?.headers).toMatchObject({
      'content-type': 'application/x-amz-json-1.0',
      'x-amz-target': 'AWSStepFunctions.DescribeExecution',
    });
  });

  it('publishes to SNS over the query protocol, message attributes as map entries', async () => {
    aws.on('Publish', { output: { MessageId: 'm-1' } });
    const published = await client('sns')('Publish', {
      TopicArn: 'arn:aws:sns:eu-west-1:111122223333:t',
      Message: "a & b = 'c' (d)",
      MessageAttributes: { event: { DataType: 'String', StringValue: 'Outcome' } },
    });
    expect(published).toMatchObject({ MessageId: 'm-1', $metadata: { httpStatusCode: 200 } });
    expect(aws.calls[0]).toMatchObject({
      service: 'sns',
      input: {
        Action: 'Publish',
        Version: '2010-03-31',
        TopicArn: 'arn:aws:sns:eu-west-1:111122223333:t',
        Message: "a & b = 'c' (d)",
        'MessageAttributes.entry.1.Name': 'event',
        'MessageAttributes.entry.1.Value.DataType': 'String',
        'MessageAttributes.entry.1.Value.StringValue': 'Outcome',
      },
    });
  });

  it('invokes a Lambda function over REST, the payload as the body, the function error from its header', async () => {
    aws.on('Invoke', {
      output: { Payload: '{"status":"APPROVED"}' },
      headers: { 'x-amz-function-error': 'Unhandled' },
    });
    const arn = 'arn:aws:lambda:eu-west-1:111122223333:function:check';
    const result = await client('lambda')('Invoke', {
      FunctionName: arn,
      InvocationType: 'RequestResponse',
      Payload: new TextEncoder().encode('{"changeId":"CHG-1"}'),
    });
    expect(result).toMatchObject({ StatusCode: 200, FunctionError: 'Unhandled' });
    expect(new TextDecoder().decode(result.Payload)).toBe('{"status":"APPROVED"}');
    expect(aws.calls[0]).toMatchObject({
      service: 'lambda',
      input: { FunctionName: arn, Payload: '{"changeId":"CHG-1"}' },
    });
    expect(aws.calls[0]?.headers['x-amz-invocation-type']).toBe('RequestResponse');
  });

  it('reads every page of a key’s materials', async () => {
    aws.on('DescribeKey', { output: { KeyMetadata: { Arn: 'arn:k', KeyId: 'k' } } });
    aws.on('ListKeyRotations', (call) =>
      call.input.Marker === undefined
        ? { output: { Rotations: [{ KeyMaterialId: 'm1' }], NextMarker: 'page-2', Truncated: true } }
        : { output: { Rotations: [{ KeyMaterialId: 'm2' }], Truncated: false } },
    );
    const key = await readKey(client('kms'), 'k');
    expect(key.materials.map((m) => m.KeyMaterialId)).toEqual(['m1', 'm2']);
    expect(aws.inputs('ListKeyRotations')).toEqual([
      { KeyId: 'arn:k', IncludeKeyMaterial: 'ALL_KEY_MATERIAL', Limit: 1000 },
      { KeyId: 'arn:k', IncludeKeyMaterial: 'ALL_KEY_MATERIAL', Limit: 1000, Marker: 'page-2' },
    ]);
  });
});

describe('errors', () => {
  it('names a JSON error by its __type, client fault, with status and request id', async () => {
    aws.on('DescribeKey', { error: 'com.amazonaws.kms#NotFoundException', status: 400, message: 'no key k' });
    await expect(client('kms')('DescribeKey', { KeyId: 'k' })).rejects.toMatchObject({
      name: 'NotFoundException',
      message: 'no key k',
      $fault: 'client',
      $metadata: { httpStatusCode: 400, requestId: 'req-1', attempts: 1 },
    });
  });

  it('takes x-amzn-ErrorType before the body, and calls a 500 a server fault', async () => {
    const raw = await rawServer([
      () => ({
        status: 500,
        headers: { 'x-amzn-errortype': 'KMSInternalException:http://internal.amazon.com/coral/' },
        body: '{"__type":"Other","message":"try again"}',
      }),
    ]);
    try {
      const kms = awsClient('kms', { endpoint: raw.url, region: REGION, credentials: CREDENTIALS, maxAttempts: 1 });
      await expect(kms('DeleteImportedKeyMaterial', { KeyId: 'k' })).rejects.toMatchObject({
        name: 'KMSInternalException',
        message: 'try again',
        $fault: 'server',
        $metadata: { httpStatusCode: 500, requestId: 'raw-1' },
      });
    } finally {
      await closing(raw.server);
    }
  });

  it('names an SNS XML error as the SDK names its exception', async () => {
    aws.on('Publish', { error: 'InvalidParameter', status: 400, message: 'Invalid parameter: TopicArn' });
    await expect(client('sns')('Publish', { TopicArn: 'x', Message: 'm' })).rejects.toMatchObject({
      name: 'InvalidParameterException',
      message: 'Invalid parameter: TopicArn',
      $fault: 'client',
      $metadata: { httpStatusCode: 400 },
    });
    expect(aws.calls).toHaveLength(1);
  });

  it('names a connection reset NetworkError, which the state machine retries', async () => {
    const raw = await rawServer([]);
    try {
      const kms = awsClient('kms', { endpoint: raw.url, region: REGION, credentials: CREDENTIALS, maxAttempts: 1 });
      await expect(kms('DescribeKey', { KeyId: 'k' })).rejects.toMatchObject({
        name: 'NetworkError',
        message: 'the request did not complete: ECONNRESET: socket hang up',
      });
    } finally {
      await closing(raw.server);
    }
  });
});

describe('retries', () => {
  it('tries an SNS publish again after a 500, and succeeds on the second attempt', async () => {
    let n = 0;
    aws.on('Publish', () =>
      ++n === 1 ? { error: 'InternalError', status: 500, message: 'oops' } : { output: { MessageId: 'm-2' } },
    );
    const published = await client('sns')('Publish', { TopicArn: 't', Message: 'm' });
    expect(published).toMatchObject({ MessageId: 'm-2', $metadata: { attempts: 2 } });
    expect(aws.inputs('Publish')).toHaveLength(2);
  });

  it('gives up after three attempts, with the last error', async () => {
    aws.on('StartExecution', { error: 'ThrottlingException', status: 400, message: 'slow down' });
    await expect(client('states')('StartExecution', { stateMachineArn: 'arn:m' })).rejects.toMatchObject({
      name: 'ThrottlingException',
      $metadata: { attempts: 3 },
    });
    expect(aws.inputs('StartExecution')).toHaveLength(3);
  });

  it('makes exactly one attempt with maxAttempts 1 (the tasks’ KMS client): the state machine retries', async () => {
    aws.on('DescribeKey', { error: 'KMSInternalException', status: 500, message: 'oops' });
    await expect(client('kms', 1)('DescribeKey', { KeyId: 'k' })).rejects.toMatchObject({
      name: 'KMSInternalException',
    });
    expect(aws.calls).toHaveLength(1);
  });

  it('does not try a client error again', async () => {
    aws.on('GetSecretValue', { error: 'ResourceNotFoundException', status: 400 });
    await expect(client('secretsmanager')('GetSecretValue', { SecretId: 's' })).rejects.toMatchObject({
      name: 'ResourceNotFoundException',
    });
    expect(aws.calls).toHaveLength(1);
  });

  it('tries again after a connection reset', async () => {
    const raw = await rawServer([
      () => undefined,
      () => ({ status: 200, body: '{"Entries":[{"EventId":"e-1"}],"FailedEntryCount":0}' }),
    ]);
    try {
      const events = awsClient('events', { endpoint: raw.url, region: REGION, credentials: CREDENTIALS });
      await expect(events('PutEvents', { Entries: [] })).resolves.toMatchObject({ FailedEntryCount: 0 });
      expect(raw.requests).toHaveLength(2);
    } finally {
      await closing(raw.server);
    }
  });
});
