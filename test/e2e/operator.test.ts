import { DescribeKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import {
  DescribeExecutionCommand,
  ListExecutionsCommand,
  SendTaskFailureCommand,
  SFNClient,
  StartExecutionCommand,
} from '@aws-sdk/client-sfn';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CreatedKey } from '../../local/kms/byok';
import { readRequestLog } from '../../local/state/store';
import { ChangeClient } from '../../core/change-client';
import { executionArnOf } from '../../core/naming';
import { waitForApprovalRound } from '../helpers/changes';
import { errorOf, keymatSfnClient } from '../helpers/local-stack';
import { keymat, run, serve, type ServedStack } from '../helpers/run-cli';
import { keySupply, seedExternalKeys } from '../helpers/seeded-keys';
import { sfnCall } from '../../functions/runtime/aws';
import { DEFAULT_REGION, LOCAL_ACCOUNT_ID, LOCAL_CREDENTIALS, LOCAL_STATE_MACHINE_ARN } from '../../local/constants';

/**
 * The operator commands as child processes against `keymat local serve`, as an operator would run them: start,
 * approve and reject through the local gateway (signed as the user named by AWS_ACCESS_KEY_ID), the rest reading the
 * Step Functions API.
 */
let dir: string;
let server: ServedStack;
let endpoint: string;

async function startServer(): Promise<void> {
  // The operator commands, without the recovery proof (its own tests: test/integration/workflow/recovery-proof.test.ts).
  server = await serve(['local', 'serve', '--state-dir', dir, '--approval-timeout', '60', '--recovery-proof', 'off']);
  endpoint = server.endpoint;
}

let keys: { next: () => CreatedKey };

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'keymat-e2e-'));
  keys = keySupply(
    seedExternalKeys(
      dir,
      join(dir, 'byok'),
      Array.from({ length: 6 }, () => ({})),
    ),
  );
  await startServer();
}, 60_000);
afterAll(async () => {
  await server.stop();
  rmSync(dir, { recursive: true, force: true });
});

const as = (user: string) => ({ AWS_ACCESS_KEY_ID: user, AWS_SECRET_ACCESS_KEY: 'local' });
const local = ['--local', '--state-dir'];
const op = (user: string, ...args: string[]) =>
  keymat([...args.slice(0, 1), ...local, dir, ...args.slice(1)], as(user));
const kms = () => new KMSClient({ endpoint, region: 'us-east-1', credentials: LOCAL_CREDENTIALS });
const sfn = () => new SFNClient({ endpoint, region: 'us-east-1', credentials: LOCAL_CREDENTIALS });
const newKey = async (): Promise<CreatedKey> => keys.next();
const user = (name: string) => `arn:aws:iam::111122223333:user/${name}`;
const deletesOf = (keyArn: string) =>
  readRequestLog(dir).filter((e) => e.operation === 'DeleteImportedKeyMaterial' && e.keyId === keyArn);

const waitForPending = (execution: string) => waitForApprovalRound(endpoint, execution);

describe('an approved change', () => {
  let key: CreatedKey;
  let executionArn: string;

  it('starts with the signer as the requester, and a repeated start returns the same execution', async () => {
    key = await newKey();
    const args = [
      'start',
      '--key-id',
      key.keyArn,
      '--change-id',
      'CHG-100',
      '--reason',
      'retire',
      '--wait-seconds',
      '0',
      '--json',
    ];
    const first = await op('alice', ...args);
    expect(first.code).toBe(0);
    const started = JSON.parse(first.stdout);
    expect(started).toEqual({
      executionArn: executionArnOf(LOCAL_STATE_MACHINE_ARN, 'keymat-CHG-100'),
      state: 'STARTED',
    });
    executionArn = started.executionArn;
    const again = JSON.parse((await op('alice', ...args)).stdout);
    expect(again).toEqual({ executionArn, state: 'RUNNING' });
    const text = await op('alice', ...args.slice(0, -1));
    expect(text.stdout.trim()).toBe(`already running: ${executionArn}`);
  });

  it('is listed as pending with its plan, and the approval request is in the outbox', async () => {
    await waitForPending('keymat-CHG-100');
    const pending = JSON.parse((await op('bob', 'pending', '--json')).stdout);
    expect(pending.windows).toEqual([]);
    expect(pending.approvals).toContainEqual(
      expect.objectContaining({
        executionArn,
        location: { account: LOCAL_ACCOUNT_ID, accountName: LOCAL_ACCOUNT_ID, ouPath: [], region: DEFAULT_REGION },
        input: expect.objectContaining({ requestedBy: user('alice') }),
        plan: expect.objectContaining({ keyArn: key.keyArn, expectedKeyState: 'PendingImport' }),
      }),
    );
    const text = (await op('bob', 'pending')).stdout;
    expect(text).toContain(`  ${executionArn}\n    in account ${LOCAL_ACCOUNT_ID}, ${DEFAULT_REGION}\n`);
    const outbox = JSON.parse((await keymat(['outbox', '--state-dir', dir, '--json'])).stdout);
    expect(outbox).toContainEqual(
      expect.objectContaining({
        subject: 'keymat approval needed: CHG-100',
        attributes: expect.objectContaining({ executionId: executionArn }),
      }),
    );
  });

  it('cannot be approved by its requester', async () => {
    const r = await op('alice', 'approve', 'keymat-CHG-100');
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toBe(`keymat: the requester ${user('alice')} cannot approve their own change`);
  });

  it('is approved by a second identity and watched to SUCCEEDED with the key PendingImport', async () => {
    const approved = await op('bob', 'approve', 'keymat-CHG-100', '--comment', 'checked with the app team');
    expect(approved.code).toBe(0);
    expect(approved.stdout.trim()).toBe(`approved keymat-CHG-100 as ${user('bob')} (1 of 1 approvals)`);
    const watched = await op('bob', 'status', 'keymat-CHG-100', '--watch', '--json');
    expect(watched.code).toBe(0);
    expect(JSON.parse(watched.stdout)).toMatchObject({
      status: 'SUCCEEDED',
      location: { account: LOCAL_ACCOUNT_ID, region: DEFAULT_REGION },
      output: {
        status: 'DELETED',
        keyStateAfter: 'PendingImport',
        approvals: [
          { approver: 'arn:aws:iam::111122223333:user/bob', channel: 'cli', comment: 'checked with the app team' },
        ],
      },
    });
    expect((await kms().send(new DescribeKeyCommand({ KeyId: key.keyId }))).KeyMetadata?.KeyState).toBe(
      'PendingImport',
    );
    expect(deletesOf(key.keyArn)).toHaveLength(1);
  });

  it('refuses to approve a finished execution, with one line', async () => {
    const r = await op('bob', 'approve', 'keymat-CHG-100');
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toBe('keymat: execution keymat-CHG-100 is SUCCEEDED: there is nothing to decide');
  });

  it('prints the history of the execution', async () => {
    const r = await op('bob', 'history', 'keymat-CHG-100');
    expect(r.stdout).toMatch(/TaskScheduled/);
    expect(r.stdout).toMatch(/ExecutionSucceeded/);
  });
});

describe('a rejected change', () => {
  it('ends FAILED ApprovalRejected with no DeleteImportedKeyMaterial call, and status exits 3', async () => {
    const key = await newKey();
    await op('alice', 'start', '--key-id', key.keyArn, '--change-id', 'CHG-200', '--reason', 'retire');
    await waitForPending('keymat-CHG-200');
    const rejected = await op('bob', 'reject', 'keymat-CHG-200', '--comment', 'the app still uses it');
    expect(rejected.code).toBe(0);
    expect(rejected.stdout.trim()).toBe(`rejected keymat-CHG-200 as ${user('bob')}`);
    const watched = await op('bob', 'status', 'keymat-CHG-200', '--watch', '--json');
    expect(watched.code).toBe(3);
    expect(JSON.parse(watched.stdout)).toMatchObject({
      status: 'FAILED',
      error: 'ApprovalRejected',
      cause: 'rejected by arn:aws:iam::111122223333:user/bob (cli): the app still uses it',
    });
    expect(deletesOf(key.keyArn)).toEqual([]);
  });
});

describe('bad arguments: one line, non-zero exit, nothing changed', () => {
  const executions = async () =>
    (await sfn().send(new ListExecutionsCommand({ stateMachineArn: LOCAL_STATE_MACHINE_ARN }))).executions?.length;

  it.each([
    [['status', 'keymat-NOPE'], 1, 'keymat: no execution keymat-NOPE'],
    [['start', '--key-id', 'not-a-key', '--change-id', 'CHG-1', '--reason', 'r'], 1, 'keymat: InvalidInput: keyId'],
    [['start', '--key-id', 'alias/payroll', '--change-id', 'CHG-1', '--reason', 'r'], 1, 'keymat: AliasNotAllowed'],
    [
      ['start', '--key-id', '1234abcd-12ab-34cd-56ef-1234567890ab', '--reason', 'r'],
      2,
      "required option '--change-id <id>' not specified",
    ],
    [['reject', 'keymat-CHG-100'], 2, "required option '--comment <text>' not specified"],
    [
      [
        'start',
        '--key-id',
        '1234abcd-12ab-34cd-56ef-1234567890ab',
        '--change-id',
        'CHG-1',
        '--reason',
        'r',
        '--requested-by',
        'x',
      ],
      2,
      "unknown option '--requested-by'",
    ],
  ])('%j exits %i', async (args, code, message) => {
    const before = await executions();
    const r = await op('alice', ...(args as string[]));
    expect(r.code).toBe(code);
    expect(r.stderr).toContain(message);
    expect(r.stderr.trim().split('\n')[0]).toContain(message.split(':')[0]!);
    expect(await executions()).toBe(before);
  });
});

describe('the wire protocol', () => {
  it("the SDK's own SFNClient starts and describes an execution; unattested, it fails StartNotAttested", async () => {
    const key = await newKey();
    const start = new StartExecutionCommand({
      stateMachineArn: LOCAL_STATE_MACHINE_ARN,
      name: 'sdk-dry-run',
      input: JSON.stringify({
        keyId: key.keyArn,
        changeId: 'CHG-SDK',
        reason: 'sdk',
        requestedBy: 'carol',
        dryRun: true,
      }),
    });
    // Operators start changes through the gateway: StartExecution is keymat's own, as IAM keeps it on AWS.
    const denied = await errorOf(() => sfn().send(start));
    expect(denied.name).toBe('AccessDeniedException');
    const started = await keymatSfnClient(endpoint, dir).send(start);
    let described;
    for (let i = 0; i < 50; i++) {
      described = await sfn().send(new DescribeExecutionCommand({ executionArn: started.executionArn }));
      if (described.status !== 'RUNNING') break;
      await new Promise((r) => setTimeout(r, 100));
    }
    // A raw StartExecution names whatever requester it likes: only the gateway's attested starts are taken.
    expect(described).toMatchObject({ status: 'FAILED', error: 'StartNotAttested' });
    expect(described?.startDate).toBeInstanceOf(Date);
  });

  it('the AWS CLI describes an execution with --endpoint-url', async () => {
    const r = await run(
      'aws',
      [
        'stepfunctions',
        'describe-execution',
        '--execution-arn',
        executionArnOf(LOCAL_STATE_MACHINE_ARN, 'keymat-CHG-100'),
        '--endpoint-url',
        endpoint,
        '--output',
        'json',
      ],
      {
        ...as('dave'),
        AWS_DEFAULT_REGION: 'us-east-1',
        // A file that does not exist: some AWS CLI versions cannot parse /dev/null as a config file.
        AWS_CONFIG_FILE: join(dir, 'no-aws-config'),
        AWS_SHARED_CREDENTIALS_FILE: join(dir, 'no-aws-credentials'),
        AWS_PAGER: '',
      },
    );
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout)).toMatchObject({ status: 'SUCCEEDED', name: 'keymat-CHG-100' });
  });
});

describe('text from outside on the terminal', () => {
  const forged = 'fine\u001b[2K\rSUCCEEDED\n';

  it('status and history show a cause with control characters escaped, and --json keeps it as it is', async () => {
    const key = await newKey();
    await op('alice', 'start', '--key-id', key.keyArn, '--change-id', 'CHG-500', '--reason', 'retire');
    await waitForPending('keymat-CHG-500');
    // Written straight to Step Functions, as a holder of states:SendTaskFailure could: the gateway would clean it.
    const task = await new ChangeClient({
      sfn: sfnCall(sfn()),
      stateMachineArn: LOCAL_STATE_MACHINE_ARN,
    }).pendingApproval('keymat-CHG-500');
    await keymatSfnClient(endpoint, dir).send(
      new SendTaskFailureCommand({ taskToken: task!.taskToken, error: 'ApprovalRejected', cause: forged }),
    );
    const escaped = 'fine\\u001b[2K\\u000dSUCCEEDED\\u000a';

    const status = await op('bob', 'status', 'keymat-CHG-500', '--watch');
    expect(status.code).toBe(3);
    expect(status.stdout).not.toContain('\u001b');
    expect(status.stdout).not.toContain('\r');
    expect(status.stdout).toContain(`cause: ${escaped}`);

    const history = await op('bob', 'history', 'keymat-CHG-500');
    expect(history.code).toBe(0);
    expect(history.stdout).not.toContain('\u001b');
    expect(history.stdout).not.toContain('\r');
    expect(history.stdout).toContain(`ApprovalRejected: ${escaped}`);

    const json = await op('bob', 'status', 'keymat-CHG-500', '--json');
    expect(json.stdout).not.toContain('\u001b');
    expect(JSON.parse(json.stdout)).toMatchObject({ status: 'FAILED', cause: forged });
  });
});

describe('a restart of the server', () => {
  it('keeps finished executions and marks one that waited for approval as lost, with nothing deleted', async () => {
    const key = await newKey();
    await op('alice', 'start', '--key-id', key.keyArn, '--change-id', 'CHG-300', '--reason', 'retire');
    await waitForPending('keymat-CHG-300');
    await server.stop();
    await startServer();
    const lost = await op('bob', 'status', 'keymat-CHG-300', '--json');
    expect(lost.code).toBe(3);
    expect(JSON.parse(lost.stdout)).toMatchObject({
      status: 'ABORTED',
      error: 'LocalStackRestarted',
      cause: expect.stringContaining('at RequestApproval'),
    });
    const finished = JSON.parse((await op('bob', 'status', 'keymat-CHG-100', '--json')).stdout);
    expect(finished.status).toBe('SUCCEEDED');
    const approveLost = await op('bob', 'approve', 'keymat-CHG-300');
    expect(approveLost.stderr).toContain('is ABORTED: there is nothing to decide');
    expect(deletesOf(key.keyArn)).toEqual([]);
  }, 60_000);
});
