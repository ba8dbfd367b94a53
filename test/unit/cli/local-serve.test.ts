import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { localServeCommand } from '../../../cli/commands/local-serve';
import { localTarget, reject, startChange } from '../../../cli/operations';
import { EXIT, type CliIo } from '../../../cli/output';
import { runKeymat } from '../../../cli/program';
import { createExternalKey, localKmsClient } from '../../../local/kms/byok';
import type { LocalStack } from '../../../local/services/server';
import { memberRoles } from '../../../local/services/member-roles';
import { addAccount, addOrganizationalUnit, initOrganization } from '../../../local/state/organization';
import { errorOf } from '../../helpers/local-stack';
import { waitFor } from '../../helpers/changes';

/** `keymat local serve`'s settings are checked as they are parsed: a bad one is one line, and nothing starts. */
let dir: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'keymat-serve-options-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function io(): CliIo & { output: () => string; errors: () => string } {
  const out: string[] = [];
  const err: string[] = [];
  return {
    write: (t) => void out.push(t),
    writeError: (t) => void err.push(t),
    env: {},
    exitCode: EXIT.ok,
    output: () => out.join(''),
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

it('refuses --members naming a file that is not there, naming the option and the path', async () => {
  const stateDir = join(dir, 'state');
  const missing = join(dir, 'nope.json');
  const cli = io();
  expect(await runKeymat(['local', 'serve', '--state-dir', stateDir, '--members', missing], cli)).toBe(EXIT.usage);
  expect(cli.errors()).toContain(
    `error: option '--members <file>' argument '${missing}' is invalid. --members must name a JSON file; '${missing}': ENOENT`,
  );
  expect(existsSync(stateDir)).toBe(false);
});

describe('keymat local serve --members', () => {
  const ORGANIZATION_ID = 'o-a1b2c3d4e5';
  const MEMBER = '444455556666';
  const REGION = 'eu-west-1';
  const alice = { accessKeyId: 'alice', secretAccessKey: 'local' };

  /** Serves the folder with `args`, runs `use` on the served stack, then closes it; resolves with what it printed. */
  async function served(stateDir: string, args: string[], use: (stack: LocalStack) => Promise<void>) {
    const cli = io();
    const command = localServeCommand(cli, async (stack) => {
      try {
        await use(stack);
      } finally {
        await stack.close();
      }
    });
    await command.parseAsync(['--state-dir', stateDir, '--recovery-proof', 'off', ...args], { from: 'user' });
    return cli.output();
  }

  it("takes a change on a member account's key (the hub's members JSON, in a cdk.json), which a stack without members refuses", async () => {
    const stateDir = join(dir, 'organisation');
    initOrganization(stateDir, { organizationId: ORGANIZATION_ID, roles: () => [] });
    const production = addOrganizationalUnit(stateDir, { name: 'Production' }).id;
    addAccount(stateDir, { id: MEMBER, name: 'payments-prod', parentId: production, roles: memberRoles });
    const cdkJson = join(dir, 'cdk.json');
    writeFileSync(
      cdkJson,
      JSON.stringify({
        app: 'npx tsx infra/app.ts',
        context: { members: { organizationId: ORGANIZATION_ID, regions: [REGION] } },
      }),
    );
    let keyArn = '';
    const request = () => ({ keyId: keyArn, changeId: 'CHG-MEMBERS', reason: 'retire member key' });

    await served(stateDir, [], async (stack) => {
      keyArn = (
        await createExternalKey(localKmsClient(stack.endpoint, REGION, MEMBER), { materialDir: join(dir, 'byok') })
      ).keyArn;
      const refused = await errorOf(() => startChange(localTarget(stateDir, alice), request()));
      expect(refused.message).toBe(
        `KeyNotInThisAccountOrRegion: keyId ${keyArn} is in account ${MEMBER} and Region ${REGION}; this workflow deletes only in account 111122223333, Region us-east-1`,
      );
    });

    const printed = await served(stateDir, ['--members', cdkJson], async () => {
      const target = localTarget(stateDir, alice);
      const { executionArn } = await startChange(target, request());
      // ValidateOrigin passed: the change went on to read the key's state.
      await waitFor(
        async () => ((await target.changes.status(executionArn)).entered.includes('CheckState') ? true : undefined),
        'CheckState entered',
      );
      await waitFor(async () => (await target.changes.status(executionArn)).approval?.pending || undefined, 'approval');
      await reject(target, executionArn, 'test over');
    });
    expect(printed).toContain(`  keys: the hub's, and those of every account of ${ORGANIZATION_ID}, in ${REGION}\n`);
  });
});
