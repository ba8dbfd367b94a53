import type { Command } from 'commander';
import { DEFAULT_SCAN_EXPIRES_WITHIN_DAYS, DEFAULT_SCAN_LIMITS, DEFAULT_SCAN_RETIRE_TAG } from '../../core/defaults';
import { printable } from '../../core/text';
import { scanLimitsSchema, scanPolicySchema } from '../../core/scan-policy';
import { scan } from '../../functions/expiry-scan/scan';
import { describeSummary } from '../../functions/expiry-scan/start';
import { gatewayStarter } from '../operations';
import { gatewayCommand, resolveTarget, type TargetOptions } from './operator';
import { printJson, type CliIo } from '../output';
import { wholeNumber } from '../options';

interface ScanOptions extends TargetOptions {
  dryRun: boolean;
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
    .action(async (opts: ScanOptions) => {
      const target = await resolveTarget(io, opts);
      const now = new Date();
      const summary = await scan(
        { kms: target.kms, now, start: gatewayStarter(target) },
        scanPolicySchema.parse({
          expiresWithinDays: opts.expiresWithinDays,
          importedMoreThanDays: opts.importedMoreThanDays,
          ...(opts.retireTag && { retireTag: opts.retireTag }),
        }),
        scanLimitsSchema.parse({
          ...DEFAULT_SCAN_LIMITS,
          maxChanges: opts.maxChanges,
          rates: { ...DEFAULT_SCAN_LIMITS.rates, DescribeKey: opts.describeKeyRate },
        }),
        opts.dryRun,
      );
      if (opts.json) printJson(io, summary);
      // Tag values and key descriptions come from outside: each line is shown with its control characters escaped.
      else io.write(`${describeSummary(summary).map(printable).join('\n')}\n`);
    });
}
