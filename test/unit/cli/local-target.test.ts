import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { localTarget } from '../../../cli/operations';
import { LocalStack } from '../../../local/services/server';
import { errorOf } from '../../helpers/local-stack';

/**
 * The local target calls the stack with keymat's own client; its failures read as a deployed target's (the SDK's)
 * do, since the CLI prints an error's name and message as they are.
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
  const target = localTarget(dir);
  await stack?.close();
  stack = undefined;
  const err = await errorOf(() => target.changes.describe('keymat-CHG-1'));
  expect(err).toMatchObject({ name: 'Error', code: 'ECONNREFUSED' });
  expect(err.message).toMatch(/^connect ECONNREFUSED 127\.0\.0\.1:\d+$/);
});
