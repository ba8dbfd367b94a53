import type { Command } from 'commander';
import {
  DEFAULT_FLEET_MAX_CONCURRENCY,
  DEFAULT_SCAN_EXPIRES_WITHIN_DAYS,
  DEFAULT_SCAN_LIMITS,
  DEFAULT_SCAN_RETIRE_TAG,
} from '../../core/defaults';
import { describeFleetScan } from '../../core/fleet-scan';
import { membersSchema } from '../../core/organisation';
import { printable } from '../../core/text';
import { scanLimitsSchema, scanPolicySchema } from '../../core/scan-policy';
import { scan } from '../../functions/expiry-scan/scan';
import { describeSummary } from '../../functions/expiry-scan/start';
import { gatewayStarter } from '../operations';
import { gatewayCommand, resolveTarget, type TargetOptions } from './operator';
import { CliError, printJson, type CliIo } from '../output';
import { wholeNumber } from '../options';

interface ScanOptions extends TargetOptions {
  dryRun: boolean;
  org: boolean;
  regions?: string[];
  organizationalUnits?: string[];
  accounts?: string[];
  maxConcurrency?: number;
  expiresWithinDays?: number;
  importedMoreThanDays?: number;
  retireTag: string | false;
  maxChanges: number;
  describeKeyRate: number;
}

export function scanCommand(io: CliIo): Command {
  return gatewayCommand(
    'scan',
    'find imported materials that violate the expiry policy (KMS reads with your credentials) and start one deletion change for each, with you as its requester',
  )
    .option('--dry-run', 'report what would be started; start nothing', false)
    .option(
      '--expires-within-days <n>',
      'materials whose ValidTo is within N days',
      wholeNumber('--expires-within-days', 0, 365),
      DEFAULT_SCAN_EXPIRES_WITHIN_DAYS,
    )
    .option(
      '--imported-more-than-days <n>',
      'materials imported more than N days ago',
      wholeNumber('--imported-more-than-days', 1, 3650),
    )
    .option('--retire-tag <tag>', 'key tag holding a retirement date YYYY-MM-DD', DEFAULT_SCAN_RETIRE_TAG)
    .option('--no-retire-tag', 'ignore retirement tags')
    .option(
      '--max-changes <n>',
      'changes started per run at most',
      wholeNumber('--max-changes', 0, 1000),
      DEFAULT_SCAN_LIMITS.maxChanges,
    )
    .option(
      '--describe-key-rate <n>',
      'DescribeKey requests per second',
      wholeNumber('--describe-key-rate', 1, 100_000),
      DEFAULT_SCAN_LIMITS.rates.DescribeKey,
    )
    .option(
      '--org',
      "scan every member account × Region of the organisation (the fleet scan), through keymat's member read role; with --local, on the local stack's organisation",
      false,
    )
    .option('--regions <list>', 'with --org: the Regions to scan, comma-separated', commaList)
    .option('--organizational-units <list>', 'with --org: scan the accounts under these OUs only', commaList)
    .option(
      '--accounts <list>',
      'with --org: scan these accounts (besides those under --organizational-units)',
      commaList,
    )
    .option(
      '--max-concurrency <n>',
      'with --org: member account × Region scans at once',
      wholeNumber('--max-concurrency', 1, 10_000),
      DEFAULT_FLEET_MAX_CONCURRENCY,
    )
    .action(async (opts: ScanOptions) => {
      if (opts.org) return fleetScan(io, opts);
      const target = await resolveTarget(io, opts);
      const now = new Date();
      const summary = await scan(
        { kms: target.kms, now, start: gatewayStarter(target) },
        policyOf(opts),
        limitsOf(opts),
        opts.dryRun,
      );
      if (opts.json) printJson(io, summary);
      // Tag values and key descriptions come from outside: each line is shown with its control characters escaped.
      else io.write(`${describeSummary(summary).map(printable).join('\n')}\n`);
    });
}

const commaList = (value: string): string[] =>
  value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);

/** The scan's limits as the options give them (with --org, each child's). */
const limitsOf = (opts: ScanOptions) =>
  scanLimitsSchema.parse({
    ...DEFAULT_SCAN_LIMITS,
    maxChanges: opts.maxChanges,
    rates: { ...DEFAULT_SCAN_LIMITS.rates, DescribeKey: opts.describeKeyRate },
  });

/** The scan's policy as the options give it. */
const policyOf = (opts: ScanOptions) =>
  scanPolicySchema.parse({
    expiresWithinDays: opts.expiresWithinDays,
    importedMoreThanDays: opts.importedMoreThanDays,
    ...(opts.retireTag && { retireTag: opts.retireTag }),
  });

/**
 * `keymat scan --org`: the fleet scan over the organisation of the local stack's state folder, run by keymat's local
 * engine as the deployed state machine runs it (each child as the scan's own identity through the member read
 * role; the changes started as the scan's own). It prints the run's Scan Completed summary.
 */
async function fleetScan(io: CliIo, opts: ScanOptions): Promise<void> {
  if (!opts.local) {
    throw new CliError(
      "keymat scan --org runs on the local stack (--local); a deployed hub runs its fleet scan on its schedule, and publishes each run's summary as the Scan Completed event",
    );
  }
  if (!opts.regions?.length) throw new CliError('keymat scan --org needs --regions, the Regions to scan');
  const { readOrganization } = await import('../../local/state/organization.js');
  const organization = readOrganization(opts.stateDir);
  if (!organization) {
    throw new CliError(`no organisation in ${opts.stateDir}: run keymat local org init --organization-id o-… first`);
  }
  const parsed = membersSchema.safeParse({
    organizationId: organization.record.id,
    regions: opts.regions,
    ...(opts.organizationalUnits && { organizationalUnits: opts.organizationalUnits }),
    ...(opts.accounts && { accounts: opts.accounts }),
  });
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const option = { regions: '--regions', organizationalUnits: '--organizational-units', accounts: '--accounts' }[
      String(issue?.path[0]) as 'regions'
    ];
    throw new CliError(`${option ?? 'keymat scan --org'}: ${issue?.message ?? 'not valid'}`);
  }
  const members = parsed.data;
  const { runLocalFleetScan } = await import('../../local/workflow/fleet-scan.js');
  const { summary } = await runLocalFleetScan({
    stateDir: opts.stateDir,
    members,
    policy: policyOf(opts),
    limits: limitsOf(opts),
    dryRun: opts.dryRun,
    ...(opts.maxConcurrency !== undefined && { maxConcurrency: opts.maxConcurrency }),
  });
  if (opts.json) printJson(io, summary);
  // Causes come from the member accounts' answers: each line is shown with its control characters escaped.
  else io.write(`${describeFleetScan(summary).map(printable).join('\n')}\n`);
}
