import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { callGateway, GatewayError, type GatewayEndpoint } from '../../../cli/gateway-client';
import { awsTarget } from '../../../cli/operations';
import { CliError } from '../../../cli/output';
import { cliEnvironment } from '../../../cli/env';
import * as z from '../../../core/schema';

/** How the CLI finds and calls the gateway: signed requests, answers checked, refusals as errors with their names. */
let server: Server;
let url: string;
let answer: { status: number; body: string } = { status: 200, body: '{}' };
const seen: { path: string; headers: IncomingHttpHeaders; body: string }[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      seen.push({ path: req.url ?? '', headers: req.headers, body });
      res.writeHead(answer.status, { 'content-type': 'application/json' }).end(answer.body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/gateway`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

const endpoint = (): GatewayEndpoint => ({
  url,
  region: 'eu-west-1',
  credentials: { accessKeyId: 'alice', secretAccessKey: 'local' },
});
const started = z.object({ executionArn: z.string() });
const refusedWith = (call: Promise<unknown>) =>
  call.then(
    () => undefined,
    (err: unknown) => err,
  );

describe('callGateway', () => {
  it('signs the request for the lambda service and the Region, and returns the checked answer', async () => {
    answer = { status: 200, body: JSON.stringify({ executionArn: 'arn:x', extra: 1 }) };
    const result = await callGateway(endpoint(), '/changes', { changeId: 'CHG-1' }, started);
    expect(result).toEqual({ executionArn: 'arn:x' });
    const request = seen.at(-1);
    expect(request?.path).toBe('/gateway/changes');
    expect(request?.body).toBe('{"changeId":"CHG-1"}');
    expect(request?.headers.authorization).toMatch(/Credential=alice\/\d{8}\/eu-west-1\/lambda\/aws4_request/);
  });

  it('throws a refusal as GatewayError with its error name, message and status', async () => {
    answer = { status: 403, body: JSON.stringify({ error: 'ApprovalRefused', message: 'the requester cannot' }) };
    const err = await refusedWith(callGateway(endpoint(), '/approve', { execution: 'x' }, started));
    expect(err).toBeInstanceOf(GatewayError);
    expect(err).toMatchObject({ name: 'ApprovalRefused', status: 403, message: 'the requester cannot' });
  });

  it('refuses an answer that is not JSON, or not the answer asked for, as GatewayUnreadable', async () => {
    answer = { status: 200, body: '<html>' };
    expect(await refusedWith(callGateway(endpoint(), '/changes', {}, started))).toMatchObject({
      name: 'GatewayUnreadable',
    });
    answer = { status: 200, body: JSON.stringify({ executionArn: 42 }) };
    expect(await refusedWith(callGateway(endpoint(), '/changes', {}, started))).toMatchObject({
      name: 'GatewayUnreadable',
    });
  });

  it('names a gateway that does not answer GatewayUnreachable', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const err = await refusedWith(
      callGateway({ ...endpoint(), url: `http://127.0.0.1:${port}/gateway` }, '/changes', {}, started),
    );
    expect(err).toMatchObject({ name: 'GatewayUnreachable', status: 0 });
    expect((err as Error).message).toBe(
      `the gateway at http://127.0.0.1:${port} did not answer (connect ECONNREFUSED 127.0.0.1:${port})`,
    );
  });

  it('signs with the credentials a provider resolves', async () => {
    answer = { status: 200, body: JSON.stringify({ executionArn: 'arn:x' }) };
    const credentials = () => Promise.resolve({ accessKeyId: 'bob', secretAccessKey: 'local' });
    await callGateway({ ...endpoint(), credentials }, '/changes', {}, started);
    expect(seen.at(-1)?.headers.authorization).toMatch(/Credential=bob\//);
  });

  it('lets a credential failure through as itself, sending nothing', async () => {
    const sent = seen.length;
    const missing = Object.assign(new Error('Could not load credentials from any providers'), {
      name: 'CredentialsProviderError',
    });
    const err = await refusedWith(
      callGateway({ ...endpoint(), credentials: () => Promise.reject(missing) }, '/changes', {}, started),
    );
    expect(err).toBe(missing);
    expect(seen).toHaveLength(sent);
  });
});

describe('the gateway of a deployed stack', () => {
  const stateMachineArn = 'arn:aws:states:eu-west-1:111122223333:stateMachine:keymat-deletion';

  it('is signed for the Region its Function URL names', async () => {
    const target = await awsTarget(
      {
        stateMachineArn,
        gatewayUrl: 'https://abcdef123456.lambda-url.eu-central-1.on.aws/',
        stackName: 'Keymat',
      },
      {},
    );
    expect(await target.gateway()).toEqual({
      url: 'https://abcdef123456.lambda-url.eu-central-1.on.aws/',
      region: 'eu-central-1',
    });
  });

  it('refuses a gateway URL that is not one, naming it', async () => {
    const target = await awsTarget({ stateMachineArn, gatewayUrl: 'lambda-url', stackName: 'Keymat' }, {});
    const err = await refusedWith(target.gateway());
    expect(err).toBeInstanceOf(CliError);
    expect((err as Error).message).toContain("got 'lambda-url'");
  });

  it('is taken from KEYMAT_GATEWAY_URL when no option names it', () => {
    expect(cliEnvironment({ KEYMAT_GATEWAY_URL: 'https://x.lambda-url.us-east-1.on.aws/' }).gatewayUrl).toBe(
      'https://x.lambda-url.us-east-1.on.aws/',
    );
    expect(cliEnvironment({}).gatewayUrl).toBeUndefined();
  });
});
