import { attestStart, type Attestor } from '../../core/attestation';
import type { ChangeClient } from '../../core/change-client';
import { ChangeError } from '../../core/errors';
import { executionNameFor } from '../../core/naming';
import { counted } from '../../core/text';
import { SCAN_REQUESTER, type ScanDeps, type ScanSummary } from './scan';

/**
 * Starts a scan's change through the change client under its deterministic name, unless an execution of that name
 * exists already (started by an earlier run today, running or finished): then it reports "already started". An
 * earlier run's change with other input (the policy changed in between) counts as started too: one change per
 * material per day. Each start is attested as the scan's own (channel `scan`), so the workflow accepts it.
 */
export function changeStarter(changes: ChangeClient, attestor: Attestor): ScanDeps['start'] {
  return async (changeId, change) => {
    try {
      const input = { ...change, requestedBy: SCAN_REQUESTER };
      const attested = await attestStart(attestor, executionNameFor(changeId), input, 'scan', new Date());
      const started = await changes.start(changeId, attested);
      return started.state === 'STARTED' ? 'STARTED' : 'EXISTS';
    } catch (err) {
      if (err instanceof ChangeError && err.code === 'ChangeIdInUse') return 'EXISTS';
      throw err;
    }
  };
}

/** The summary in words, for the SNS message and the CLI. */
export function describeSummary(s: ScanSummary): string[] {
  const lines = [
    `keymat expiry scan at ${s.scannedAt}${s.dryRun ? ' (dry run: nothing started)' : ''}`,
    `${counted(s.keysListed, 'key')} listed, ${s.externalKeys} customer-managed EXTERNAL, ${s.outOfScope} outside the key scope; ${s.violations.length} materials violate the policy.`,
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
