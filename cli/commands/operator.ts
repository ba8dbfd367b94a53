import { Command, Option } from 'commander';
import { cliEnvironment } from '../env';
import type { ChangeStatus } from '../../core/change-client';
import { DEFAULT_WAIT_SECONDS, KMS_MAX_VALID_TO_DAYS, MAX_WAIT_SECONDS } from '../../core/defaults';
import { printable } from '../../core/text';
import { describeTicket } from '../../core/change-ticket';
import { describeWindow, type WindowCheck } from '../../core/change-window';
import { pendingProof, waitsForWindow } from '../../core/history';
import { recoveryLine } from '../../core/recovery';
import { RECOVERY_PROOF_MODES, type RecoveryProofMode } from '../../core/types';
import { describeLocation, describePlan } from '../../core/words';
import { checkStateFolder, readEventsOutbox, readOutbox } from '../../local/state/store';
import {
  approve,
  awsTarget,
  history,
  localTarget,
  pendingChanges,
  reject,
  startChange,
  type Target,
} from '../operations';
import { EXIT, lineWriter, printJson, type CliIo } from '../output';
import { validToOption, wholeNumber } from '../options';
import { DEFAULT_STATE_DIR } from '../../local/constants';

/** Exit code when an execution ended in anything but SUCCEEDED (status, status --watch): the one rule, `EXIT`. */
export const EXIT_EXECUTION_NOT_SUCCEEDED = EXIT.executionNotSucceeded;

/** The options every operator command takes: where to act, and how to print. */
export interface TargetOptions {
  local: boolean;
  stateDir: string;
  stateMachineArn?: string;
  /** Only on the commands that go through the gateway (start, approve, reject, scan). */
  gatewayUrl?: string;
  stackName: string;
  json: boolean;
}

/**
 * Every operator command works against AWS or, with --local, the local stack; all of them speak --json. Commands that
 * only read (status, history, pending) call Step Functions with your credentials.
 */
export function operatorCommand(name: string, description: string): Command {
  return new Command(name)
    .description(description)
    .option(
      '--local',
      'act on the local stack served for --state-dir (keymat local serve), as the user named by AWS_ACCESS_KEY_ID',
      false,
    )
    .option('--state-dir <dir>', 'state folder of the local stack', DEFAULT_STATE_DIR)
    .option(
      '--state-machine-arn <arn>',
      'the deployed state machine (default: $KEYMAT_STATE_MACHINE_ARN, else the stack output)',
    )
    .option('--stack-name <name>', 'the deployed stack whose StateMachineArn and GatewayUrl outputs to use', 'Keymat')
    .option('--json', 'print JSON for scripts', false);
}

/**
 * An operator command that acts through keymat's gateway: the request is signed with your AWS credentials (SigV4),
 * and the gateway records you, the signer, as the requester or approver.
 */
export function gatewayCommand(name: string, description: string): Command {
  return operatorCommand(name, `${description}; sent to keymat's gateway signed with your AWS credentials`).option(
    '--gateway-url <url>',
    "the gateway's Function URL (default: $KEYMAT_GATEWAY_URL, else the stack's GatewayUrl output)",
  );
}

/**
 * The target the options name: the local stack with --local, as the user `AWS_ACCESS_KEY_ID` names, else the deployed
 * stack.
 */
export const resolveTarget = (io: CliIo, opts: TargetOptions): Promise<Target> | Target =>
  opts.local ? localTarget(opts.stateDir, cliEnvironment(io.env).credentials) : awsTarget(opts, io.env);

/** Text from outside keymat's code (reasons, comments, causes, names) for a terminal: nothing in it can redraw it. */
const safe = (text: string | undefined): string => printable(text ?? '');

/** A window check in words: the calendars' state, and while CLOSED, until when the change waits and its bound. */
const windowWait = (w: WindowCheck): string =>
  `${describeWindow(w)}${w.waitUntil ? ` Waits until ${w.waitUntil}; ends ChangeWindowClosed if still CLOSED at ${w.deadline}.` : ''}`;

async function* once<T>(value: Promise<T>): AsyncGenerator<T> {
  yield await value;
}

/** start, pending, approve, reject, status, history, outbox and restore. */
export function operatorCommands(io: CliIo): Command[] {
  const say = lineWriter(io);
  const start = gatewayCommand(
    'start',
    'start a deletion change as its requester (a repeated start with the same change id is idempotent)',
  )
    .requiredOption('--key-id <id>', 'key id or key ARN (aliases are refused)')
    .requiredOption('--change-id <id>', 'change id, e.g. CHG-123; the execution is named after it')
    .requiredOption('--reason <text>', 'why the material is deleted')
    .option('--key-material-id <id>', 'the KeyMaterialId to delete (64 lower-case hex); default: the current material')
    .option(
      '--wait-seconds <n>',
      `seconds to wait before verifying (default: the deployment's, ${DEFAULT_WAIT_SECONDS} unless configured)`,
      wholeNumber('--wait-seconds', 0, MAX_WAIT_SECONDS),
    )
    .option('--dry-run', 'stop after the plan (status PLANNED); change nothing', false)
    .addOption(
      new Option(
        '--recovery-proof <mode>',
        "ask for a recovery proof stricter than the deployment's (docs/recovery.md)",
      ).choices(RECOVERY_PROOF_MODES),
    )
    .action(
      async (
        opts: TargetOptions & {
          keyId: string;
          changeId: string;
          reason: string;
          keyMaterialId?: string;
          waitSeconds?: number;
          dryRun: boolean;
          recoveryProof?: RecoveryProofMode;
        },
      ) => {
        const target = await resolveTarget(io, opts);
        const started = await startChange(target, {
          keyId: opts.keyId,
          changeId: opts.changeId,
          reason: opts.reason,
          ...(opts.keyMaterialId !== undefined && { keyMaterialId: opts.keyMaterialId }),
          ...(opts.waitSeconds !== undefined && { waitSeconds: opts.waitSeconds }),
          ...(opts.dryRun && { dryRun: true }),
          ...(opts.recoveryProof !== undefined && { recoveryProof: opts.recoveryProof }),
        });
        if (opts.json) printJson(io, started);
        else if (started.state === 'RUNNING') say(`already running: ${safe(started.executionArn)}`);
        else say(`started ${safe(started.executionArn)}`);
      },
    );

  const pending = operatorCommand(
    'pending',
    'list the changes waiting for a recovery proof, then for an approval (with their plans), then the approved ones waiting for their change window (read from Step Functions)',
  ).action(async (opts: TargetOptions) => {
    const { proofs, approvals, windows } = await pendingChanges(await resolveTarget(io, opts));
    if (opts.json) {
      printJson(io, {
        proofs: proofs.map((p) => ({
          executionArn: p.executionArn,
          keyArn: p.task.plan.keyArn,
          keyMaterialId: p.task.plan.keyMaterialId,
          location: p.task.plan.location,
        })),
        approvals: approvals.map((f) => ({
          executionArn: f.executionArn,
          location: f.task.plan.location,
          input: f.task.input,
          plan: f.task.plan,
        })),
        windows: windows.map((w) => ({ executionArn: w.executionArn, changeWindow: w.window ?? null })),
      });
      return;
    }
    if (proofs.length > 0) {
      say(
        "waiting for a custodian to prove the material can be imported again, or for a restore's copy (keymat recovery prove):",
      );
      for (const p of proofs) {
        say(`  ${safe(p.executionArn)}`);
        say(
          `    ${p.task.plan.restore ? 'restore of ' : ''}material ${safe(p.task.plan.keyMaterialId)} of ${safe(p.task.plan.keyArn)}`,
        );
      }
      say('');
    }
    say(approvals.length === 0 ? 'no change is waiting for an approval' : 'waiting for an approval:');
    for (const f of approvals) {
      say(`  ${safe(f.executionArn)}`);
      const recovery = recoveryLine(f.task.plan, f.task.recovery.proof);
      if (recovery) say(`    ${safe(recovery)}`);
      say(`    in ${safe(describeLocation(f.task.plan.location))}`);
      for (const line of describePlan(f.task.plan, f.task.input)) say(`    ${safe(line)}`);
      say('');
    }
    if (windows.length === 0) {
      say('no approved change is waiting for its change window');
      return;
    }
    say('approved, waiting for the change window:');
    for (const w of windows) {
      say(`  ${safe(w.executionArn)}`);
      say(`    ${safe(w.window ? windowWait(w.window) : 'checking the change calendars')}`);
    }
  });

  const approveCmd = gatewayCommand('approve', 'approve the change an execution waits on, as yourself')
    .argument('<execution>', 'execution ARN or name')
    .option('--comment <text>', 'a comment kept with the decision')
    .option(
      '--irreversible',
      'confirm that the deletion may be irreversible: needed when nobody proved that a copy of the material exists',
      false,
    )
    .action(async (execution: string, opts: TargetOptions & { comment?: string; irreversible: boolean }) => {
      const result = await approve(await resolveTarget(io, opts), execution, opts.comment, {
        irreversible: opts.irreversible,
      });
      if (opts.json) printJson(io, { execution, decision: 'approved', ...result });
      else {
        say(
          `approved ${safe(execution)} as ${safe(result.approver)} (${result.approvals} of ${result.quorum} approvals)`,
        );
      }
    });

  const rejectCmd = gatewayCommand(
    'reject',
    'reject the change an execution waits on (an approver), or withdraw your own (its requester): it ends ApprovalRejected',
  )
    .argument('<execution>', 'execution ARN or name')
    .requiredOption('--comment <text>', 'why the change is rejected')
    .action(async (execution: string, opts: TargetOptions & { comment: string }) => {
      const result = await reject(await resolveTarget(io, opts), execution, opts.comment);
      if (opts.json) printJson(io, { execution, decision: 'rejected', ...result });
      else if (result.as === 'REQUESTER') {
        say(`withdrew ${safe(execution)}: withdrawn by you, the requester (${safe(result.rejectedBy)})`);
      } else say(`rejected ${safe(execution)} as ${safe(result.rejectedBy)}`);
    });

  const status = operatorCommand(
    'status',
    'the plan, the current state and the progress of an execution (read from Step Functions with your credentials)',
  )
    .argument('<execution>', 'execution ARN or name')
    .option('--watch', 'update until the execution ends', false)
    .action(async (execution: string, opts: TargetOptions & { watch: boolean }) => {
      const target = await resolveTarget(io, opts);
      let shown = 0;
      let planShown = false;
      let locationShown = false;
      const looks = opts.watch ? target.changes.watch(execution) : once(target.changes.status(execution));
      let last: ChangeStatus | undefined;
      for await (const look of looks) {
        last = look;
        if (opts.json) continue;
        if (shown === 0) say(`${safe(look.described.name)}  (${safe(look.described.executionArn)})`);
        const input = look.approval?.task.input;
        const plan = look.approval?.task.plan ?? look.plan;
        if (plan && !locationShown) {
          say(`  in ${safe(describeLocation(plan.location))}`);
          locationShown = true;
        }
        if (plan && input && !planShown) {
          for (const line of describePlan(plan, input)) say(`  ${safe(line)}`);
          planShown = true;
        } else if (plan?.changeTicket && !planShown) {
          say(`  ${safe(describeTicket(plan.changeTicket))}`);
        }
        for (const state of look.entered.slice(shown)) say(`  → ${safe(state)}`);
        shown = look.entered.length;
      }
      if (!last) return;
      const { described, current, changeWindow } = last;
      const waiting = last.approval?.pending === true;
      const proofAsked = described.status === 'RUNNING' && pendingProof(last.events) !== undefined;
      const heldByWindow = waitsForWindow(current) && described.status === 'RUNNING';
      if (opts.json) {
        printJson(io, {
          executionArn: described.executionArn,
          status: described.status,
          currentState: current ?? null,
          statesEntered: last.entered,
          location: (last.approval?.task.plan ?? last.plan)?.location ?? null,
          waitingForApproval: waiting,
          waitingForRecoveryProof: proofAsked,
          waitingForChangeWindow: heldByWindow,
          changeWindow: changeWindow ?? null,
          changeTicket: last.plan?.changeTicket ?? null,
          output: described.output ? JSON.parse(described.output) : null,
          error: described.error ?? null,
          cause: described.cause ?? null,
        });
      } else {
        say(
          `${safe(described.status)}${current ? ` at ${safe(current)}` : ''}${waiting ? ' (waiting for an approval)' : ''}${proofAsked ? ' (waiting for a custodian: keymat recovery prove)' : ''}${heldByWindow ? ' (approved, waiting for the change window)' : ''}`,
        );
        if (changeWindow) say(`  ${safe(windowWait(changeWindow))}`);
        if (described.output) say(`  output: ${safe(described.output)}`);
        if (described.error) say(`  error: ${safe(described.error)}\n  cause: ${safe(described.cause)}`);
      }
      if (described.status !== 'RUNNING' && described.status !== 'SUCCEEDED') {
        io.exitCode = EXIT_EXECUTION_NOT_SUCCEEDED;
      }
    });

  const historyCmd = operatorCommand('history', 'the events of an execution (read from Step Functions)')
    .argument('<execution>', 'execution ARN or name')
    .action(async (execution: string, opts: TargetOptions) => {
      const events = await history(await resolveTarget(io, opts), execution);
      if (opts.json) {
        printJson(io, events);
        return;
      }
      for (const e of events) {
        const details = e.stateEnteredEventDetails?.name ?? e.stateExitedEventDetails?.name ?? '';
        const failure =
          e.executionFailedEventDetails ??
          e.lambdaFunctionFailedEventDetails ??
          e.taskFailedEventDetails ??
          e.executionAbortedEventDetails;
        say(
          `${String(e.id).padStart(3)}  ${e.timestamp?.toISOString()}  ${safe(e.type)}${details ? `  ${safe(details)}` : ''}${failure?.error ? `  ${safe(failure.error)}: ${safe(failure.cause)}` : ''}`,
        );
      }
    });

  const outbox = new Command('outbox')
    .description(
      'the SNS messages the local stack sent (approval requests, announcements, outcomes), or with --events the EventBridge events',
    )
    .option('--state-dir <dir>', 'state folder of the local stack', DEFAULT_STATE_DIR)
    .option('--events', "the change events put on the local stack's EventBridge instead", false)
    .option('--json', 'print JSON for scripts', false)
    .action((opts: { stateDir: string; json: boolean; events: boolean }) => {
      checkStateFolder(opts.stateDir);
      if (opts.events) {
        const events = readEventsOutbox(opts.stateDir);
        if (opts.json) return printJson(io, events);
        if (events.length === 0) say(`no event in ${safe(opts.stateDir)}`);
        for (const e of events) {
          say(`── ${safe(e.time)}  ${safe(e.eventBusName)}  ${safe(e.source)}  ${safe(e.detailType)}`);
          say(`   ${safe(JSON.stringify(e.detail))}`);
        }
        return;
      }
      const messages = readOutbox(opts.stateDir);
      if (opts.json) {
        printJson(io, messages);
        return;
      }
      if (messages.length === 0) say(`no message in ${safe(opts.stateDir)}`);
      for (const m of messages) {
        say(`── ${safe(m.time)}  ${safe(m.topicArn)}\n   ${safe(m.subject)}\n`);
        // Line by line, so the message keeps its lines and any other control character is shown escaped.
        for (const line of m.message.split('\n')) say(`   ${safe(line)}`);
        say('');
      }
    });

  const restore = gatewayCommand(
    'restore',
    "start a restore change as its requester: a deleted material imported back from a custodian's copy, once approved",
  )
    .requiredOption('--key-id <id>', 'key id or key ARN of the key the material was deleted from')
    .requiredOption('--key-material-id <id>', 'the KeyMaterialId to import back (64 lower-case hex)')
    .requiredOption(
      '--change-id <id>',
      "change id of the restore (not the deletion's); the execution is named after it",
    )
    .option('--reason <text>', 'why the material comes back', 'back-out of a deletion')
    .option(
      '--valid-to <instant>',
      `the material comes back expiring at this instant, e.g. 2027-06-30T00:00:00Z (at most ${KMS_MAX_VALID_TO_DAYS} days ahead); default: it does not expire`,
      validToOption,
    )
    .action(
      async (
        opts: TargetOptions & {
          keyId: string;
          keyMaterialId: string;
          changeId: string;
          reason: string;
          validTo?: string;
        },
      ) => {
        const started = await startChange(await resolveTarget(io, opts), {
          keyId: opts.keyId,
          keyMaterialId: opts.keyMaterialId,
          changeId: opts.changeId,
          reason: opts.reason,
          restore: true,
          validTo: opts.validTo,
        });
        if (opts.json) printJson(io, started);
        else if (started.state === 'RUNNING') say(`already running: ${safe(started.executionArn)}`);
        else {
          say(`started ${safe(started.executionArn)}`);
          say(
            `it waits for its approvals first (keymat pending); once approved, it publishes a request for the copy to the approval topic, and a custodian submits it with keymat recovery prove: see keymat status${opts.local ? ' --local' : ''} ${safe(started.executionArn)}`,
          );
        }
      },
    );

  return [start, pending, approveCmd, rejectCmd, status, historyCmd, outbox, restore];
}
