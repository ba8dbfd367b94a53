import { describeTicket } from './change-ticket';
import { describeWindow } from './change-window';
import type { KeyLocation } from './organisation';
import type { ApprovalRules, ChangeInput, Plan } from './types';

/** Where a key lives, in one phrase: `account 111122223333 (payroll-prod), OU Workloads / Production, eu-west-1`. */
export function describeLocation(location: KeyLocation): string {
  const name = location.accountName === location.account ? '' : ` (${location.accountName})`;
  const ous = location.ouPath.length > 0 ? `, OU ${location.ouPath.join(' / ')}` : '';
  return `account ${location.account}${name}${ous}, ${location.region}`;
}

/** The approval rules a change takes, in one sentence. */
export function describeRules(rules: ApprovalRules): string {
  const source = rules.rule === undefined ? "the deployment's rules" : `rule ${rules.rule}`;
  const who =
    rules.allowedApprovers.length > 0 ? `from ${rules.allowedApprovers.join(', ')}` : 'anyone but the requester';
  return `Approval (${source}): ${rules.quorum} distinct approver${rules.quorum === 1 ? '' : 's'}, ${who}.`;
}

/** The plan in words a person can check, for the approval request, the CLI and the outcome message. */
export function describePlan(plan: Plan, input: ChangeInput): string[] {
  const material =
    plan.keyMaterialState === 'CURRENT' ? 'the CURRENT key material' : `key material in state ${plan.keyMaterialState}`;
  const effect = plan.restore
    ? `The key becomes ${plan.expectedKeyState} once the material is back; ciphertexts made under it decrypt again.`
    : plan.expectedKeyState === 'PendingImport'
      ? 'The key becomes PendingImport: unusable for every encrypt and decrypt until the same material is reimported.'
      : `The key stays ${plan.expectedKeyState}: the material is pending rotation, not yet associated with the key.`;
  const action = plan.restore
    ? `Restore ${material} ${plan.keyMaterialId} (deleted, ${plan.importStateBefore}) from a custodian's copy into a key that is ${plan.keyStateBefore}, ${plan.validTo ? `expiring again at ${plan.validTo} (KMS deletes it then)` : 'without an expiry'}.`
    : `Delete ${material} ${plan.keyMaterialId} (${plan.importStateBefore}${plan.materialValidTo ? `, valid to ${plan.materialValidTo}` : ''}) from a key that is ${plan.keyStateBefore}.`;
  const lines = [
    `Change ${input.changeId}, requested by ${input.requestedBy}`,
    `Reason: ${input.reason}`,
    `Key: ${plan.keyArn}${plan.aliases.length > 0 ? ` (aliases: ${plan.aliases.join(', ')})` : ' (no aliases)'}`,
    `Where: ${describeLocation(plan.location)}`,
    action,
    effect,
  ];
  if (plan.multiRegion.replicasAffected.length > 0) {
    lines.push(`Multi-Region: also deleted from replicas ${plan.multiRegion.replicasAffected.join(', ')}.`);
  } else if (plan.multiRegion.role !== 'NONE') {
    lines.push(`Multi-Region ${plan.multiRegion.role.toLowerCase()} key: only this Region's key is affected.`);
  }
  lines.push(
    plan.lastUsage.known
      ? `Last used: ${plan.lastUsage.operation} at ${plan.lastUsage.at} (GetKeyLastUsage; CloudTrail is authoritative).`
      : `Last used: unknown${plan.lastUsage.trackingStartDate ? ` (no use recorded since tracking started ${plan.lastUsage.trackingStartDate})` : ' (KMS returned no usage data)'}.`,
  );
  lines.push(describeRules(plan.rules));
  if (plan.changeTicket) lines.push(describeTicket(plan.changeTicket));
  if (plan.changeWindow) lines.push(describeWindow(plan.changeWindow));
  for (const warning of plan.warnings) lines.push(`WARNING: ${warning}.`);
  if (plan.alreadyDeleted && !plan.restore) lines.push('The material is already deleted: nothing will be changed.');
  lines.push(`Plan digest: ${plan.digest}`);
  return lines;
}
