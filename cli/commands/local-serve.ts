import { Command, Option } from 'commander';
import { loadFaultFile } from '../../local/kms/faults';
import { LocalStack } from '../../local/services/server';
import { prepareWorkflow } from '../../local/workflow/workflow';
import {
  DEFAULT_APPROVAL_TIMEOUT_SECONDS,
  DEFAULT_PROOF_TIMEOUT_SECONDS,
  DEFAULT_QUORUM,
  DEFAULT_RECOVERY_PROOF,
  DEFAULT_RESTORE_QUORUM,
  MAX_PROOF_TIMEOUT_SECONDS,
} from '../../core/defaults';
import { RECOVERY_PROOF_MODES, type RecoveryProofMode } from '../../core/types';
import type { Members } from '../../core/organisation';
import { counted } from '../../core/text';
import { lineWriter, type CliIo } from '../output';
import {
  changeManagementOf,
  membersFile,
  principalList,
  wholeNumber,
  withChangeManagementOptions,
  type ChangeManagementOptions,
} from '../options';
import { DEFAULT_STATE_DIR } from '../../local/constants';

/** The accounts and Regions a `members` value covers, as people read it. */
const membersScope = ({ organizationId, organizationalUnits, accounts, regions }: Members): string => {
  const within = [...(organizationalUnits ?? []), ...(accounts ?? [])];
  return `${within.length > 0 ? within.join(', ') : 'every account'} of ${organizationId}, in ${regions.join(', ')}`;
};

/** Serves until SIGINT or SIGTERM, then closes the stack and ends the process. */
async function untilSignalled(stack: LocalStack): Promise<void> {
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await stack.close();
  // Executions stopped mid-wait may leave engine timers behind: they are marked lost at the next start.
  process.exit(0);
}

/**
 * `keymat local serve`: the whole local stack with the workflow of the options' settings, printed as it starts.
 * `serving` holds the started stack for as long as it serves (the `keymat` command's: until a signal; a test's own).
 */
export function localServeCommand(io: CliIo, serving: (stack: LocalStack) => Promise<void> = untilSignalled): Command {
  return withChangeManagementOptions(new Command('serve'))
    .description(
      'serve the whole local stack on 127.0.0.1: KMS, SNS, STS, EventBridge, SSM calendars and the Step Functions API of the workflow',
    )
    .option('--port <n>', 'TCP port; 0 picks a free one', wholeNumber('--port', 0, 65535), 0)
    .option('--state-dir <dir>', 'folder holding keys, executions, the outbox and the request log', DEFAULT_STATE_DIR)
    .option('--faults <file>', 'JSON fault file for the local KMS (see docs/local-stack.md, "Fault injection")')
    .option(
      '--approval-timeout <seconds>',
      'seconds an execution waits for an approval',
      wholeNumber('--approval-timeout', 1, 604_800),
      DEFAULT_APPROVAL_TIMEOUT_SECONDS,
    )
    .option('--quorum <n>', 'distinct approvers a change needs', wholeNumber('--quorum', 1, 10), DEFAULT_QUORUM)
    .option(
      '--approvers <list>',
      'comma-separated principals (ARNs or ARN patterns) allowed to approve, each once (default: anyone but the requester)',
      principalList,
    )
    .option(
      '--restore-quorum <n>',
      'distinct approvers a restore needs',
      wholeNumber('--restore-quorum', 1, 10),
      DEFAULT_RESTORE_QUORUM,
    )
    .option(
      '--custodians <list>',
      "comma-separated principals (ARNs or ARN patterns) allowed to submit a custodian's copy (default: anyone)",
      principalList,
    )
    .addOption(
      new Option('--recovery-proof <mode>', 'how strongly changes are asked for a recovery proof (docs/recovery.md)')
        .choices(RECOVERY_PROOF_MODES)
        .default(DEFAULT_RECOVERY_PROOF),
    )
    .option(
      '--proof-timeout <seconds>',
      "seconds a change waits for a custodian's recovery proof",
      wholeNumber('--proof-timeout', 1, MAX_PROOF_TIMEOUT_SECONDS),
      DEFAULT_PROOF_TIMEOUT_SECONDS,
    )
    .option(
      '--members <file>',
      "the member accounts and Regions of the state folder's organisation the workflow acts in, as JSON (a hub's `members` prop, or a cdk.json holding it; default: the hub's account only)",
      membersFile,
    )
    .action(
      async (
        opts: ChangeManagementOptions & {
          port: number;
          stateDir: string;
          faults?: string;
          approvalTimeout: number;
          quorum: number;
          approvers?: string[];
          restoreQuorum: number;
          custodians?: string[];
          recoveryProof: RecoveryProofMode;
          proofTimeout: number;
          members?: Members;
        },
        command: Command,
      ) => {
        const changeManagement = changeManagementOf(opts, command);
        const stack = await LocalStack.start({
          port: opts.port,
          stateDir: opts.stateDir,
          ...(opts.faults && { faults: loadFaultFile(opts.faults) }),
          workflow: (endpoint) =>
            prepareWorkflow(endpoint, {
              approvalTimeoutSeconds: opts.approvalTimeout,
              quorum: opts.quorum,
              changeManagement,
              ...(opts.approvers && { approvers: opts.approvers }),
              restoreQuorum: opts.restoreQuorum,
              ...(opts.custodians && { custodians: opts.custodians }),
              recoveryProof: opts.recoveryProof,
              proofTimeoutSeconds: opts.proofTimeout,
              ...(opts.members && { organisation: { members: opts.members } }),
            }),
        });
        const say = lineWriter(io);
        say(`keymat local stack at ${stack.endpoint} (state in ${opts.stateDir})`);
        say(`  state machine ${stack.stateMachineArn}`);
        say(
          `  changes: ${counted(opts.quorum, 'distinct approver')}, ${opts.approvers?.join(', ') ?? 'anyone but the requester'}; recovery proof ${opts.recoveryProof}`,
        );
        say(
          `  restores: ${counted(opts.restoreQuorum, 'distinct approver')}; custodians: ${opts.custodians?.join(', ') ?? 'anyone'}`,
        );
        say(`  keys: the hub's${opts.members ? `, and those of ${membersScope(opts.members)}` : ' only'}`);
        say(`  keymat start --local --key-id … --change-id … --reason …   (as AWS_ACCESS_KEY_ID's user)`);
        say(
          `  aws stepfunctions list-executions --endpoint-url ${stack.endpoint} --state-machine-arn ${stack.stateMachineArn}`,
        );
        await serving(stack);
      },
    );
}
