import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EXIT } from '../../../cli/output';
import { LocalStack } from '../../../local/services/server';
import { keymatInProcess } from '../../helpers/run-cli';

/**
 * A `--state-dir` that names no local stack's state folder (mistyped, a file, an empty folder) is refused by the
 * commands that read one, in one line naming the folder, rather than read as an empty stack.
 */
let dir: string;
let missing: string;
let file: string;
let empty: string;
let stopped: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'keymat-state-folder-'));
  missing = join(dir, 'nonexistent');
  file = join(dir, 'a-file');
  writeFileSync(file, 'not a folder');
  empty = join(dir, 'empty');
  mkdirSync(empty);
  stopped = join(dir, 'stopped');
  await (await LocalStack.start({ stateDir: stopped })).close();
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const refusals = () => ({
  missing: `keymat: state folder ${missing} does not exist: check --state-dir, or start a stack with: keymat local serve --state-dir ${missing}\n`,
  file: `keymat: ${file} is a file, not a state folder: --state-dir names the folder of a local stack\n`,
  empty: `keymat: ${empty} holds no local stack's state (no state.db): check --state-dir, or start a stack with: keymat local serve --state-dir ${empty}\n`,
});

describe.each([
  ['outbox', []],
  ['outbox', ['--events']],
  ['status', ['--local', 'keymat-CHG-1']],
  ['pending', ['--local']],
  ['org', ['doctor', '--local']],
])('keymat %s %s', (command, args) => {
  it.each(['missing', 'file', 'empty'] as const)('refuses a %s --state-dir in one line naming it', async (which) => {
    const stateDir = { missing, file, empty }[which];
    const r = await keymatInProcess([command, ...args, '--state-dir', stateDir]);
    expect(r).toEqual({ code: EXIT.failed, stdout: '', stderr: refusals()[which] });
  });
});

it('keymat scan --org --local refuses a missing folder and a file, and an empty one as one without an organisation', async () => {
  const scan = (stateDir: string) =>
    keymatInProcess(['scan', '--org', '--local', '--regions', 'eu-west-1', '--state-dir', stateDir]);
  expect(await scan(missing)).toEqual({ code: EXIT.failed, stdout: '', stderr: refusals().missing });
  expect(await scan(file)).toEqual({ code: EXIT.failed, stdout: '', stderr: refusals().file });
  expect((await scan(empty)).stderr).toBe(
    `keymat: no organisation in ${empty}: run keymat local org init --organization-id o-… first\n`,
  );
});

it('keymat outbox says there is no message in a state folder that has none', async () => {
  expect(await keymatInProcess(['outbox', '--state-dir', stopped])).toEqual({
    code: EXIT.ok,
    stdout: `no message in ${stopped}\n`,
    stderr: '',
  });
});

it('keymat status --local says no stack serves a state folder whose stack stopped', async () => {
  expect(await keymatInProcess(['status', '--local', 'keymat-CHG-1', '--state-dir', stopped])).toEqual({
    code: EXIT.failed,
    stdout: '',
    stderr: `keymat: no local stack is serving ${stopped}: start one with: keymat local serve --state-dir ${stopped}\n`,
  });
});

it('keymat demo --org refuses a --state-dir that is a file, saying it is not a folder', async () => {
  expect(await keymatInProcess(['demo', '--org', '--state-dir', file])).toEqual({
    code: EXIT.failed,
    stdout: '',
    stderr: `keymat: ${file} is a file, not a folder: give keymat demo a folder as --state-dir (a missing one is made)\n`,
  });
});

it("prints a served folder's refusal to a second stack as its message alone, without the error's class name", async () => {
  const served = join(dir, 'served');
  const stack = await LocalStack.start({ stateDir: served });
  try {
    const r = await keymatInProcess(['local', 'serve', '--state-dir', served]);
    expect(r.code).toBe(EXIT.failed);
    expect(r.stderr).toMatch(
      new RegExp(
        `^keymat: state folder ${served} is already served by keymat \\(.+\\); stop it or use another --state-dir\\n$`,
      ),
    );
  } finally {
    await stack.close();
  }
});
