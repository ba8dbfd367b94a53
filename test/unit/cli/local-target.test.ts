import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { localTarget, socketErrors } from '../../../cli/operations';
import type { SfnApi, SfnCall } from '../../../core/aws-api';
import { KeymatError, NETWORK_ERROR } from '../../../core/errors';
import { LocalStack } from '../../../local/services/server';
import { errorOf } from '../../helpers/local-stack';

/**
 * The local target calls the stack with the SDK's clients, as a deployed target does; the CLI prints an error's name
 * and message as they are.
 */
let dir: string;
let stack: LocalStack | undefined;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'keymat-local-target-'));
  // KMS only: its Step Functions refuses every call, saying which command serves the workflow.
  stack = await LocalStack.start({ stateDir: dir });
});
afterAll(async () => {
  await stack?.close();
  rmSync(dir, { recursive: true, force: true });
});

it("names the stack's refusal by its error code, with its message", async () => {
  const err = await errorOf(() => localTarget(dir).changes.describe('keymat-CHG-1'));
  expect(err).toMatchObject({
    name: 'UnknownOperationException',
    message: 'this local stack serves KMS only: use keymat local serve',
  });
});

it('gives the socket error of a stack that stopped answering, not NetworkError', async () => {
  // keymat's clients name it NetworkError for the workflow's Retry rules, with the socket's error as the cause.
  const socket = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' });
  const sfn: SfnCall = async () => {
    throw new KeymatError(NETWORK_ERROR, 'the request did not complete: ECONNREFUSED', { cause: socket });
  };
  await expect(socketErrors<SfnApi>(sfn)('DescribeExecution', { executionArn: 'arn' })).rejects.toBe(socket);
});

it('advises a command for a stopped folder on a path with spaces that a shell reads back as that path', async () => {
  const stopped = join(dir, "it's a folder");
  await (await LocalStack.start({ stateDir: stopped })).close();
  expect(() => localTarget(stopped)).toThrow(
    `no local stack is serving ${stopped}: start one with: keymat local serve --state-dir '${dir}/it'\\''s a folder'`,
  );
});
