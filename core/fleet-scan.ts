import { changeEvent, type ChangeEvent } from './change-events';
import { ACCOUNT_ID, REGION } from './organisation';
import { counted } from './text';
import * as z from './schema';

/**
 * The fleet scan: the expiry scan over every member account × Region of an organisation, one child per item on a Step
 * Functions Distributed Map, each child scanning one account in one Region through the member read role, within that
 * account's own KMS quotas. This module holds the shapes the steps hand each other (the items, a child's result, a
 * failed child's record) and the summary the run ends with; the deployed map (infra/fleet-scan.ts) and the local
 * engine's (local/workflow/distributed-map.ts) produce the same results from them.
 */

/**
 * The SourceIdentity's change part for the fleet scan's sessions: a scan is no change, and the member's CloudTrail
 * then names the scan (`keymat-fleet-scan`) and, as the role session name, the run's execution.
 */
export const FLEET_SCAN_SESSION = 'fleet-scan';

/** One item of the map: an account and one of its Regions. */
export const fleetItemSchema = z.lazy(() =>
  z.object({
    account: z.string().check(z.regex(ACCOUNT_ID, 'a 12-digit account id')),
    region: z.string().check(z.regex(REGION, 'a Region such as eu-west-1')),
  }),
);
export type FleetItem = z.infer<typeof fleetItemSchema>;

const count = () => z.number().check(z.int(), z.gte(0));

/** What a child returns: its item and the counts the summary adds up. */
export const itemScanResultSchema = z.lazy(() =>
  z.object({
    account: z.string(),
    region: z.string(),
    keysListed: count(),
    externalKeys: count(),
    violations: count(),
    changesStarted: count(),
  }),
);
export type ItemScanResult = z.infer<typeof itemScanResultSchema>;

/**
 * A child that did not scan, as the Distributed Map reports it among the results: its execution's record, unchanged,
 * with the item it was given as a JSON string; or (PENDING) the record of a child never started because the map run
 * ended first.
 */
export const failedChildSchema = z.lazy(() =>
  z.looseObject({
    Status: z.enum(['FAILED', 'TIMED_OUT', 'ABORTED', 'PENDING']),
    Input: z.string(),
    Error: z.optional(z.nullable(z.string())),
    Cause: z.optional(z.nullable(z.string())),
  }),
);
export type FailedChild = z.infer<typeof failedChildSchema>;

/** The Scan Completed detail, without the fields every event gets. */
export type FleetScanSummary = Extract<ChangeEvent, { detailType: 'Scan Completed' }>['detail'];

/**
 * The items of a fleet: each account × each Region, ordered by account and Region, so that one account's Regions
 * are neighbours (a child's container keeps the account's credentials for the run).
 */
export function fleetItems(accounts: readonly string[], regions: readonly string[]): FleetItem[] {
  return [...new Set(accounts)]
    .sort()
    .flatMap((account) => [...new Set(regions)].sort().map((region) => ({ account, region })));
}

/** A child's result, or the record of a failed child, as the map gives it back. */
const resultEntry = z.lazy(() => z.union([itemScanResultSchema, failedChildSchema]));

/** The item a failed child was given, or its raw input when it is not an item (the map's own input was wrong). */
function failedItem(failed: FailedChild): FleetItem {
  try {
    const parsed = fleetItemSchema.safeParse(JSON.parse(failed.Input));
    if (parsed.success) return parsed.data;
  } catch {
    // Not JSON: reported as the input below.
  }
  return { account: failed.Input.slice(0, 64), region: 'unknown' };
}

/**
 * The run's Scan Completed event from the map's results: one entry per item, a child's counts or a failed child's
 * record, whose item, error name and cause are reported.
 *
 * @throws Error naming the entry when a result is neither (a bug: only the map produces them)
 */
export function fleetScanCompleted(
  run: { executionArn: string; dryRun: boolean },
  results: readonly unknown[],
  at: Date,
): ChangeEvent {
  const summary = {
    executionArn: run.executionArn,
    dryRun: run.dryRun,
    itemsTotal: results.length,
    itemsScanned: 0,
    accountsScanned: 0,
    keysListed: 0,
    externalKeys: 0,
    violations: 0,
    changesStarted: 0,
    failed: [] as FleetScanSummary['failed'],
  };
  const accounts = new Set<string>();
  results.forEach((entry, i) => {
    const parsed = resultEntry.safeParse(entry);
    if (!parsed.success) {
      throw new Error(
        `fleet scan result ${i} is neither a child's counts nor a failed child: ${z.prettifyError(parsed.error)}`,
      );
    }
    const result = parsed.data;
    if ('Status' in result) {
      summary.failed.push({
        ...failedItem(result),
        error: result.Error ?? result.Status,
        ...(result.Cause ? { cause: result.Cause } : {}),
      });
      return;
    }
    summary.itemsScanned += 1;
    accounts.add(result.account);
    summary.keysListed += result.keysListed;
    summary.externalKeys += result.externalKeys;
    summary.violations += result.violations;
    summary.changesStarted += result.changesStarted;
  });
  summary.accountsScanned = accounts.size;
  // The results come status by status, not in item order: the failures are listed by account and Region.
  summary.failed.sort((a, b) => a.account.localeCompare(b.account) || a.region.localeCompare(b.region));
  return changeEvent('Scan Completed', summary, at);
}

/** The summary in words, for the outcome topic's message and `keymat scan --org`. */
export function describeFleetScan(s: FleetScanSummary): string[] {
  const lines = [
    `keymat fleet scan ${s.executionArn} at ${s.occurredAt}${s.dryRun ? ' (dry run: nothing started)' : ''}`,
    `${s.itemsScanned} of ${counted(s.itemsTotal, 'account × Region item')} scanned (${counted(s.accountsScanned, 'account')}): ${counted(s.keysListed, 'key')} listed, ${s.externalKeys} customer-managed EXTERNAL, ${counted(s.violations, 'material')} ${s.violations === 1 ? 'violates' : 'violate'} the policy, ${counted(s.changesStarted, 'change')} started.`,
  ];
  for (const f of s.failed) lines.push(`failed ${f.account} ${f.region}: ${f.error}${f.cause ? `: ${f.cause}` : ''}`);
  return lines;
}
