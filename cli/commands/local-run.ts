import { Command, Option } from 'commander';
import type { HistoryEvent } from '../../local/workflow/engine';
import { loadFaultFile } from '../../local/kms/faults';
import { localApprover } from '../../local/workflow/approver';
import { localCustodian } from '../../local/workflow/custodian';
import { readFileSync } from 'node:fs';
import { type LocalRunResult, openLocalWorkflow } from '../../local/workflow/workflow';
import { cliEnvironment } from '../env';
import { DEFAULT_WAIT_SECONDS, MAX_WAIT_SECONDS } from '../../core/defaults';
import { EXIT, printJson, type CliIo } from '../output';
import {
  changeManagementOf,
  validToOption,
  wholeNumber,
  withChangeManagementOptions,
  type ChangeManagementOptions,
} from '../options';
import { DEFAULT_STATE_DIR } from '../../local/constants';

/** One line per state entered, left, retried or failed, as `keymat local run` and the demo print them. */
function describeEvent(e: HistoryEvent): string | undefined {
  switch (e.type) {
    case 'StateEntered':
      return `  → ${e.state}`;
    case 'StateExited':
      return `  ← ${e.state}`;
    case 'StateFailed':
      return `  ✗ ${e.state}: ${e.error}${e.cause ? ` (${e.cause})` : ''}`;
    case 'StateRetried':
      return `  ↻ ${e.state}: retrying`;
    case 'StateCaught':
      return `  ↪ ${e.state}: caught, going to the outcome`;
    default:
      return undefined;
  }
}

function describeResult(r: LocalRunResult): string {
  const lines = [`${r.status}  ${r.executionArn}`];
  if (r.error) lines.push(`  error: ${r.error}`, `  cause: ${r.cause}`);
  if (r.output) lines.push(`  output: ${JSON.stringify(r.output)}`);
  const calls = r.kmsCalls.map((c) => `${c.operation}${c.error ? `(${c.error})` : ''}`);
  lines.push(`  KMS calls: ${calls.join(', ') || 'none recorded'}`);
  return lines.join('\n');
}

interface RunOptions extends ChangeManagementOptions {
  keyId: string;
  keyMaterialId?: string;
  changeId: string;
  reason: string;
  requestedBy: string;
  approve: 'auto' | 'reject' | 'none';
  approvalTimeout: number;
  waitSeconds?: number;
  dryRun: boolean;
  restore: boolean;
  validTo?: string;
  faults?: string;
  stateDir: string;
  kmsEndpoint?: string;
  prove?: string;
  irreversible: boolean;
  json: boolean;
}

export function localRunCommand(io: CliIo): Command {
  return withChangeManagementOptions(new Command('run'))
    .description('run one execution of the workflow on the local stack, with the real handlers')
    .requiredOption('--key-id <id>', 'key id or key ARN (aliases are refused)')
    .option('--key-material-id <id>', 'the KeyMaterialId to delete (64 lower-case hex); default: the current material')
    .requiredOption('--change-id <id>', 'change id, e.g. CHG-123')
    .requiredOption('--reason <text>', 'why the material is deleted')
    .requiredOption('--requested-by <name>', 'who requests the change')
    .addOption(
      new Option(
        '--approve <mode>',
        'who answers the approval request: auto approves, reject rejects, none lets it time out',
      )
        .choices(['auto', 'reject', 'none'])
        .default('auto'),
    )
    .option(
      '--approval-timeout <seconds>',
      'seconds RequestApproval waits for a decision',
      wholeNumber('--approval-timeout', 1, 604_800),
      3600,
    )
    .option(
      '--wait-seconds <n>',
      `seconds WaitForPropagation waits (default: the workflow default, ${DEFAULT_WAIT_SECONDS})`,
      wholeNumber('--wait-seconds', 0, MAX_WAIT_SECONDS),
    )
    .option(
      '--prove <material-file>',
      'a custodian answers the recovery proof request with this plaintext copy of the material (wrapped locally)',
    )
    .option(
      '--irreversible',
      'the approver confirms that an unproven deletion may be irreversible (without --prove, a change needs it)',
      false,
    )
    .option('--dry-run', 'stop after the plan (status PLANNED); change nothing', false)
    .option(
      '--restore',
      "restore the deleted --key-material-id instead of deleting it (the custodian's copy comes from --prove)",
      false,
    )
    .option(
      '--valid-to <instant>',
      'with --restore: the material comes back expiring at this instant, e.g. 2027-06-30T00:00:00Z',
      validToOption,
    )
    .option('--faults <file>', 'JSON fault file for the local KMS (see docs/local-stack.md, "Fault injection")')
    .option('--state-dir <dir>', 'state folder of the local stack', DEFAULT_STATE_DIR)
    .option(
      '--kms-endpoint <url>',
      'send the handlers KMS calls to this endpoint instead (default: $AWS_ENDPOINT_URL_KMS, else the local KMS)',
      cliEnvironment(io.env).kmsEndpoint,
    )
    .option('--json', 'print one JSON object instead of the progress', false)
    .action(async (opts: RunOptions, command: Command) => {
      const workflow = await openLocalWorkflow({
        stateDir: opts.stateDir,
        approvalTimeoutSeconds: opts.approvalTimeout,
        ...(opts.faults && { faults: loadFaultFile(opts.faults) }),
        ...(opts.kmsEndpoint && { kmsEndpoint: opts.kmsEndpoint }),
        changeManagement: changeManagementOf(opts, command),
      });
      try {
        const input = {
          keyId: opts.keyId,
          ...(opts.keyMaterialId !== undefined && { keyMaterialId: opts.keyMaterialId }),
          changeId: opts.changeId,
          reason: opts.reason,
          requestedBy: opts.requestedBy,
          ...(opts.waitSeconds !== undefined && { waitSeconds: opts.waitSeconds }),
          ...(opts.dryRun && { dryRun: true }),
          ...(opts.restore && { restore: true }),
          ...(opts.validTo !== undefined && { validTo: opts.validTo }),
        };
        const result = await workflow.run(input, {
          decide: localApprover(opts.approve, undefined, { irreversible: opts.irreversible }),
          ...(opts.prove !== undefined && { custodian: localCustodian(readFileSync(opts.prove)) }),
          onEvent: opts.json
            ? undefined
            : (e) => {
                const line = describeEvent(e);
                if (line) io.write(`${line}\n`);
              },
        });
        // The history as the contract names it: the engine's TaskScheduled parameters carry the task token.
        if (opts.json) {
          printJson(io, {
            ...result,
            history: result.history.map(({ type, state, timestamp }) => ({ type, state: state ?? null, timestamp })),
          });
        } else io.write(`${describeResult(result)}\n`);
        io.exitCode = result.status === 'SUCCEEDED' ? EXIT.ok : EXIT.executionNotSucceeded;
      } finally {
        await workflow.close();
      }
    });
}
