import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
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
    // No custodian proves recovery: the approver confirms that the deletion may be irreversible.
    const r = await localRun(keyArn, 'CHG-J', '--wait-seconds', '0', '--irreversible', '--json');
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
    // What Node loads while the CLI answers --help, each written down as it loads: ES modules by a loader hook, and
    // CommonJS (a package left out of the bundle, or a built-in) by a hook on Module._load.
    const record = join(dir, 'help-loads.txt');
    const hooks = `import { appendFileSync } from 'node:fs';
      let file;
      export function initialize(data) { file = data; }
      export async function load(url, context, next) { appendFileSync(file, url + '\\n'); return next(url, context); }`;
    const preload = `import Module, { register } from 'node:module';
      import { appendFileSync } from 'node:fs';
      register('data:text/javascript,' + encodeURIComponent(${JSON.stringify(hooks)}), { data: ${JSON.stringify(record)} });
      const load = Module._load;
      Module._load = function (request, ...rest) {
        appendFileSync(${JSON.stringify(record)}, request + '\\n');
        return load.call(this, request, ...rest);
      };`;
    const result = await run(process.execPath, [
      '--import',
      `data:text/javascript,${encodeURIComponent(preload)}`,
      KEYMAT,
      '--help',
    ]);
    expect(result.stdout).toContain('Usage: keymat');
    const root = join(__dirname, '..', '..', '..');
    // A bundled module stands for the sources it was built from, which its source map names.
    const loaded = readFileSync(record, 'utf8')
      .trim()
      .split('\n')
      .flatMap((entry) => {
        if (!entry.startsWith('file:')) return [entry];
        const file = fileURLToPath(entry);
        if (!existsSync(`${file}.map`)) return [relative(root, file)];
        const { sources } = JSON.parse(readFileSync(`${file}.map`, 'utf8')) as { sources: string[] };
        return sources.map((source) => relative(root, resolve(dirname(file), source)));
      });
    expect(loaded).toContain('cli/main.ts');
    expect(loaded).toContainEqual(expect.stringMatching(/^node_modules\/commander\//));
    // local/constants.ts imports nothing: the help names the default state folder from it.
    const heavy = /^local\/(?!constants\.ts$)|zod|@aws-sdk|@smithy|better-sqlite3|aws-cdk-lib|aws-local-stepfunctions/;
    expect(loaded.filter((m) => heavy.test(m))).toEqual([]);
  });
});
