import type { ExecutionListItem } from '@aws-sdk/client-sfn';
import type { SfnCall } from '../core/aws-api';
import { EVENT_DETAILS } from '../core/change-events';
import { describeFleetScan, type FleetScanSummary } from '../core/fleet-scan';
import * as z from '../core/schema';
import { printable } from '../core/text';
import { CliError } from './output';

/**
 * A deployed hub's fleet scan runs, as `keymat scan --org` shows them: the state machine's newest executions, the
 * summary of the newest that SUCCEEDED (its output is the run's Scan Completed detail), and every run newer than it,
 * which is running or ended without a summary.
 */

/** The newest executions listed first; runs happen on a schedule, so the last that SUCCEEDED is usually among them. */
export const NEWEST_RUNS = 10;

/** A run newer than the last that SUCCEEDED: still running, or ended otherwise (with the error it ended with). */
export interface UnfinishedRun {
  executionArn: string;
  status: string;
  startDate?: Date;
  stopDate?: Date;
  error?: string;
  cause?: string;
}

/** What the fleet scan's runs show. */
export interface FleetScanRuns {
  stateMachineArn: string;
  /** The runs newer than `last`, newest first (all the runs listed, when none SUCCEEDED). */
  newer: UnfinishedRun[];
  /** Whether older runs than `newer` may be left out: the newest runs listed held no SUCCEEDED one. */
  newerTruncated: boolean;
  /** The newest SUCCEEDED run's summary; undefined when no run SUCCEEDED. */
  last?: FleetScanSummary;
}

/**
 * A SUCCEEDED run's summary, parsed from its output.
 *
 * @throws CliError naming the execution when its output is not a Scan Completed detail
 */
function summaryOf(executionArn: string, output: string | undefined): FleetScanSummary {
  let value: unknown;
  try {
    value = JSON.parse(output ?? '');
  } catch {
    throw new CliError(
      `the fleet scan run ${executionArn} SUCCEEDED but its output is not JSON: '${(output ?? '').slice(0, 200)}'`,
    );
  }
  // The fleet scan's last state (SummariseScan) returns the run's Scan Completed detail as the execution's output.
  const parsed = EVENT_DETAILS['Scan Completed'].safeParse(value);
  if (!parsed.success) {
    throw new CliError(
      `the fleet scan run ${executionArn} SUCCEEDED but its output is not a Scan Completed summary: ${z.prettifyError(parsed.error)}`,
    );
  }
  return parsed.data;
}

/**
 * Reads the fleet scan's runs: the newest executions (ListExecutions, newest first), the newest SUCCEEDED one's
 * summary (DescribeExecution), and the error and cause of each newer run that ended other than SUCCEEDED. When the
 * newest runs hold no SUCCEEDED one, the last SUCCEEDED run is asked for by status.
 */
export async function readFleetScanRuns(sfn: SfnCall, stateMachineArn: string): Promise<FleetScanRuns> {
  const { executions: newest = [] } = await sfn('ListExecutions', { stateMachineArn, maxResults: NEWEST_RUNS });
  const index = newest.findIndex((e) => e.status === 'SUCCEEDED');
  let succeeded: ExecutionListItem | undefined = newest[index];
  if (!succeeded && newest.length === NEWEST_RUNS) {
    const { executions = [] } = await sfn('ListExecutions', {
      stateMachineArn,
      statusFilter: 'SUCCEEDED',
      maxResults: 1,
    });
    succeeded = executions[0];
  }
  const newer = await Promise.all((index === -1 ? newest : newest.slice(0, index)).map((e) => unfinishedRun(sfn, e)));
  const runs: FleetScanRuns = { stateMachineArn, newer, newerTruncated: index === -1 && newest.length === NEWEST_RUNS };
  if (!succeeded?.executionArn) return runs;
  const { output } = await sfn('DescribeExecution', { executionArn: succeeded.executionArn });
  return { ...runs, last: summaryOf(succeeded.executionArn, output) };
}

/** A newer run as listed; one that ended gets its error and cause from DescribeExecution. */
async function unfinishedRun(sfn: SfnCall, listed: ExecutionListItem): Promise<UnfinishedRun> {
  const run: UnfinishedRun = {
    executionArn: listed.executionArn ?? '',
    status: listed.status ?? 'UNKNOWN',
    ...(listed.startDate && { startDate: listed.startDate }),
    ...(listed.stopDate && { stopDate: listed.stopDate }),
  };
  if (run.status === 'RUNNING' || !listed.executionArn) return run;
  const { error, cause } = await sfn('DescribeExecution', { executionArn: listed.executionArn });
  return { ...run, ...(error && { error }), ...(cause && { cause }) };
}

/** Whether the newest run that is not running ended other than SUCCEEDED: the last run did not finish. */
export const lastRunFailed = (runs: FleetScanRuns): boolean => runs.newer.some((r) => r.status !== 'RUNNING');

/** One newer run in words. */
function describeRun(run: UnfinishedRun): string {
  const started = run.startDate ? `started ${run.startDate.toISOString()}` : 'start unknown';
  if (run.status === 'RUNNING') return `fleet scan run ${run.executionArn} is RUNNING (${started})`;
  const stopped = run.stopDate ? `, stopped ${run.stopDate.toISOString()}` : '';
  const error = run.error ? `: ${run.error}${run.cause ? `: ${run.cause}` : ''}` : '';
  return `fleet scan run ${run.executionArn} ended ${run.status} (${started}${stopped})${error}`;
}

/**
 * The runs newer than the last that SUCCEEDED, in words: each running one with its start, each that ended otherwise
 * with its status, error and cause (from member accounts: the lines are printable).
 */
export function describeNewerRuns(runs: FleetScanRuns): string[] {
  const lines = runs.newer.map(describeRun);
  if (runs.newerTruncated) lines.push(`(only the newest ${NEWEST_RUNS} runs are listed; older ones are not shown)`);
  return lines.map(printable);
}

/**
 * The runs in words, for people: the newer runs ({@link describeNewerRuns}), then the last SUCCEEDED run's summary,
 * or a line saying that no run SUCCEEDED, or that none ran.
 */
export function describeFleetScanRuns(runs: FleetScanRuns): string[] {
  const lines = describeNewerRuns(runs);
  if (runs.last) {
    if (lines.length > 0) lines.push('the last fleet scan run that SUCCEEDED:');
    // Causes come from the member accounts' answers: each line is shown with its control characters escaped.
    lines.push(...describeFleetScan(runs.last).map(printable));
  } else if (lines.length > 0) {
    lines.push(printable(`no fleet scan run of ${runs.stateMachineArn} has SUCCEEDED`));
  } else {
    lines.push(printable(`no fleet scan has run on ${runs.stateMachineArn}`));
  }
  return lines;
}
