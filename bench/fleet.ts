import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ScanLimits } from '../core/scan-policy';
import { DEFAULT_SCAN_LIMITS } from '../infra/config';
import { emptyKmsState, type KmsState } from '../local/kms/model';
import { benchKey } from './keys';
import { memberRoles } from '../local/services/member-roles';
import { addAccounts, addOrganizationalUnit, initOrganization } from '../local/state/organization';
import { readRequestLog, seedKmsState } from '../local/state/store';
import { runLocalFleetScan } from '../local/workflow/fleet-scan';

/**
 * The fleet scan at organisation scale, on the local stack served in its own process: ACCOUNTS member accounts ×
 * REGIONS with KEYS_PER_ITEM EXTERNAL keys each, every account and Region under its own KMS quotas, scanned by the
 * local Distributed Map at CONCURRENCY children.
 */
const ACCOUNTS = 1000;
const REGIONS = ['eu-west-1', 'us-east-1'];
const KEYS_PER_ITEM = 10;
const CONCURRENCY = 40;

/**
 * The quotas the emulator enforces in every account and Region, and the scan's rates just below them. KMS's defaults
 * are far higher (ListKeyRotations 100/s, DescribeKey 2,000/s); this 2-core machine serves a few hundred signed
 * requests a second in all, client and server together, so the quotas are lowered until each account's quota, not
 * the machine, bounds its child: what is measured is whether the fleet scan keeps every account at its quota while
 * running CONCURRENCY of them at once.
 */
const QUOTAS = { ListKeys: 1, DescribeKey: 4, ListKeyRotations: 2 } as const;
/** The calls one child makes of each (the policy reads no tags). */
const CALLS_PER_ITEM = { ListKeys: 1, DescribeKey: KEYS_PER_ITEM, ListKeyRotations: KEYS_PER_ITEM };
const LIMITS: ScanLimits = {
  ...DEFAULT_SCAN_LIMITS,
  rates: {
    ...DEFAULT_SCAN_LIMITS.rates,
    ...Object.fromEntries(Object.entries(QUOTAS).map(([op, perSecond]) => [op, perSecond * 0.95])),
  },
};

/** Published list prices, US East (N. Virginia). */
const PRICE = {
  transition: 0.025 / 1000, // Step Functions Standard, per state transition
  lambdaRequest: 0.2 / 1_000_000,
  lambdaArmGbSecond: 0.0000133334,
  kmsRequest: 0.03 / 10_000,
};
const MEMORY_GB = 256 / 1024;
const DAY_MS = 86_400_000;

const accountId = (i: number): string => String(200_000_000_000 + i);

/** The keys of every account and Region, written directly: creating 20,000 keys through the API would outlast the scan. */
function fleetKeys(): KmsState {
  const state = emptyKmsState();
  const now = Date.now();
  let n = 0;
  for (let a = 0; a < ACCOUNTS; a++) {
    for (const region of REGIONS) {
      for (let k = 0; k < KEYS_PER_ITEM; k++) {
        const key = benchKey(region, accountId(a), 'EXTERNAL', now + ((n++ % 90) + 1) * DAY_MS);
        state.keys[key.arn] = key;
      }
    }
  }
  return state;
}

/** Serves `keymat local serve` for the state folder in a process of its own, with the fault file. */
async function serve(dir: string, faults: string): Promise<{ stop: () => void }> {
  const server = spawn(
    process.execPath,
    [join(__dirname, '..', 'dist', 'cli', 'keymat.mjs'), 'local', 'serve', '--state-dir', dir, '--faults', faults],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  await new Promise<void>((resolve, reject) => {
    server.once('exit', (code) => reject(new Error(`keymat local serve exited ${code} before serving`)));
    server.stdout.on('data', (d: Buffer) => {
      if (/at http:\/\/127\.0\.0\.1:\d+/.test(d.toString())) resolve();
    });
  });
  return { stop: () => server.kill('SIGTERM') };
}

/** Runs the fleet scan over the simulated organisation once (a dry run) and returns the figures as table rows. */
export async function fleetBench(): Promise<string[][]> {
  const dir = mkdtempSync(join(tmpdir(), 'keymat-bench-fleet-'));
  try {
    const organizationId = 'o-benchfleet01';
    initOrganization(dir, { organizationId, roles: () => [] });
    const workloads = addOrganizationalUnit(dir, { name: 'Workloads' }).id;
    addAccounts(
      dir,
      Array.from({ length: ACCOUNTS }, (_, i) => ({ id: accountId(i), name: `member-${i}`, parentId: workloads })),
      memberRoles,
    );
    seedKmsState(dir, fleetKeys());
    const faults = join(dir, 'faults.json');
    writeFileSync(
      faults,
      JSON.stringify({
        rules: Object.entries(QUOTAS).map(([operation, perSecond]) => ({ kind: 'quota', operation, perSecond })),
      }),
    );
    const server = await serve(dir, faults);
    try {
      const started = performance.now();
      const run = await runLocalFleetScan({
        stateDir: dir,
        members: { organizationId, organizationalUnits: [workloads], regions: REGIONS },
        policy: { expiresWithinDays: 30 },
        limits: LIMITS,
        dryRun: true,
        maxConcurrency: CONCURRENCY,
      });
      const wallS = (performance.now() - started) / 1000;
      const { summary } = run;
      // Each child is bound by its slowest operation at its account's quota.
      const itemS = Math.max(
        ...(Object.keys(QUOTAS) as (keyof typeof QUOTAS)[]).map((op) => CALLS_PER_ITEM[op] / QUOTAS[op]),
      );
      const idealS = Math.ceil(run.items.length / CONCURRENCY) * itemS;
      const log = readRequestLog(dir);
      const assumeRoles = log.filter((e) => e.service === 'sts' && e.operation === 'AssumeRole').length;
      const kmsCalls = log.filter((e) => e.service === 'kms').length;
      const throttled = log.filter((e) => e.error === 'ThrottlingException').length;
      const keys = run.items.length * KEYS_PER_ITEM;
      const stepFunctions = run.stateTransitions * PRICE.transition;
      const lambda =
        run.invocations * PRICE.lambdaRequest + (run.lambdaMs / 1000) * MEMORY_GB * PRICE.lambdaArmGbSecond;
      return [
        ['member accounts × Regions (items)', `${ACCOUNTS} × ${REGIONS.length} (${run.items.length})`],
        ['keys listed (EXTERNAL)', `${summary.keysListed} (${summary.externalKeys})`],
        ['materials found expiring within 30 days', String(summary.violations)],
        ['failed items', String(summary.failed.length)],
        [
          'quotas per account and Region (ListKeys, DescribeKey, ListKeyRotations)',
          `${QUOTAS.ListKeys}/s, ${QUOTAS.DescribeKey}/s, ${QUOTAS.ListKeyRotations}/s`,
        ],
        ['children at once (MaxConcurrency)', String(CONCURRENCY)],
        ['wall time', `${wallS.toFixed(1)} s`],
        [
          `quota-bound ideal (⌈items ÷ concurrency⌉ × ${itemS.toFixed(1)} s per item at its quotas)`,
          `${idealS.toFixed(1)} s`,
        ],
        ['ratio (target ≤ 1.2)', (wallS / idealS).toFixed(2)],
        ['AssumeRole calls (accounts)', `${assumeRoles} (${ACCOUNTS})`],
        ['KMS calls per key', (kmsCalls / keys).toFixed(2)],
        ['ThrottlingException answers (retried by the client)', String(throttled)],
        ['state transitions (Standard, parent and children)', String(run.stateTransitions)],
        ['Lambda invocations', String(run.invocations)],
        ['Lambda time (256 MB arm64, local time as duration)', `${(run.lambdaMs / 1000).toFixed(0)} s`],
        ['price of one run: Step Functions', `$${stepFunctions.toFixed(4)}`],
        ['price of one run: Lambda', `$${lambda.toFixed(4)}`],
        ['price of one run: total', `$${(stepFunctions + lambda).toFixed(4)}`],
        [
          "KMS requests, billed to each member account ($0.03 per 10,000), all accounts' together",
          `$${(kmsCalls * PRICE.kmsRequest).toFixed(4)}`,
        ],
      ];
    } finally {
      server.stop();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
