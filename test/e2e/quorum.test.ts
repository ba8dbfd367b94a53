import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createExternalKey, localKmsClient } from '../../local/kms/byok';
import { readRequestLog } from '../../local/state/store';
import { waitForApprovalRound } from '../helpers/changes';
import { keymatInProcess, serve, type ServedStack } from '../helpers/run-cli';

/**
 * Approval rules through the CLI's commands (run in-process, as each user) and the local gateway, against a spawned
 * `keymat local serve --quorum 2 --approvers …`.
 */
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
    // The quorum's mechanics, without the recovery proof (its own tests: test/integration/workflow/recovery-proof.test.ts).
    '--recovery-proof',
    'off',
  ]);
}, 60_000);
afterAll(async () => {
  await server.stop();
  rmSync(dir, { recursive: true, force: true });
});

const as = (name: string, ...args: string[]) =>
  keymatInProcess([...args.slice(0, 1), '--local', '--state-dir', dir, ...args.slice(1)], {
    AWS_ACCESS_KEY_ID: name,
    AWS_SECRET_ACCESS_KEY: 'local',
  });

const start = (changeId: string, keyArn: string) =>
  as('alice', 'start', '--key-id', keyArn, '--change-id', changeId, '--reason', 'retire', '--wait-seconds', '0');

it('needs two distinct allowed approvers: the same one twice and an outsider are refused', async () => {
  const key = await createExternalKey(localKmsClient(server.endpoint), { materialDir: join(dir, 'byok') });
  await start('CHG-Q', key.keyArn);
  await waitForApprovalRound(server.endpoint, 'keymat-CHG-Q', 0);

  const first = await as('bob', 'approve', 'keymat-CHG-Q');
  expect(first.stdout).toContain(`approved keymat-CHG-Q as ${user('bob')} (1 of 2 approvals)`);
  await waitForApprovalRound(server.endpoint, 'keymat-CHG-Q', 1);

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

it('refuses a rejection by an outsider, and lets the requester withdraw the change', async () => {
  const key = await createExternalKey(localKmsClient(server.endpoint), { materialDir: join(dir, 'byok') });
  await start('CHG-W', key.keyArn);
  await waitForApprovalRound(server.endpoint, 'keymat-CHG-W', 0);

  const outsider = await as('mallory', 'reject', 'keymat-CHG-W', '--comment', 'no');
  expect(outsider.code).toBe(1);
  expect(outsider.stderr.trim()).toBe(
    `keymat: ${user('mallory')} may not reject change CHG-W: only its requester and its allowed approvers (${user('bob')}, ${user('carol')}) may`,
  );
  const answered = readRequestLog(dir).filter((e) => e.service === 'gateway');
  expect(answered.at(-1)).toMatchObject({ operation: 'POST /reject', error: 'RejectionRefused' });
  const still = JSON.parse((await as('bob', 'status', 'keymat-CHG-W', '--json')).stdout);
  expect(still).toMatchObject({ status: 'RUNNING', waitingForApproval: true });

  const withdrawn = await as('alice', 'reject', 'keymat-CHG-W', '--comment', 'opened by mistake');
  expect(withdrawn.code).toBe(0);
  expect(withdrawn.stdout.trim()).toBe(`withdrew keymat-CHG-W: withdrawn by you, the requester (${user('alice')})`);
  const done = await as('bob', 'status', 'keymat-CHG-W', '--watch', '--json');
  expect(done.code).toBe(3);
  expect(JSON.parse(done.stdout)).toMatchObject({
    status: 'FAILED',
    error: 'ApprovalRejected',
    cause: `withdrawn by the requester ${user('alice')} (cli): opened by mistake`,
  });
});

it('refuses to serve approvers that differ only in case, naming both, before anything starts', async () => {
  const refused = await keymatInProcess([
    'local',
    'serve',
    '--state-dir',
    join(dir, 'never-served'),
    '--quorum',
    '2',
    '--approvers',
    `${user('bob')},${user('Bob')}`,
  ]);
  expect(refused.code).toBe(2);
  expect(refused.stderr).toContain(
    `"${user('bob')}" and "${user('Bob')}" are the same principal, "${user('Bob')}" (a session of a role is the role unless the role is session-bound; IAM names ignore case): list each principal once`,
  );
  expect(existsSync(join(dir, 'never-served'))).toBe(false);
});
