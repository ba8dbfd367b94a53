import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { run } from '../../../helpers/run-cli';

/**
 * A server that drops every connection: what a reset looks like to the SDK. Checked in a child process, because
 * jest's separate realm makes the SDK wrap network errors and lose their code.
 */
let server: Server;
beforeAll(async () => {
  server = createServer((req) => req.socket.destroy());
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

it('names a connection reset NetworkError, which the state machine retries', async () => {
  const script = `
    const { createKmsClient } = require(${JSON.stringify(join(__dirname, '..', '..', '..', '..', 'functions', 'runtime', 'aws.ts'))});
    const { DescribeKeyCommand } = require('@aws-sdk/client-kms');
    createKmsClient().send(new DescribeKeyCommand({ KeyId: 'x' })).catch((e) => console.log(JSON.stringify({ name: e.name, message: e.message })));`;
  const r = await run(process.execPath, ['-r', 'tsx/cjs', '-e', script], {
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'AKIDTEST',
    AWS_SECRET_ACCESS_KEY: 'test',
    AWS_ENDPOINT_URL_KMS: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
  });
  expect(JSON.parse(r.stdout)).toEqual({
    name: 'NetworkError',
    message: 'the request did not complete: ECONNRESET: socket hang up',
  });
});
