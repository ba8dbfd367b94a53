import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EXIT, type CliIo } from '../../../cli/output';
import { runKeymat } from '../../../cli/program';

/** `keymat local serve`'s settings are checked as they are parsed: a bad one is one line, and nothing starts. */
let dir: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'keymat-serve-options-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function io(): CliIo & { errors: () => string } {
  const err: string[] = [];
  return {
    write: () => undefined,
    writeError: (t) => void err.push(t),
    env: {},
    exitCode: EXIT.ok,
    errors: () => err.join(''),
  };
}

const CAROL = 'arn:aws:iam::111122223333:user/carol';
const KEY_OPS = 'arn:aws:iam::111122223333:role/KeyOps';
const KEY_OPS_ALICE = 'arn:aws:sts::111122223333:assumed-role/KeyOps/alice';

it.each([
  ['--custodians', `${CAROL},bob`, '"bob" must be a principal ARN or ARN pattern'],
  [
    '--custodians',
    `${CAROL},${CAROL.replace('carol', 'Carol')}`,
    `"${CAROL}" and "${CAROL.replace('carol', 'Carol')}" are the same principal`,
  ],
  ['--approvers', 'bob', '"bob" must be a principal ARN or ARN pattern'],
  // As a deployment without session-bound roles: a session of a role is the role, whatever its session name.
  [
    '--approvers',
    `${KEY_OPS},${KEY_OPS_ALICE}`,
    `"${KEY_OPS}" and "${KEY_OPS_ALICE}" are the same principal, "${KEY_OPS}"`,
  ],
  ['--restore-quorum', '11', '--restore-quorum must be a whole number from 1 to 10'],
  ['--restore-quorum', '0', '--restore-quorum must be a whole number from 1 to 10'],
])('refuses %s %s naming the option and the value, before the state folder is made', async (option, value, reason) => {
  const stateDir = join(dir, 'state');
  const cli = io();
  expect(await runKeymat(['local', 'serve', '--state-dir', stateDir, option, value], cli)).toBe(EXIT.usage);
  const [line] = cli.errors().split('\n');
  expect(line).toContain(`option '${option} <`);
  expect(line).toContain(`argument '${value}' is invalid`);
  expect(line).toContain(reason);
  expect(existsSync(stateDir)).toBe(false);
});
