import type { Command } from 'commander';
import type { SfnCall } from '../../core/aws-api';
import {
  DEFAULT_FLEET_MAX_CONCURRENCY,
  DEFAULT_SCAN_EXPIRES_WITHIN_DAYS,
  DEFAULT_SCAN_LIMITS,
  DEFAULT_SCAN_RETIRE_TAG,
} from '../../core/defaults';
import { describeFleetScan } from '../../core/fleet-scan';
import { ARN, FLEET_SCAN_STATE_MACHINE_OUTPUT } from '../../core/naming';
import type { Members } from '../../core/organisation';
import { printable } from '../../core/text';
import { scanLimitsSchema, scanPolicySchema } from '../../core/scan-policy';
import { scan } from '../../functions/expiry-scan/scan';
import { describeSummary } from '../../functions/expiry-scan/start';
import { createSfnClient } from '../../functions/runtime/aws';
import { cliEnvironment } from '../env';
import { describeFleetScanRuns, describeNewerRuns, lastRunFailed, readFleetScanRuns } from '../fleet-runs';
import { gatewayStarter, givenOrStackOutput, socketErrors } from '../operations';
import { gatewayCommand, resolveTarget, type TargetOptions } from './operator';
import { CliError, EXIT, lineWriter, printJson, type CliIo } from '../output';
import { accountList, organizationalUnitList, regionList, wholeNumber } from '../options';

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
  fleetStateMachineArn?: string;
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
      "the fleet scan of every member account × Region, through keymat's member read role: with --local, run it on the local stack's organisation; without, show the deployed hub's newest runs and the last summary (the hub scans its configured members on its schedule: the options that shape a run go with --local only)",
      false,
    )
    .option(
      '--fleet-state-machine-arn <arn>',
      `with --org: the deployed hub's fleet scan state machine (default: $KEYMAT_FLEET_STATE_MACHINE_ARN, else the stack's ${FLEET_SCAN_STATE_MACHINE_OUTPUT} output)`,
    )
    .option('--regions <list>', 'with --org --local: the Regions to scan, comma-separated', regionList)
    .option(
      '--organizational-units <list>',
      'with --org --local: scan the accounts under these OUs only',
      organizationalUnitList,
    )
    .option(
      '--accounts <list>',
      'with --org --local: scan these accounts (besides those under --organizational-units)',
      accountList,
    )
    .option(
      '--max-concurrency <n>',
      'with --org --local: member account × Region scans at once',
      wholeNumber('--max-concurrency', 1, 10_000),
      DEFAULT_FLEET_MAX_CONCURRENCY,
    )
    .action(async (opts: ScanOptions, command: Command) => {
      if (opts.fleetStateMachineArn !== undefined && (!opts.org || opts.local)) {
        throw new CliError(
          "--fleet-state-machine-arn names a deployed hub's fleet scan: it goes with --org, without --local",
        );
      }
      if (opts.org) return opts.local ? localFleetScan(io, opts) : deployedFleetScan(io, opts, command);
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
 * The options that shape a scan run by the CLI. A deployed hub's fleet scan takes them from its configuration, so
 * `keymat scan --org` refuses them without --local.
 */
const LOCAL_ONLY_OPTIONS: ReadonlySet<string> = new Set([
  'dryRun',
  'regions',
  'organizationalUnits',
  'accounts',
  'maxConcurrency',
  'expiresWithinDays',
  'importedMoreThanDays',
  'retireTag',
  'maxChanges',
  'describeKeyRate',
]);

/** The first local-only option given on the command line, as it was spelled (`--no-retire-tag` for the negation). */
const givenLocalOnlyOption = (command: Command): string | undefined =>
  command.options.find((option) => {
    const key = option.attributeName();
    return (
      LOCAL_ONLY_OPTIONS.has(key) &&
      command.getOptionValueSource(key) === 'cli' &&
      option.negate === (command.getOptionValue(key) === false)
    );
  })?.long;

/** The deployed hub's fleet scan state machine: the option, `KEYMAT_FLEET_STATE_MACHINE_ARN`, or the stack's output. */
async function fleetStateMachineArn(opts: ScanOptions, variables: CliIo['env']): Promise<string> {
  const given = opts.fleetStateMachineArn ?? cliEnvironment(variables).fleetStateMachineArn;
  return givenOrStackOutput(given, opts.stackName, FLEET_SCAN_STATE_MACHINE_OUTPUT, 'a fleet scan');
}

/** Step Functions in the Region the state machine's ARN names (else the SDK's), showing socket errors as they are. */
const fleetSfn = (stateMachineArn: string): SfnCall => {
  const region = ARN.exec(stateMachineArn)?.[3];
  return socketErrors(createSfnClient(region ? { region } : {}));
};

/**
 * `keymat scan --org` against a deployed hub, which runs its fleet scan on its schedule: the fleet scan's newest runs,
 * read with the caller's credentials. It prints each run newer than the last that SUCCEEDED (running, or ended
 * otherwise with its error and cause), then that run's summary; with --json the summary alone on stdout (null when no
 * run SUCCEEDED) and the newer runs on stderr. It exits EXIT.executionNotSucceeded when the newest run that ended did
 * not succeed.
 */
async function deployedFleetScan(io: CliIo, opts: ScanOptions, command: Command): Promise<void> {
  const local = givenLocalOnlyOption(command);
  if (local) {
    throw new CliError(
      `${local} goes with --local: a deployed hub scans its configured members on its schedule, and keymat scan --org shows its runs`,
    );
  }
  const say = lineWriter(io);
  const stateMachineArn = await fleetStateMachineArn(opts, io.env);
  const runs = await readFleetScanRuns(fleetSfn(stateMachineArn), stateMachineArn);
  if (opts.json) {
    for (const line of describeNewerRuns(runs)) io.writeError(`${line}\n`);
    printJson(io, runs.last ?? null);
  } else for (const line of describeFleetScanRuns(runs)) say(line);
  if (lastRunFailed(runs)) io.exitCode = EXIT.executionNotSucceeded;
}

/**
 * `keymat scan --org --local`: the fleet scan over the organisation of the local stack's state folder, run by keymat's
 * local engine as the deployed state machine runs it (each child as the scan's own identity through the member read
 * role; the changes started as the scan's own). It prints the run's Scan Completed summary.
 */
async function localFleetScan(io: CliIo, opts: ScanOptions): Promise<void> {
  if (!opts.regions?.length) throw new CliError('keymat scan --org needs --regions, the Regions to scan');
  const [{ readOrganization }, { checkStateFolder }] = await Promise.all([
    import('../../local/state/organization.js'),
    import('../../local/state/store.js'),
  ]);
  // A folder with an organisation and no database yet is fine: the scan serves it for its run.
  checkStateFolder(opts.stateDir, { database: false });
  const organization = readOrganization(opts.stateDir);
  if (!organization) {
    throw new CliError(`no organisation in ${opts.stateDir}: run keymat local org init --organization-id o-… first`);
  }
  const unknownUnit = opts.organizationalUnits?.find((ou) => !organization.isParent(ou));
  if (unknownUnit !== undefined) {
    throw new CliError(
      `--organizational-units: ${unknownUnit} is not an OU of ${organization.record.id} (ParentNotFoundException): see keymat local org list`,
    );
  }
  // As the deployed listing does, an account outside the organisation is left out and the others are scanned.
  for (const account of opts.accounts?.filter((a) => !organization.accounts.has(a)) ?? []) {
    io.writeError(
      `keymat: --accounts: ${account} is not an account of ${organization.record.id}; scanning the others\n`,
    );
  }
  const members: Members = {
    organizationId: organization.record.id,
    regions: opts.regions,
    ...(opts.organizationalUnits && { organizationalUnits: opts.organizationalUnits }),
    ...(opts.accounts && { accounts: opts.accounts }),
  };
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
