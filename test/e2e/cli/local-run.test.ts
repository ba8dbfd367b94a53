import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KEYMAT, keymat, run } from '../../helpers/run-cli';

let dir: string;
let keyArn: string;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'keymat-run-'));
  keyArn = JSON.parse((await keymat(['local', 'kms', 'create-key', '--state-dir', dir, '--json'])).stdout).keyArn;
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** `keymat local run` on the test's state folder for a change of `keyArn`, plus the case's own options. */
const localRun = (key: string, changeId: string, ...options: string[]) =>
  keymat([
    'local',
    'run',
    '--state-dir',
    dir,
    '--key-id',
    key,
    '--change-id',
    changeId,
    '--reason',
    'cli test',
    '--requested-by',
    'alice',
    ...options,
  ]);

describe('keymat local run', () => {
  it('prints each state and exits 3 on a rejected approval, with no deletion', async () => {
    const r = await localRun(keyArn, 'CHG-R', '--approve', 'reject');
    expect(r.code).toBe(3);
    expect(r.stdout).toContain('→ RequestApproval');
    expect(r.stdout).toContain('error: ApprovalRejected');
    expect(r.stdout).not.toContain('DeleteImportedKeyMaterial');
  });

  it('prints one JSON object and exits 0 when the deletion is verified', async () => {
    const r = await localRun(keyArn, 'CHG-J', '--wait-seconds', '0', '--json');
    expect(r.code).toBe(0);
    const result = JSON.parse(r.stdout);
    expect(result).toMatchObject({
      status: 'SUCCEEDED',
      output: { status: 'DELETED', keyStateAfter: 'PendingImport' },
      error: null,
    });
    expect(result.history[0]).toMatchObject({ type: 'ExecutionStarted', timestamp: expect.any(String) });
    expect(result.kmsCalls).toContainEqual({
      operation: 'DeleteImportedKeyMaterial',
      keyId: keyArn,
      status: 200,
      error: null,
    });
  });

  it('ends ApprovalTimedOut when nobody answers within --approval-timeout', async () => {
    const fresh = JSON.parse((await keymat(['local', 'kms', 'create-key', '--state-dir', dir, '--json'])).stdout);
    const r = await localRun(fresh.keyArn, 'CHG-T', '--approve', 'none', '--approval-timeout', '1', '--json');
    expect(r.code).toBe(3);
    expect(JSON.parse(r.stdout)).toMatchObject({ status: 'FAILED', error: 'ApprovalTimedOut' });
  });

  it('refuses a bad --approve value as a usage error, exit 2', async () => {
    const r = await localRun(keyArn, 'CHG-X', '--approve', 'yes');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("argument 'yes' is invalid. Allowed choices are auto, reject, none.");
  });
});

describe('keymat --help', () => {
  it('loads no schema library, SDK client, local stack or CDK: only the command line', async () => {
    // The modules the CLI requires while it answers --help, recorded by a hook on Node's loader.
    const script = `
      const Module = require('node:module');
      const load = Module._load;
      const seen = [];
      Module._load = function (request, ...rest) { seen.push(request); return load.call(this, request, ...rest); };
      process.argv = [process.argv[0], ${JSON.stringify(KEYMAT)}, '--help'];
      process.on('exit', () => process.stderr.write(JSON.stringify(seen)));
      require(${JSON.stringify(KEYMAT)});`;
    const result = await run(process.execPath, ['-e', script]);
    expect(result.stdout).toContain('Usage: keymat');
    const loaded = JSON.parse(result.stderr) as string[];
    expect(
      loaded.filter((m) => /zod|@aws-sdk|@smithy|better-sqlite3|aws-cdk-lib|aws-local-stepfunctions/.test(m)),
    ).toEqual([]);
  });
});
