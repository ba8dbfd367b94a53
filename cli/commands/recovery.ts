import { Command } from 'commander';
import { printable } from '../../core/text';
import { readImportParameters } from '../../core/recovery';
import { proveRecovery, type CustodianCopy } from '../operations';
import { CliError, lineWriter, printJson, type CliIo } from '../output';
import { readOptionFile } from '../options';
import { gatewayCommand, resolveTarget, type TargetOptions } from './operator';

/**
 * `keymat recovery prove`: a custodian shows KMS the escrowed copy of a material before its deletion is approved, or
 * gives a restore its copy (docs/recovery.md). A plaintext copy is wrapped in this process under the published public key; only the wrapped
 * bytes leave it.
 */
export function recoveryCommand(io: CliIo): Command {
  const say = lineWriter(io);
  const prove = gatewayCommand('prove', 'prove that the material an execution deletes can be imported again')
    .argument('<execution>', 'execution ARN or name')
    .requiredOption('--parameters <file>', 'the recovery proof request the change published (or its last line)')
    .option('--wrapped <file>', 'your copy, wrapped under the published public key (e.g. by your HSM)')
    .option('--material <file>', 'your plaintext copy: wrapped here, never sent')
    .action(
      async (execution: string, opts: TargetOptions & { parameters: string; wrapped?: string; material?: string }) => {
        if ((opts.wrapped === undefined) === (opts.material === undefined)) {
          throw new CliError('give exactly one of --wrapped FILE and --material FILE');
        }
        const parameters = readImportParameters(readOptionFile('--parameters', opts.parameters).toString('utf8'));
        const copy: CustodianCopy =
          opts.wrapped !== undefined
            ? { wrapped: readOptionFile('--wrapped', opts.wrapped) }
            : { material: readOptionFile('--material', opts.material as string) };
        const result = await proveRecovery(await resolveTarget(io, opts), execution, parameters, copy);
        if (opts.json) printJson(io, result);
        else {
          const status = `keymat status${opts.local ? ' --local' : ''} ${printable(execution)}`;
          say(
            `submitted a copy of material ${printable(result.keyMaterialId)} as ${printable(result.custodian)} (SHA-256 ${result.submissionDigest})`,
          );
          say(
            result.restore
              ? `the approved restore imports it now: see ${status}`
              : `keymat reimports it into the key to prove the deletion can be undone, then asks for the approvals: see ${status}`,
          );
        }
      },
    );
  return new Command('recovery')
    .description('recovery proofs: show KMS that a material about to be deleted can be imported again')
    .addCommand(prove);
}
