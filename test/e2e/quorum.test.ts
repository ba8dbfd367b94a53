import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { localKmsClient } from '../../local/clients';
import { createExternalKey } from '../../local/kms/byok';
import { keymat, serve, type ServedStack } from '../helpers/run-cli';

/** Approval rules through the CLI against `keymat local serve --quorum 2 --approvers …`. */
let dir: string;
let server: ServedStack;
const user = (name: string) => `arn:aws:iam::111122223333:user/${name}`;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'keymat-quorum-'));
  server = await serve([
    'local',
    'serve',
    '--state-dir',
    dir,
    '--quorum',
    '2',
    '--approvers',
    `${user('bob')},${user('carol')}`,
  ]);
}, 60_000);
afterAll(async () => {
  await server.stop();
  rmSync(dir, { recursive: true, force: true });
});

const as = (name: string, ...args: string[]) =>
  keymat([...args.slice(0, 1), '--local', '--state-dir', dir, ...args.slice(1)], {
    AWS_ACCESS_KEY_ID: name,
    AWS_SECRET_ACCESS_KEY: 'local',
  });

async function waitingRound(execution: string, approvals: number): Promise<void> {
  for (let i = 0; i < 50; i++) {
    const pending = JSON.parse((await as('bob', 'pending', '--json')).stdout) as {
      executionArn: string;
      approval?: unknown;
    }[];
    const mine = pending.find((p) => p.executionArn.endsWith(execution));
    const status = JSON.parse((await as('bob', 'status', execution, '--json')).stdout);
    if (
      mine &&
      status.waitingForApproval &&
      status.statesEntered.filter((s: string) => s === 'RequestApproval').length === approvals + 1
    )
      return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${execution} never asked for approval ${approvals + 1}`);
}

it('needs two distinct allowed approvers: the same one twice and an outsider are refused', async () => {
  const key = await createExternalKey(localKmsClient(server.endpoint), { materialDir: join(dir, 'byok') });
  await as(
    'alice',
    'start',
    '--key-id',
    key.keyArn,
    '--change-id',
    'CHG-Q',
    '--reason',
    'retire',
    '--wait-seconds',
    '0',
  );
  await waitingRound('keymat-CHG-Q', 0);

  const first = await as('bob', 'approve', 'keymat-CHG-Q');
  expect(first.stdout).toContain(`approved keymat-CHG-Q as ${user('bob')} (1 of 2 approvals)`);
  await waitingRound('keymat-CHG-Q', 1);

  const again = await as('bob', 'approve', 'keymat-CHG-Q');
  expect(again.code).toBe(1);
  expect(again.stderr.trim()).toBe(`keymat: ${user('bob')} has already approved this change`);

  const outsider = await as('dave', 'approve', 'keymat-CHG-Q');
  expect(outsider.code).toBe(1);
  expect(outsider.stderr).toContain(`${user('dave')} is not one of the allowed approvers`);

  const second = await as('carol', 'approve', 'keymat-CHG-Q');
  expect(second.code).toBe(0);
  const done = JSON.parse((await as('bob', 'status', 'keymat-CHG-Q', '--watch', '--json')).stdout);
  expect(done).toMatchObject({
    status: 'SUCCEEDED',
    output: { status: 'DELETED', approvals: [{ approver: user('bob') }, { approver: user('carol') }] },
  });
});
