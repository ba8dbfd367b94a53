import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run, type CliResult } from '../../helpers/run-cli';

/**
 * keymat as a user gets it: the package packed from the build (dist/, as `npm pack` and `npm publish` ship it),
 * installed globally into a temporary prefix, and run from an empty folder outside the checkout; then a CDK app
 * outside the repository that imports the construct library. The install fetches the runtime dependencies from the
 * npm registry (or its cache).
 */
const ROOT = join(__dirname, '..', '..', '..');
const work = mkdtempSync(join(tmpdir(), 'keymat-install-'));
const prefix = join(work, 'prefix');
const empty = join(work, 'empty');
const bin = join(prefix, 'bin', 'keymat');
const installed = join(prefix, 'lib', 'node_modules', 'keymat');

const npm = (args: string[], cwd: string): Promise<CliResult> =>
  run('sh', ['-c', `cd "${cwd}" && npm ${args.join(' ')}`], { npm_config_fund: 'false', npm_config_audit: 'false' });
const keymat = (args: string[]): Promise<CliResult> =>
  run('sh', ['-c', `cd "${empty}" && "${bin}" ${args.map((a) => `'${a}'`).join(' ')}`]);

beforeAll(async () => {
  mkdirSync(empty);
  // Packed as built: `npm pack` would run `prepare` (the build) again, while other suites read dist/.
  const packed = await npm(['pack', '--ignore-scripts', '--json', '--pack-destination', work], ROOT);
  expect(packed.code).toBe(0);
  const [{ filename }] = JSON.parse(packed.stdout) as [{ filename: string }];
  // The runtime dependencies come from the npm cache that `npm ci` filled, where it has them.
  const install = await npm(['install', '-g', '--prefer-offline', '--prefix', prefix, join(work, filename)], work);
  expect(install.stderr).not.toMatch(/npm error/);
  expect(install.code).toBe(0);
}, 240_000);

afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('the installed package', () => {
  it('ships dist/ and the README only, without the CDK, esbuild, tsx or TypeScript', () => {
    expect(existsSync(join(installed, 'dist', 'cli', 'keymat.mjs'))).toBe(true);
    expect(existsSync(join(installed, 'dist', 'functions', 'delete-material', 'index.mjs'))).toBe(true);
    for (const absent of ['cli', 'core', 'test', 'infra', 'local', 'tsconfig.json', 'eslint.config.js']) {
      expect(existsSync(join(installed, absent))).toBe(false);
    }
    for (const dependency of ['aws-cdk-lib', 'constructs', 'esbuild', 'tsx', 'typescript']) {
      expect(existsSync(join(installed, 'node_modules', dependency))).toBe(false);
    }
  });

  it("installs every package its typings import but aws-cdk-lib and constructs, the CDK app's own", () => {
    const types = join(installed, 'dist', 'types');
    const imported = readdirSync(types, { recursive: true, encoding: 'utf8' })
      .filter((file) => file.endsWith('.d.ts'))
      .flatMap((file) =>
        [...readFileSync(join(types, file), 'utf8').matchAll(/(?:from |import\()['"]([^.'"][^'"]*)['"]/g)].map(
          ([, specifier]) => specifier as string,
        ),
      );
    const packages = new Set(imported.map((specifier) => /^(?:@[^/]+\/)?[^/]+/.exec(specifier)?.[0] as string));
    const missing = [...packages].filter(
      (name) => !['aws-cdk-lib', 'constructs'].includes(name) && !existsSync(join(installed, 'node_modules', name)),
    );
    expect(packages.size).toBeGreaterThan(2);
    expect(missing).toEqual([]);
  });

  it('prints its version', async () => {
    const r = await keymat(['--version']);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe(require('../../../package.json').version);
  });

  it('creates a key and runs a change to SUCCEEDED from an empty folder, its state in ./.keymat', async () => {
    const created = await keymat(['local', 'kms', 'create-key', '--json']);
    expect(created.code).toBe(0);
    const { keyArn } = JSON.parse(created.stdout) as { keyArn: string };
    const r = await keymat([
      'local',
      'run',
      '--key-id',
      keyArn,
      '--change-id',
      'CHG-1',
      '--reason',
      'retire',
      '--requested-by',
      'alice',
      '--approve',
      'auto',
      // Nobody proves recovery here: the approver confirms that the deletion may be irreversible.
      '--irreversible',
      '--wait-seconds',
      '0',
      '--json',
    ]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ status: 'SUCCEEDED', output: { status: 'DELETED' } });
    expect(existsSync(join(empty, '.keymat'))).toBe(true);
  });

  it('runs the demo', async () => {
    const r = await keymat(['demo', '--state-dir', join(work, 'demo-state')]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Recovery');
  });
});

describe('keymat/cdk in a CDK app outside the repository', () => {
  it('synthesizes the whole stack and the workflow alone, type-checked against the shipped typings', async () => {
    const app = join(work, 'app');
    mkdirSync(join(app, 'node_modules'), { recursive: true });
    // The app's own CDK (the peer dependencies, linked from this checkout), and keymat as installed above, copied:
    // a link would resolve keymat's own requires from the global prefix, where no CDK is.
    for (const name of ['aws-cdk-lib', 'constructs']) {
      symlinkSync(join(ROOT, 'node_modules', name), join(app, 'node_modules', name));
    }
    cpSync(installed, join(app, 'node_modules', 'keymat'), { recursive: true, verbatimSymlinks: true });
    writeFileSync(
      join(app, 'main.ts'),
      `import { App, Duration, Stack } from 'aws-cdk-lib';
import { DeletionWorkflow, KeymatFunction, KeymatStack, TASK_STATES } from 'keymat/cdk';

const app = new App({ outdir: 'cdk.out' });
new KeymatStack(app, 'Keymat', { approvers: ['arn:aws:iam::111122223333:role/KeyApprovers'] });
const alone = new Stack(app, 'WorkflowAlone');
const [ValidateOrigin, CheckState, ProveRecovery, RequestApproval, DeleteMaterial, VerifyPendingImport, NotifyOutcome] = TASK_STATES.map(
  (name) =>
    new KeymatFunction(alone, name, {
      config: {
        scope: { account: '111122223333' }, defaultWaitSeconds: 30, recentUseDays: 30,
        attestationKeyArn: 'arn:aws:kms:us-east-1:111122223333:key/1', approvalTopicArn: 'arn:aws:sns:us-east-1:111122223333:a',
        outcomeTopicArn: 'arn:aws:sns:us-east-1:111122223333:o',
      } as never,
    }).fn,
);
new DeletionWorkflow(alone, 'Workflow', {
  functions: { ValidateOrigin, CheckState, ProveRecovery, RequestApproval, DeleteMaterial, VerifyPendingImport, NotifyOutcome },
  approvalTimeout: Duration.hours(1),
});
const assembly = app.synth();
for (const stack of assembly.stacks) {
  const types = Object.values(stack.template.Resources as Record<string, { Type: string }>).map((r) => r.Type);
  console.log(stack.stackName, types.filter((t) => t === 'AWS::StepFunctions::StateMachine').length, types.filter((t) => t === 'AWS::Lambda::Function').length);
}
`,
    );
    writeFileSync(
      join(app, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'ES2022',
          module: 'node16',
          moduleResolution: 'node16',
          strict: true,
          skipLibCheck: true,
          types: [],
          outDir: '.',
        },
        files: ['main.ts'],
      }),
    );
    const tsc = await run(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', join(app, 'tsconfig.json')]);
    expect(tsc.stdout).toBe('');
    expect(tsc.code).toBe(0);
    const synth = await run('sh', ['-c', `cd "${app}" && "${process.execPath}" main.js`]);
    expect(synth.stderr).toBe('');
    expect(synth.code).toBe(0);
    expect(synth.stdout.trim().split('\n')).toEqual(['Keymat 1 10', 'WorkflowAlone 1 7']);
  }, 120_000);
});
