import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalStack } from '../../../local/services/server';
import { prepareWorkflow } from '../../../local/workflow/workflow';
import { keymatInProcess } from '../../helpers/run-cli';
import { printTable } from '../../helpers/table';

/**
 * The bad-input corpus, part 2: malformed CLI arguments against the served local stack, through its gateway. Each
 * gets one line naming the option or field and a non-zero exit; no execution starts and no KMS call is made. The
 * keymat program runs in-process (the built CLI's refusals are the operator and local-run suites'), one case after
 * another.
 */
let dir: string;
let stack: LocalStack;
const rows: string[][] = [];
const KEY = 'arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab';

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'keymat-badcli-'));
  stack = await LocalStack.start({
    stateDir: dir,
    workflow: (endpoint) => prepareWorkflow(endpoint, { recoveryProof: 'off', approvalTimeoutSeconds: 60 }),
  });
}, 60_000);
afterAll(async () => {
  printTable('Bad-input corpus: CLI arguments', ['arguments', 'exit', 'first line of stderr'], rows);
  await stack.close();
  rmSync(dir, { recursive: true, force: true });
});

const start = (...args: string[]) => ['start', '--key-id', KEY, '--change-id', 'CHG-1', '--reason', 'retire', ...args];
/** 2: the argument parser refused the usage; 1: keymat refused the value. */
const usage = (mentions: string) =>
  /required option|--wait-seconds|unknown option|missing required argument/.test(mentions);
const CASES: [string[], string][] = [
  [['start', '--change-id', 'CHG-1', '--reason', 'r'], "required option '--key-id <id>'"],
  [['start', '--key-id', KEY, '--reason', 'r'], "required option '--change-id <id>'"],
  [['start', '--key-id', KEY, '--change-id', 'CHG-1'], "required option '--reason <text>'"],
  [['start', '--key-id', '', '--change-id', 'CHG-1', '--reason', 'r'], 'keyId'],
  [['start', '--key-id', 'alias/payroll', '--change-id', 'CHG-1', '--reason', 'r'], 'AliasNotAllowed'],
  [['start', '--key-id', 'arn:aws:s3:::bucket', '--change-id', 'CHG-1', '--reason', 'r'], 'keyId'],
  [
    ['start', '--key-id', KEY.replace('us-east-1', 'eu-west-1'), '--change-id', 'CHG-1', '--reason', 'r'],
    'KeyNotInThisAccountOrRegion',
  ],
  [
    ['start', '--key-id', KEY.replace('111122223333', '444455556666'), '--change-id', 'CHG-1', '--reason', 'r'],
    'KeyNotInThisAccountOrRegion',
  ],
  [start('--key-material-id', 'ABC'), 'keyMaterialId'],
  [start('--key-material-id', 'A'.repeat(64)), 'keyMaterialId'],
  [['start', '--key-id', KEY, '--change-id', 'CHG 1', '--reason', 'r'], 'changeId'],
  [['start', '--key-id', KEY, '--change-id', 'x'.repeat(65), '--reason', 'r'], 'changeId'],
  [['start', '--key-id', KEY, '--change-id', '"><script>', '--reason', 'r'], 'changeId'],
  [['start', '--key-id', KEY, '--change-id', 'CHG-1', '--reason', ' '], 'reason'],
  [['start', '--key-id', KEY, '--change-id', 'CHG-1', '--reason', 'ok\u202eevil'], 'reason'],
  // The requester is whoever signs the request: there is no option to name another.
  [start('--requested-by', 'alice\nbob'), "unknown option '--requested-by'"],
  [start('--wait-seconds', '-1'), '--wait-seconds'],
  [start('--wait-seconds', 'soon'), '--wait-seconds'],
  [start('--wait-seconds', '3601'), '--wait-seconds'],
  [start('--approve-now'), "unknown option '--approve-now'"],
  [['approve', 'keymat-NOPE'], 'no execution keymat-NOPE'],
  [['approve', 'arn:aws:states:us-east-1:111122223333:execution:other:x'], 'no execution'],
  [['reject', 'keymat-NOPE'], "required option '--comment <text>'"],
  [['status'], "missing required argument 'execution'"],
];

it.each(CASES)('keymat %j is refused naming %s', async (args, mentions) => {
  const before = stack.requestLog.read().length;
  const r = await keymatInProcess([...args, '--local', '--state-dir', dir], {
    AWS_ACCESS_KEY_ID: 'alice',
    AWS_SECRET_ACCESS_KEY: 'x',
  });
  const firstLine = r.stderr.trim().split('\n')[0] ?? '';
  rows.push([JSON.stringify(args).slice(0, 90), String(r.code), firstLine.slice(0, 110)]);
  expect(r.code).toBe(usage(mentions) ? 2 : 1);
  expect(firstLine).toContain(mentions);
  const calls = stack.requestLog.read().slice(before);
  expect(calls.filter((c) => c.operation === 'StartExecution' && c.status === 200)).toEqual([]);
  expect(calls.filter((c) => c.service === 'kms')).toEqual([]);
});
