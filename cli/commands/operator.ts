import { Command } from 'commander';
import { join } from 'node:path';
import type { ChangeStatus } from '../../core/change-client';
import { DEFAULT_STATE_DIR, DEFAULT_WAIT_SECONDS, MAX_WAIT_SECONDS } from '../../core/defaults';
import { describePlan } from '../../core/words';
import { readOutbox } from '../../local/sns';
import {
  approve,
  awsTarget,
  history,
  localTarget,
  pendingApprovals,
  reject,
  startChange,
  type Target,
} from '../operations';
import { printJson } from '../output';
import { wholeNumber } from '../options';

/** Exit code when an execution ended in anything but SUCCEEDED (status, status --watch). */
export const EXIT_EXECUTION_NOT_SUCCEEDED = 3;

/** The options every operator command takes: where to act, and how to print. */
export interface TargetOptions {
  local: boolean;
  stateDir: string;
  stateMachineArn?: string;
  stackName: string;
  json: boolean;
}

/** Every operator command works against AWS or, with --local, the local stack; all of them speak --json. */
export function operatorCommand(name: string, description: string): Command {
  return new Command(name)
    .description(description)
    .option('--local', 'act on the local stack served for --state-dir (keymat local serve)', false)
    .option('--state-dir <dir>', 'state folder of the local stack', DEFAULT_STATE_DIR)
    .option(
      '--state-machine-arn <arn>',
      'the deployed state machine (default: $KEYMAT_STATE_MACHINE_ARN, else the stack output)',
    )
    .option('--stack-name <name>', 'the deployed stack whose StateMachineArn output to use', 'Keymat')
    .option('--json', 'print JSON for scripts', false);
}

/** The target the options name: the local stack with --local, else the deployed stack. */
export const resolveTarget = (opts: TargetOptions): Promise<Target> | Target =>
  opts.local ? localTarget(opts.stateDir) : awsTarget(opts);

const say = (line: string): void => void process.stdout.write(`${line}\n`);

async function* once<T>(value: Promise<T>): AsyncGenerator<T> {
  yield await value;
}

/** start, pending, approve, reject, status, history and outbox. */
export function operatorCommands(): Command[] {
  const start = operatorCommand(
    'start',
    'start a deletion change (a repeated start with the same change id is idempotent)',
  )
    .requiredOption('--key-id <id>', 'key id or key ARN (aliases are refused)')
    .requiredOption('--change-id <id>', 'change id, e.g. CHG-123; the execution is named after it')
    .requiredOption('--reason <text>', 'why the material is deleted')
    .option('--key-material-id <id>', 'the KeyMaterialId to delete (64 lower-case hex); default: the current material')
    .option('--requested-by <name>', 'the requester (default: your identity from STS GetCallerIdentity)')
    .option(
      '--wait-seconds <n>',
      `seconds to wait before verifying (default: the deployment's, ${DEFAULT_WAIT_SECONDS} unless configured)`,
      wholeNumber('--wait-seconds', 0, MAX_WAIT_SECONDS),
    )
    .option('--dry-run', 'stop after the plan (status PLANNED); change nothing', false)
    .action(
      async (
        opts: TargetOptions & {
          keyId: string;
          changeId: string;
          reason: string;
          keyMaterialId?: string;
          requestedBy?: string;
          waitSeconds?: number;
          dryRun: boolean;
        },
      ) => {
        const target = await resolveTarget(opts);
        const started = await startChange(target, {
          keyId: opts.keyId,
          changeId: opts.changeId,
          reason: opts.reason,
          ...(opts.keyMaterialId !== undefined && { keyMaterialId: opts.keyMaterialId }),
          ...(opts.requestedBy !== undefined && { requestedBy: opts.requestedBy }),
          ...(opts.waitSeconds !== undefined && { waitSeconds: opts.waitSeconds }),
          ...(opts.dryRun && { dryRun: true }),
        });
        if (opts.json) printJson({ executionArn: started.executionArn, requestedBy: started.input.requestedBy });
        else say(`started ${started.executionArn}\n  requested by ${started.input.requestedBy}`);
      },
    );

  const pending = operatorCommand('pending', 'list the changes waiting for an approval, with their plans').action(
    async (opts: TargetOptions) => {
      const found = await pendingApprovals(await resolveTarget(opts));
      if (opts.json) {
        printJson(found.map((f) => ({ executionArn: f.executionArn, input: f.task.input, plan: f.task.plan })));
        return;
      }
      if (found.length === 0) say('no change is waiting for an approval');
      for (const f of found) {
        say(f.executionArn);
        for (const line of describePlan(f.task.plan, f.task.input)) say(`  ${line}`);
        say('');
      }
    },
  );

  const approveCmd = operatorCommand('approve', 'approve the change an execution waits on, as yourself')
    .argument('<execution>', 'execution ARN or name')
    .option('--comment <text>', 'a comment kept with the decision')
    .action(async (execution: string, opts: TargetOptions & { comment?: string }) => {
      const result = await approve(await resolveTarget(opts), execution, opts.comment);
      if (opts.json) printJson({ execution, decision: 'approved', ...result });
      else {
        say(`approved ${execution} as ${result.approver} (${result.approvals} of ${result.quorum} approvals)`);
      }
    });

  const rejectCmd = operatorCommand('reject', 'reject the change an execution waits on: it ends ApprovalRejected')
    .argument('<execution>', 'execution ARN or name')
    .requiredOption('--comment <text>', 'why the change is rejected')
    .action(async (execution: string, opts: TargetOptions & { comment: string }) => {
      const result = await reject(await resolveTarget(opts), execution, opts.comment);
      if (opts.json) printJson({ execution, decision: 'rejected', ...result });
      else say(`rejected ${execution} as ${result.rejectedBy}`);
    });

  const status = operatorCommand('status', 'the plan, the current state and the progress of an execution')
    .argument('<execution>', 'execution ARN or name')
    .option('--watch', 'update until the execution ends', false)
    .action(async (execution: string, opts: TargetOptions & { watch: boolean }) => {
      const target = await resolveTarget(opts);
      let shown = 0;
      let planShown = false;
      const looks = opts.watch ? target.changes.watch(execution) : once(target.changes.status(execution));
      let last: ChangeStatus | undefined;
      for await (const look of looks) {
        last = look;
        if (opts.json) continue;
        if (shown === 0) say(`${look.described.name}  (${look.described.executionArn})`);
        if (look.approval && !planShown) {
          for (const line of describePlan(look.approval.task.plan, look.approval.task.input)) say(`  ${line}`);
          planShown = true;
        }
        for (const state of look.entered.slice(shown)) say(`  → ${state}`);
        shown = look.entered.length;
      }
      if (!last) return;
      const { described, current } = last;
      const waiting = last.approval?.pending === true;
      if (opts.json) {
        printJson({
          executionArn: described.executionArn,
          status: described.status,
          currentState: current ?? null,
          statesEntered: last.entered,
          waitingForApproval: waiting,
          output: described.output ? JSON.parse(described.output) : null,
          error: described.error ?? null,
          cause: described.cause ?? null,
        });
      } else {
        say(`${described.status}${current ? ` at ${current}` : ''}${waiting ? ' (waiting for an approval)' : ''}`);
        if (described.output) say(`  output: ${described.output}`);
        if (described.error) say(`  error: ${described.error}\n  cause: ${described.cause}`);
      }
      if (described.status !== 'RUNNING' && described.status !== 'SUCCEEDED') {
        process.exitCode = EXIT_EXECUTION_NOT_SUCCEEDED;
      }
    });

  const historyCmd = operatorCommand('history', 'the events of an execution')
    .argument('<execution>', 'execution ARN or name')
    .action(async (execution: string, opts: TargetOptions) => {
      const events = await history(await resolveTarget(opts), execution);
      if (opts.json) {
        printJson(events);
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
          `${String(e.id).padStart(3)}  ${e.timestamp?.toISOString()}  ${e.type}${details ? `  ${details}` : ''}${failure?.error ? `  ${failure.error}: ${failure.cause ?? ''}` : ''}`,
        );
      }
    });

  const outbox = new Command('outbox')
    .description('the SNS messages the local stack sent (approval requests, announcements, outcomes)')
    .option('--state-dir <dir>', 'state folder of the local stack', DEFAULT_STATE_DIR)
    .option('--json', 'print JSON for scripts', false)
    .action((opts: { stateDir: string; json: boolean }) => {
      const messages = readOutbox(join(opts.stateDir, 'outbox.jsonl'));
      if (opts.json) {
        printJson(messages);
        return;
      }
      if (messages.length === 0) say(`no message in ${opts.stateDir}`);
      for (const m of messages) {
        say(`── ${m.time}  ${m.topicArn}\n   ${m.subject ?? ''}\n`);
        say(m.message.replace(/^/gm, '   '));
        say('');
      }
    });

  return [start, pending, approveCmd, rejectCmd, status, historyCmd, outbox];
}
