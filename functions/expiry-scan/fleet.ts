import type { Logger } from '@aws-lambda-powertools/logger';
import { allPages, type OrganizationsCall, type S3Call, type SnsCall } from '../../core/aws-api';
import type { EventPublisher } from '../../core/change-events';
import {
  describeFleetScan,
  FLEET_SCAN_SESSION,
  fleetItems,
  fleetItemSchema,
  fleetScanCompleted,
  type FleetItem,
  type FleetScanSummary,
  type ItemScanResult,
} from '../../core/fleet-scan';
import { mapRunOutputSchema, readMapResults } from '../../core/map-results';
import { ARN } from '../../core/naming';
import type { Members } from '../../core/organisation';
import type { ScanLimits, ScanPolicy } from '../../core/scan-policy';
import * as z from '../../core/schema';
import type { KeyAccess, KmsOfKey } from '../runtime/key-access';
import { scan, type ScanDeps } from './scan';

/** What the fleet scan's steps work with. */
export interface FleetScanDeps {
  /** Organizations, to list the member accounts (from the management account or a delegated administrator). */
  organizations: OrganizationsCall;
  /** The member read role's access to each account's keys (`createKeyAccess` with MEMBER_READ_ROLE). */
  keys: KeyAccess;
  /** Starts a change for a violation, as the scheduled scan does (`changeStarter`). */
  start: ScanDeps['start'];
  /** Puts the run's Scan Completed event. */
  events: EventPublisher;
  /** The run's summary message on the outcome topic. */
  sns: SnsCall;
  /** Reads the map's results, which its ResultWriter put in S3. */
  s3: S3Call;
  config: {
    members: Members;
    /** The hub's partition, which the member roles' ARNs share. */
    partition: string;
    policy: ScanPolicy;
    /** Each child's pace and the changes each child may start: per account and Region, as KMS's quotas are. */
    limits: ScanLimits;
    outcomeTopicArn: string;
  };
  logger: Logger;
}

/** The run a step belongs to: its execution (the role session name) and whether it only reports. */
const runFields = () => ({ runArn: z.string(), dryRun: z._default(z.boolean(), false) });

/**
 * The fleet scan's three steps, each one invocation of the scan function by the fleet state machine: list the items,
 * scan one item (a child of the Distributed Map), and sum up the map's results.
 */
export const fleetStepSchema = z.lazy(() =>
  z.discriminatedUnion('step', [
    z.object({ step: z.literal('items') }),
    z.object({ step: z.literal('scan'), ...runFields(), account: z.string(), region: z.string() }),
    // The map state's output: where its ResultWriter put the children's results.
    z.object({ step: z.literal('summary'), ...runFields(), results: mapRunOutputSchema }),
  ]),
);
export type FleetStep = z.infer<typeof fleetStepSchema>;

/** Whether an event is a fleet scan step (rather than the single-account scan's schedule). */
export const isFleetStep = (event: unknown): boolean => typeof event === 'object' && event !== null && 'step' in event;

/**
 * The member accounts of the organisation as `members` selects them, each ACTIVE: every account (ListAccounts), or
 * the listed accounts and every account under the listed OUs at any depth (ListAccountsForParent and
 * ListOrganizationalUnitsForParent from each OU down).
 */
export async function memberAccounts(orgs: OrganizationsCall, members: Members): Promise<string[]> {
  const active = (list: { Id?: string; State?: string; Status?: string }[] = []) =>
    list.filter((a) => (a.State ?? a.Status) === 'ACTIVE' && a.Id !== undefined).map((a) => a.Id as string);
  const listed = async <O>(page: (token: string | undefined) => Promise<O>, next: (o: O) => string | undefined) => {
    const outputs: O[] = [];
    for await (const output of allPages(page, next)) outputs.push(output);
    return outputs;
  };
  const all = (
    await listed(
      (NextToken) => orgs('ListAccounts', { NextToken }),
      (o) => o.NextToken,
    )
  ).flatMap((o) => active(o.Accounts));
  const accounts = members.accounts ?? [];
  const units = members.organizationalUnits ?? [];
  if (accounts.length === 0 && units.length === 0) return all;

  const selected = new Set(accounts.filter((a) => all.includes(a)));
  const underUnit = async (parentId: string): Promise<void> => {
    const [own, children] = await Promise.all([
      listed(
        (NextToken) => orgs('ListAccountsForParent', { ParentId: parentId, NextToken }),
        (o) => o.NextToken,
      ),
      listed(
        (NextToken) => orgs('ListOrganizationalUnitsForParent', { ParentId: parentId, NextToken }),
        (o) => o.NextToken,
      ),
    ]);
    for (const id of own.flatMap((o) => active(o.Accounts))) selected.add(id);
    const ids = children.flatMap((o) => (o.OrganizationalUnits ?? []).map((ou) => ou.Id as string));
    await Promise.all(ids.map(underUnit));
  };
  for (const unit of units) await underUnit(unit);
  return [...selected];
}

/**
 * The fleet scan's steps. A child scans its account and Region with the member read role's credentials, assumed
 * once per account for the run (the role session name is the run's execution, the SourceIdentity
 * `keymat-fleet-scan`), and paces its calls within that account's quotas; a refused AssumeRole fails the child
 * MemberRoleUnavailable, which the summary reports with its cause while the other children go on.
 */
export function createFleetScan(deps: FleetScanDeps): (event: unknown) => Promise<unknown> {
  const { organizations, keys, start, events, sns, s3, config, logger } = deps;
  // The run whose member credentials this container keeps: a later run assumes the roles again.
  let run: { arn: string; kmsOf: KmsOfKey } | undefined;
  const kmsOfRun = (runArn: string): KmsOfKey => {
    if (run?.arn !== runArn) run = { arn: runArn, kmsOf: keys({ executionArn: runArn, changeId: FLEET_SCAN_SESSION }) };
    return run.kmsOf;
  };

  const items = async (): Promise<{ items: FleetItem[] }> => {
    const accounts = await memberAccounts(organizations, config.members);
    const list = fleetItems(accounts, config.members.regions);
    logger.info('fleet scan items', { accounts: accounts.length, items: list.length });
    return { items: list };
  };

  const scanItem = async (step: Extract<FleetStep, { step: 'scan' }>): Promise<ItemScanResult> => {
    const item = fleetItemSchema.parse({ account: step.account, region: step.region });
    const kms = await kmsOfRun(step.runArn)({ ...item, partition: config.partition });
    const summary = await scan({ kms, now: new Date(), start }, config.policy, config.limits, step.dryRun);
    return {
      ...item,
      keysListed: summary.keysListed,
      externalKeys: summary.externalKeys,
      violations: summary.violations.length,
      changesStarted: summary.started.length,
    };
  };

  const summarise = async (step: Extract<FleetStep, { step: 'summary' }>): Promise<FleetScanSummary> => {
    const results = await readMapResults(s3, step.results);
    const event = fleetScanCompleted({ executionArn: step.runArn, dryRun: step.dryRun }, results, new Date());
    const detail = event.detail as FleetScanSummary;
    await events.publish(event);
    await sns('Publish', {
      TopicArn: config.outcomeTopicArn,
      Subject:
        `keymat fleet scan: ${detail.itemsScanned}/${detail.itemsTotal} scanned, ${detail.failed.length} failed`.slice(
          0,
          100,
        ),
      Message: [...describeFleetScan(detail), '', JSON.stringify(detail, null, 2)].join('\n'),
      MessageAttributes: { event: { DataType: 'String', StringValue: 'ScanCompleted' } },
    });
    logger.info('fleet scan finished', { items: detail.itemsTotal, failed: detail.failed.length });
    return detail;
  };

  return async (event) => {
    const step = fleetStepSchema.parse(event);
    if (step.step === 'items') return items();
    logger.resetKeys();
    logger.appendKeys({ executionId: step.runArn });
    return step.step === 'scan' ? scanItem(step) : summarise(step);
  };
}

/** The partition of an ARN of the hub's (its workflow's), which its member roles' ARNs share. */
export function partitionOf(arn: string): string {
  const partition = ARN.exec(arn)?.[1];
  if (partition === undefined) throw new Error(`'${arn}' is not an ARN: the fleet scan takes its partition from it`);
  return partition;
}
