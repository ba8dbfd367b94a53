import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describeFleetScan } from '../../core/fleet-scan';
import type { Members } from '../../core/organisation';
import { readImportParameters } from '../../core/recovery';
import { printable } from '../../core/text';
import { diagnoseFleet } from '../../functions/runtime/org-doctor';
import { createExternalKey, localKmsClient } from '../../local/kms/byok';
import { memberRoles } from '../../local/services/member-roles';
import { LocalStack } from '../../local/services/server';
import { addAccount, addOrganizationalUnit, initOrganization, readOrganization } from '../../local/state/organization';
import { readOutbox, readRequestLog, requestLogEnd, runningEndpoint } from '../../local/state/store';
import { runLocalFleetScan } from '../../local/workflow/fleet-scan';
import { prepareWorkflow } from '../../local/workflow/workflow';
import { approve, localTarget, proveRecovery, startChange } from '../operations';
import { CliError, lineWriter, type CliIo } from '../output';
import { doctorLines, localDoctorAccess } from './org';

/**
 * `keymat demo --org`: keymat across an organisation on a fresh local stack. One hub (the local account, also the
 * management account) and three member accounts in two Regions: a change on a key of a production account in another
 * Region, approved at the hub by the two approvers production needs, deleted through the member's delete role; the
 * member's request log showing the deletion under that role with the change's SourceIdentity; a fleet scan over the
 * three members × two Regions; and the fleet doctor's table. One member lacks keymat's roles: its scan children fail
 * with the cause, and the doctor says what to do.
 */

const ORGANIZATION_ID = 'o-keymatdemo1';
/** The demo organisation's accounts besides the hub; `roles: false`: the account the StackSet has not reached. */
const ACCOUNTS = [
  { id: '444455556666', name: 'payments-prod', ou: 'Production', roles: true },
  { id: '555566667777', name: 'analytics-sandbox', ou: 'Sandbox', roles: true },
  { id: '666677778888', name: 'legacy-batch', ou: 'Sandbox', roles: false },
] as const;
const REGIONS = ['us-east-1', 'eu-west-1'];
/** The key's account and Region: neither the hub's. */
const [PAYMENTS] = ACCOUNTS;
const KEY_REGION = 'eu-west-1';
const APPROVERS = ['bob', 'carol'];

/** How long the demo waits for a request to reach the outbox (the machine may be busy). */
const REQUEST_TIMEOUT_MS = 30_000;
const CUSTODIAN_COMMAND = '$ AWS_ACCESS_KEY_ID=dave keymat recovery prove --local … --material material.bin';

const as = (user: string) => ({ accessKeyId: user, secretAccessKey: 'local' });

/**
 * Runs the organisation demo on `stateDir`, which must hold no organisation and be served by no stack: the demo
 * serves it itself, with the members and the production rule its workflow needs.
 */
export async function demoOrg(io: CliIo, stateDir: string): Promise<void> {
  const say = lineWriter(io);
  if (runningEndpoint(stateDir)) {
    throw new CliError(
      `a local stack is serving ${stateDir}: stop it, or give keymat demo --org a fresh --state-dir (the demo serves its own, with the organisation's members)`,
    );
  }
  if (readOrganization(stateDir)) {
    throw new CliError(
      `${stateDir} holds an organisation already: give keymat demo --org a fresh --state-dir, as it builds its own`,
    );
  }

  say(`keymat demo --org: one hub, three member accounts, two Regions (state in ${stateDir})`);
  say('\n1. The organisation (keymat local org init / add-ou / add-account):');
  initOrganization(stateDir, { organizationId: ORGANIZATION_ID, roles: () => [] });
  const units = new Map<string, string>();
  for (const name of new Set(ACCOUNTS.map((a) => a.ou))) {
    units.set(name, addOrganizationalUnit(stateDir, { name }).id);
  }
  for (const account of ACCOUNTS) {
    addAccount(stateDir, {
      id: account.id,
      name: account.name,
      parentId: units.get(account.ou) as string,
      roles: account.roles ? memberRoles : () => [],
    });
    say(
      `   ${account.id} ${account.name} in ${account.ou}${account.roles ? ", with keymat's member roles" : ': the members StackSet has not reached it (no roles)'}`,
    );
  }
  const production = units.get(PAYMENTS.ou) as string;
  const members: Members = { organizationId: ORGANIZATION_ID, regions: REGIONS };
  say(`   members: every account of ${ORGANIZATION_ID}, in ${REGIONS.join(' and ')}; ${PAYMENTS.ou} needs 2 approvers`);

  const stack = await LocalStack.start({
    stateDir,
    workflow: (endpoint) =>
      prepareWorkflow(endpoint, {
        approvalTimeoutSeconds: 600,
        organisation: {
          members,
          approvalRules: [{ name: 'production', match: { organizationalUnit: production }, quorum: 2 }],
        },
      }),
  });
  try {
    say(`\n2. A key of ${PAYMENTS.name} (${PAYMENTS.id}) in ${KEY_REGION}, with imported material:`);
    const key = await createExternalKey(localKmsClient(stack.endpoint, KEY_REGION, PAYMENTS.id), {
      description: 'keymat organisation demo key',
      materialDir: join(stateDir, 'byok'),
    });
    say(`   ${key.keyArn}`);

    const changeId = `ORG-${key.keyId.slice(0, 8)}`;
    say(`\n3. alice starts change ${changeId} at the hub:`);
    say(
      `   $ AWS_ACCESS_KEY_ID=alice keymat start --local --key-id ${key.keyArn} --change-id ${changeId} --reason "…"`,
    );
    const logStart = requestLogEnd(stateDir);
    const { executionArn } = await startChange(localTarget(stateDir, as('alice')), {
      keyId: key.keyArn,
      changeId,
      reason: 'retire the payments BYOK material',
      waitSeconds: 1,
    });
    const asked = await published(stateDir, executionArn, 'RecoveryProofRequested');
    say(`   dave, a custodian, proves the material can be imported again (${CUSTODIAN_COMMAND}):`);
    const proof = await proveRecovery(localTarget(stateDir, as('dave')), executionArn, readImportParameters(asked), {
      material: readFileSync(key.materialFile as string),
    });
    say(`   proven by ${printable(proof.custodian)}, through ${PAYMENTS.name}'s member recovery role`);
    say('   The approval request names the account, its OU path and the Region:');
    const request = await published(stateDir, executionArn, 'ApprovalRequested');
    for (const line of request.split('\n')) say(`   │ ${printable(line)}`);

    say(`\n4. ${APPROVERS.join(' and ')} approve it (production needs two):`);
    for (const approver of APPROVERS) {
      const answer = await approve(localTarget(stateDir, as(approver)), executionArn, 'checked with payments');
      say(`   ${printable(answer.approver)}: ${answer.approvals} of ${answer.quorum} approvals`);
    }

    const target = localTarget(stateDir, as('bob'));
    let described;
    for await (const look of target.changes.watch(executionArn, { intervalMs: 200 })) described = look.described;
    if (described?.status !== 'SUCCEEDED') {
      throw new CliError(`the demo change ended ${described?.status ?? 'unwatched'}: ${described?.error ?? ''}`);
    }
    const output = JSON.parse(described.output ?? '{}') as { status?: string; keyStateAfter?: string };
    say(`   ${described.status}: ${output.status} in ${PAYMENTS.id} ${KEY_REGION}, key ${output.keyStateAfter}`);

    say(
      `\n5. ${PAYMENTS.name}'s request log (its CloudTrail): the deletion under the member delete role, with the change`,
    );
    for (const entry of readRequestLog(stateDir, logStart)) {
      if (entry.account !== PAYMENTS.id || entry.operation !== 'DeleteImportedKeyMaterial') continue;
      say(`   ${entry.time} ${entry.operation} ${entry.status}`);
      say(`     caller ${entry.caller ?? ''}`);
      say(`     sourceIdentity ${entry.sourceIdentity ?? ''}`);
    }

    const scanned = { ...members, accounts: ACCOUNTS.map((a) => a.id) };
    say(
      `\n6. The fleet scan over the ${ACCOUNTS.length} member accounts × ${REGIONS.length} Regions ($ keymat scan --org --local --regions ${REGIONS.join(',')} --accounts … --dry-run):`,
    );
    const { summary } = await runLocalFleetScan({ stateDir, members: scanned, dryRun: true });
    for (const line of describeFleetScan(summary)) say(`   ${printable(line)}`);

    say('\n7. The fleet doctor from the hub ($ keymat org doctor --local --regions us-east-1,eu-west-1):');
    const access = localDoctorAccess(stateDir, stack.endpoint);
    for (const line of doctorLines(await diagnoseFleet(access.deps, members), access.identity)) say(`   ${line}`);
    say('   (keymat org doctor exits 1 on these failures.)');
    say('\nDone. Next: keymat local org list, keymat org doctor --help');
  } finally {
    await stack.close();
  }
}

/** The text of a request an execution published (`RecoveryProofRequested`, `ApprovalRequested`), once in the outbox. */
async function published(stateDir: string, executionArn: string, event: string): Promise<string> {
  const deadline = Date.now() + REQUEST_TIMEOUT_MS;
  for (;;) {
    const found = readOutbox(stateDir).find(
      (m) => m.attributes.executionId === executionArn && m.attributes.event === event,
    );
    if (found) return found.message;
    if (Date.now() > deadline) {
      throw new CliError(`no ${event} message for ${executionArn} reached the outbox of ${stateDir}`);
    }
    await sleep(100);
  }
}
