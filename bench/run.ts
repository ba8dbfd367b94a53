/**
 * `npm run bench`: bundle size and start-up per function as it deploys, against a reference bundle of the same SDK
 * clients (bench/load.ts), local execution wall time and where it goes, the cost of one execution at published
 * prices, the expiry scan's pace, and the fleet scan over a simulated organisation (`npm run bench -- --fleet` runs
 * that alone). Prints the tables and writes them into bench/README.md, the only place the figures live.
 */
import { execFileSync, spawn } from 'node:child_process';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { scan } from '../functions/expiry-scan/scan';
import { createKmsClient } from '../functions/runtime/aws';
import { DEFAULT_SCAN_LIMITS } from '../infra/config';
import { localApprover } from '../local/workflow/approver';
import { createExternalKey, localKmsClient } from '../local/kms/byok';
import { emptyKmsState, type KmsState } from '../local/kms/model';
import { benchKey } from './keys';
import { readRequestLog } from '../local/state/store';
import { LocalStack } from '../local/services/server';
import { seedKmsState } from '../local/state/store';
import { localDefinition } from '../local/workflow/definition';
import { type LocalRunResult, openLocalWorkflow } from '../local/workflow/workflow';
import { fleetBench } from './fleet';
import { LOAD_SAMPLES, measureLoads, withDeployedFunctions } from './load';
import { DEFAULT_REGION, LOCAL_ACCOUNT_ID, LOCAL_CREDENTIALS } from '../local/constants';

const RUNS = 50;
const SCAN_KEYS = 10_000;
const SCAN_EXTERNAL_KEYS = 100;
/**
 * The DescribeKey quota the emulator enforces, and the scan's configured rate below it. KMS's default is 2,000/s, but
 * this 2-core machine serves about 1,000 DescribeKey/s in all (client and emulator together): 500/s keeps the
 * quota, not the machine, the limit being measured.
 */
const DESCRIBE_KEY_QUOTA = 500;
const DESCRIBE_KEY_RATE = 475;
/** The start-up target: keymat's own cost, each function's load less its reference bundle's. */
const LOAD_TARGET_MS = 20;

/** Published list prices, US East (N. Virginia). */
const PRICE = {
  transition: 0.025 / 1000, // Step Functions Standard, per state transition
  lambdaRequest: 0.2 / 1_000_000,
  lambdaArmGbSecond: 0.0000133334,
  kmsRequest: 0.03 / 10_000,
  snsPublish: 0.5 / 1_000_000,
};
const MEMORY_GB = 256 / 1024;

const median = (xs: number[]) => quantile(xs, 0.5);
function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)] ?? NaN;
}

/** Median time of `node ARGS` in a clean environment of only these variables. */
function timeNode(args: string[], env: Record<string, string>): number {
  const samples: number[] = [];
  for (let i = 0; i < LOAD_SAMPLES; i++) {
    const t = process.hrtime.bigint();
    execFileSync(process.execPath, args, { env, stdio: 'ignore' });
    samples.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  return median(samples);
}

/**
 * Each deployed function's start-up: the bundle from the synthesized template, loaded with the template's own
 * environment, against its reference bundle (Powertools Logger and the same SDK clients) and against bare Node.
 */
async function bundles(): Promise<string[][]> {
  const rows: string[][] = [];
  for (const f of await withDeployedFunctions(measureLoads)) {
    rows.push([
      f.name,
      f.clients.join(', ') || '(none)',
      `${(f.bytes / 1024).toFixed(0)} KB`,
      `${(f.referenceBytes / 1024).toFixed(0)} KB`,
      `${f.loadMs.toFixed(1)} ms`,
      `${f.referenceMs.toFixed(1)} ms`,
      `${f.overMs >= 0 ? '+' : ''}${f.overMs.toFixed(1)} ms${f.overMs <= LOAD_TARGET_MS ? '' : ' (over target)'}`,
      `+${f.overBareMs.toFixed(1)} ms`,
      `${(f.rssBytes / 1024 / 1024).toFixed(0)} MB`,
    ]);
  }
  return rows;
}

/** Bytes under a folder, following no links (what the installed package occupies). */
function footprint(dir: string): number {
  return Number(execFileSync('du', ['-sb', dir], { encoding: 'utf8' }).split('\t')[0]);
}

/** Runs of `keymat local run` timed by `localRunMs`. */
const LOCAL_RUN_SAMPLES = 5;

/**
 * `keymat local run --approve auto` to SUCCEEDED as a user starts it, a fresh process each time (the engine loads with
 * the first execution), on a key made for it by `keymat local kms create-key` (not timed); wall time, median. A run
 * that does not succeed fails the bench.
 */
function localRunMs(cli: string): number {
  const state = mkdtempSync(join(tmpdir(), 'keymat-bench-run-'));
  try {
    const samples: number[] = [];
    for (let i = 0; i < LOCAL_RUN_SAMPLES; i++) {
      const created = execFileSync(process.execPath, [cli, 'local', 'kms', 'create-key', '--state-dir', state], {
        env: {},
        encoding: 'utf8',
      });
      const keyArn = created.split('\n')[0] as string;
      const run = ['local', 'run', '--state-dir', state, '--key-id', keyArn, '--change-id', `CHG-${i}`];
      const t = process.hrtime.bigint();
      execFileSync(
        process.execPath,
        // No custodian proves recovery here: the approver confirms the deletion may be irreversible.
        [
          cli,
          ...run,
          ...['--reason', 'bench', '--requested-by', 'alice', '--approve', 'auto', '--irreversible'],
          ...['--wait-seconds', '0'],
        ],
        { env: {}, stdio: 'ignore' },
      );
      samples.push(Number(process.hrtime.bigint() - t) / 1e6);
    }
    return median(samples);
  } finally {
    rmSync(state, { recursive: true, force: true });
  }
}

/**
 * The CLI as an operator gets it: `keymat --help` time (median of 15, the built CLI), a whole local run, and the
 * footprint of the packed package installed globally into a temporary prefix (its runtime dependencies fetched by npm).
 */
function packageRows(): string[][] {
  const root = join(__dirname, '..');
  const cli = join(root, 'dist', 'cli', 'keymat.mjs');
  const help = timeNode([cli, '--help'], {});
  const localRun = localRunMs(cli);
  const work = mkdtempSync(join(tmpdir(), 'keymat-bench-'));
  try {
    const packed = JSON.parse(
      execFileSync('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', work], {
        cwd: root,
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'ignore'],
      }),
    ) as [{ filename: string; size: number }];
    const [{ filename, size }] = packed;
    const prefix = join(work, 'prefix');
    execFileSync('npm', ['install', '-g', '--no-audit', '--no-fund', '--prefix', prefix, join(work, filename)], {
      stdio: 'ignore',
    });
    const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MB`;
    return [
      [`\`keymat --help\` (median of ${LOAD_SAMPLES})`, `${help.toFixed(0)} ms`],
      [
        `\`keymat local run --approve auto\` to SUCCEEDED, a fresh process (median of ${LOCAL_RUN_SAMPLES})`,
        `${localRun.toFixed(0)} ms`,
      ],
      ['tarball', mb(size)],
      ['installed footprint (npm install -g)', mb(footprint(prefix))],
    ];
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** Per execution: wall time, time inside the task handlers, and time in HTTP requests to the local stack, in ms. */
interface ExecutionTimes {
  wall: number[];
  tasks: number[];
  http: number[];
  /** Each run's GetImportParameters: the local KMS making an RSA-4096 wrapping key pair for the offered proof. */
  importParameters: number[];
  /** SNS messages published per execution. */
  publishes: number;
  sample: LocalRunResult;
}

/** The states that invoke a function: every Task state of the default definition (the proof's included). */
const LAMBDA_STATES: ReadonlySet<string> = new Set(
  Object.entries((localDefinition() as { States: Record<string, { Type: string }> }).States)
    .filter(([, state]) => state.Type === 'Task')
    .map(([name]) => name),
);

/**
 * Times every HTTP request this process makes (the handlers' SDK calls to the local stack) through Node's HTTP
 * diagnostics channels, and returns a function reading the total so far.
 */
function httpClock(): { total: () => number; stop: () => void } {
  const started = new WeakMap<object, bigint>();
  let total = 0n;
  const onStart = (message: unknown) => started.set((message as { request: object }).request, process.hrtime.bigint());
  const onFinish = (message: unknown) => {
    const t = started.get((message as { request: object }).request);
    if (t !== undefined) total += process.hrtime.bigint() - t;
  };
  subscribe('http.client.request.start', onStart);
  subscribe('http.client.response.finish', onFinish);
  return {
    total: () => Number(total) / 1e6,
    stop: () => {
      unsubscribe('http.client.request.start', onStart);
      unsubscribe('http.client.response.finish', onFinish);
    },
  };
}

async function executions(): Promise<ExecutionTimes> {
  const dir = mkdtempSync(join(tmpdir(), 'keymat-bench-'));
  const stack = await LocalStack.start({ stateDir: dir });
  const clock = httpClock();
  try {
    const workflow = await openLocalWorkflow({ stateDir: dir, approvalTimeoutSeconds: 3600 });
    const kms = localKmsClient(stack.endpoint);
    const times: Omit<ExecutionTimes, 'sample' | 'publishes'> = { wall: [], tasks: [], http: [], importParameters: [] };
    let sample: LocalRunResult | undefined;
    for (let i = 0; i < RUNS; i++) {
      const key = await createExternalKey(kms, { materialDir: join(dir, 'byok') });
      const started = process.hrtime.bigint();
      const httpBefore = clock.total();
      const entered = new Map<string, number>();
      let taskTotal = 0;
      const result = await workflow.run(
        { keyId: key.keyArn, changeId: `BENCH-${i}`, reason: 'bench', requestedBy: 'alice', waitSeconds: 0 },
        {
          decide: localApprover('auto', 'bob', { irreversible: true }),
          waitMs: 0,
          retryIntervalMs: 0,
          onEvent: (e) => {
            if (e.type === 'StateEntered' && e.state) entered.set(e.state, Date.parse(e.timestamp));
            if (e.type === 'StateExited' && e.state && LAMBDA_STATES.has(e.state)) {
              const took = Date.parse(e.timestamp) - (entered.get(e.state) ?? Date.parse(e.timestamp));
              taskTotal += took;
              if (e.state === 'GetImportParameters') times.importParameters.push(took);
            }
          },
        },
      );
      times.wall.push(Number(process.hrtime.bigint() - started) / 1e6);
      times.http.push(clock.total() - httpBefore);
      times.tasks.push(taskTotal);
      if (result.status !== 'SUCCEEDED') throw new Error(`bench run ${i} ended ${result.status} ${result.error}`);
      sample = result;
    }
    return { ...times, publishes: stack.sns.read().length / RUNS, sample: sample as LocalRunResult };
  } finally {
    clock.stop();
    await stack.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Scans an account of SCAN_KEYS keys (SCAN_EXTERNAL_KEYS of them EXTERNAL with material) on a local KMS served in
 * its own process, which enforces a DescribeKey quota. The state is written directly: creating 10,000 keys through
 * the API would take longer than the scan.
 */
async function scanBench(): Promise<string[][]> {
  const dir = mkdtempSync(join(tmpdir(), 'keymat-bench-scan-'));
  const state: KmsState = emptyKmsState();
  const now = Date.now();
  for (let i = 0; i < SCAN_KEYS; i++) {
    const external = i % (SCAN_KEYS / SCAN_EXTERNAL_KEYS) === 0; // spread through the account, as in life
    const key = external
      ? benchKey(DEFAULT_REGION, LOCAL_ACCOUNT_ID, 'EXTERNAL', now + (i % 60) * 86_400_000 + 60_000)
      : benchKey(DEFAULT_REGION, LOCAL_ACCOUNT_ID, 'AWS_KMS');
    state.keys[key.arn] = key;
  }
  seedKmsState(dir, state);
  const faults = join(dir, 'faults.json');
  writeFileSync(
    faults,
    JSON.stringify({ rules: [{ kind: 'quota', operation: 'DescribeKey', perSecond: DESCRIBE_KEY_QUOTA }] }),
  );
  const server = spawn(
    process.execPath,
    [
      join(__dirname, '..', 'dist', 'cli', 'keymat.mjs'),
      'local',
      'kms',
      'serve',
      '--state-dir',
      dir,
      '--faults',
      faults,
    ],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  try {
    const endpoint = await new Promise<string>((resolve) =>
      server.stdout.on('data', (d: Buffer) => {
        const m = /at (http:\/\/127\.0\.0\.1:\d+)/.exec(d.toString());
        if (m) resolve(m[1] as string);
      }),
    );
    // The scan's own client, as its function makes it.
    const kms = createKmsClient({ endpoint, region: DEFAULT_REGION, credentials: LOCAL_CREDENTIALS, maxAttempts: 8 });
    const started = Date.now();
    const summary = await scan(
      { kms, now: new Date(), start: async () => 'STARTED' },
      { expiresWithinDays: 30 },
      { ...DEFAULT_SCAN_LIMITS, rates: { ...DEFAULT_SCAN_LIMITS.rates, DescribeKey: DESCRIBE_KEY_RATE } },
      true,
    );
    const wall = (Date.now() - started) / 1000;
    const ideal = SCAN_KEYS / DESCRIBE_KEY_QUOTA;
    const throttled = readRequestLog(dir).filter((e) => e.error === 'ThrottlingException').length;
    return [
      ['keys scanned (EXTERNAL)', `${summary.keysListed} (${summary.externalKeys})`],
      ['materials found expiring within 30 days', String(summary.violations.length)],
      ['DescribeKey quota enforced / scan rate', `${DESCRIBE_KEY_QUOTA}/s / ${DESCRIBE_KEY_RATE}/s`],
      ['wall time', `${wall.toFixed(1)} s`],
      ['ideal (keys ÷ quota)', `${ideal.toFixed(1)} s`],
      ['ratio (target ≤ 1.2)', `${(wall / ideal).toFixed(2)}`],
      ['ThrottlingException answers (retried by the client)', String(throttled)],
    ];
  } finally {
    server.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  }
}

function table(title: string, header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join(' | ')} |`;
  return [
    `${title}`,
    '',
    line(header),
    `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`,
    ...rows.map(line),
    '',
  ].join('\n');
}

async function main(): Promise<void> {
  const scanRows = await scanBench();
  const bundleRows = await bundles();
  const cliRows = packageRows();
  const { wall, tasks, http, importParameters, publishes, sample } = await executions();
  const taskMs = median(tasks);
  const transitions = sample.history.filter((e) => e.type === 'StateEntered' || e.type === 'StateRetried').length;
  const invocations = sample.history.filter(
    (e) => (e.type === 'StateEntered' || e.type === 'StateRetried') && LAMBDA_STATES.has(e.state ?? ''),
  ).length;
  const kmsCalls = sample.kmsCalls.length;
  const snsPublishes = publishes;
  // Lambda duration billed per invocation, rounded up to 1 ms; the local task time stands in for it.
  const cost =
    transitions * PRICE.transition +
    invocations * PRICE.lambdaRequest +
    (taskMs / 1000) * MEMORY_GB * PRICE.lambdaArmGbSecond +
    kmsCalls * PRICE.kmsRequest +
    snsPublishes * PRICE.snsPublish;

  const figures = [
    `Measured by \`npm run bench\` on node ${process.version}, ${cpus().length} cores (${cpus()[0]?.model ?? 'unknown CPU'}), ${new Date().toISOString().slice(0, 10)}.`,
    '',
    table('The package (npm run build, then npm pack)', ['metric', 'value'], cliRows),
    table(
      `Functions as deployed: each asset of the synthesized template, loaded by \`node\` with the function's environment from the template (NODE_OPTIONS included) and imported as the Lambda runtime imports it. Beside each, a reference bundle built the same way from Powertools Logger and the SDK clients the function makes; keymat's own cost is the median, over ${LOAD_SAMPLES} pairs, of each load less the reference load run just before it. Target: at most ${LOAD_TARGET_MS} ms.`,
      [
        'function',
        'SDK clients',
        'JS loaded at start',
        'reference JS',
        'load',
        'reference load',
        "keymat's own cost",
        'over bare Node',
        'RSS after load',
      ],
      bundleRows,
    ),
    table(
      `Local execution (${RUNS} runs, waits and retry intervals overridden to 0)`,
      ['metric', 'value'],
      [
        ['wall time median (target ≤ 100 ms)', `${median(wall).toFixed(1)} ms`],
        [
          '  in GetImportParameters (median): the local KMS makes an RSA-4096 key pair for the offered proof',
          `${median(importParameters).toFixed(1)} ms`,
        ],
        ['wall time p95', `${quantile(wall, 0.95).toFixed(1)} ms`],
        ['  in the task handlers (median)', `${taskMs.toFixed(0)} ms`],
        ['    of which HTTP to the local stack (median)', `${median(http).toFixed(1)} ms`],
        [
          '  in the engine between tasks (median of wall − handlers)',
          `${median(wall.map((w, i) => w - (tasks[i] ?? 0))).toFixed(1)} ms`,
        ],
        ['state transitions per execution', String(transitions)],
        ['Lambda invocations per execution', String(invocations)],
        ['KMS requests per execution', String(kmsCalls)],
        ['SNS publishes per execution', String(snsPublishes)],
        ['cost per execution (US East prices, 256 MB arm64, local task time as duration)', `$${cost.toFixed(6)}`],
        ['  of which Step Functions transitions', `$${(transitions * PRICE.transition).toFixed(6)}`],
      ],
    ),
    table(
      `Expiry scan (keymat scan --dry-run logic, default concurrency, against \`keymat local kms serve\`)`,
      ['metric', 'value'],
      scanRows,
    ),
  ].join('\n');
  process.stdout.write(figures);
  await writeBenchReadme(figures);
}

/** Where the figures go: between the markers of bench/README.md, whose prose says how they are made. */
const BENCH_README = join(__dirname, 'README.md');
const FIGURES_START = '<!-- figures:start (written by npm run bench) -->';
const FIGURES_END = '<!-- figures:end -->';

async function writeBenchReadme(figures: string, startMarker = FIGURES_START, endMarker = FIGURES_END): Promise<void> {
  const text = readFileSync(BENCH_README, 'utf8');
  const start = text.indexOf(startMarker);
  const end = text.indexOf(endMarker);
  if (start < 0 || end < start) throw new Error(`${BENCH_README} has no ${startMarker} … ${endMarker} markers`);
  const written = `${text.slice(0, start + startMarker.length)}\n\n${figures}\n${text.slice(end)}`;
  // Formatted as the repository's prettier would: `npm run check` checks the file like any other.
  const prettier = await import('prettier');
  const options = { ...(await prettier.resolveConfig(BENCH_README)), filepath: BENCH_README };
  writeFileSync(BENCH_README, await prettier.format(written, options));
}

/** The fleet scan's figures: between markers of their own, so that `npm run bench -- --fleet` writes them alone. */
const FLEET_START = '<!-- fleet:start (written by npm run bench) -->';
const FLEET_END = '<!-- fleet:end -->';

async function fleet(): Promise<void> {
  const figures = [
    `Measured by \`npm run bench\` on node ${process.version}, ${cpus().length} cores (${cpus()[0]?.model ?? 'unknown CPU'}), ${new Date().toISOString().slice(0, 10)}.`,
    '',
    table(
      'Fleet scan (a dry run of `keymat scan --org` logic: the local Distributed Map against `keymat local serve`, per-account quotas enforced)',
      ['metric', 'value'],
      await fleetBench(),
    ),
  ].join('\n');
  process.stdout.write(figures);
  await writeBenchReadme(figures, FLEET_START, FLEET_END);
}

void (process.argv.includes('--fleet') ? fleet() : main().then(fleet));
