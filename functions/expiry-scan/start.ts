import { DescribeExecutionCommand, StartExecutionCommand, type SFNClient } from '@aws-sdk/client-sfn';
import { executionArnOf, executionNameFor } from '../../core/input';
import type { ScanDeps, ScanSummary } from './scan';

/**
 * Starts a scan's change on the state machine under its deterministic name, unless an execution of that name exists
 * already (started by an earlier run today, running or finished): then it reports "already started".
 */
export function sfnStarter(sfn: SFNClient, stateMachineArn: string): ScanDeps['start'] {
  return async (changeId, input) => {
    const name = executionNameFor(changeId);
    const executionArn = executionArnOf(stateMachineArn, name);
    try {
      await sfn.send(new DescribeExecutionCommand({ executionArn }));
      return 'EXISTS';
    } catch (err) {
      if ((err as Error).name !== 'ExecutionDoesNotExist') throw err;
    }
    try {
      await sfn.send(new StartExecutionCommand({ stateMachineArn, name, input: JSON.stringify(input) }));
      return 'STARTED';
    } catch (err) {
      if ((err as Error).name === 'ExecutionAlreadyExists') return 'EXISTS';
      throw err;
    }
  };
}

/** The summary in words, for the SNS message and the CLI. */
export function describeSummary(s: ScanSummary): string[] {
  const lines = [
    `keymat expiry scan at ${s.scannedAt}${s.dryRun ? ' (dry run: nothing started)' : ''}`,
    `${s.keysListed} keys listed, ${s.externalKeys} customer-managed EXTERNAL, ${s.outOfScope} outside the key scope; ${s.violations.length} materials violate the policy.`,
  ];
  for (const v of s.started)
    lines.push(`started ${v.changeId}: ${v.keyArn} material ${v.keyMaterialId} (${v.rule}: ${v.detail})`);
  for (const v of s.alreadyStarted)
    lines.push(`already started ${v.changeId}: ${v.keyArn} material ${v.keyMaterialId}`);
  if (s.dryRun)
    for (const v of s.violations)
      lines.push(`would start: ${v.keyArn} material ${v.keyMaterialId} (${v.rule}: ${v.detail})`);
  for (const k of s.skipped)
    lines.push(`skipped ${k.keyArn}${k.keyMaterialId ? ` material ${k.keyMaterialId}` : ''}: ${k.reason}`);
  return lines;
}
