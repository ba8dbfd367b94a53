import { Command } from 'commander';
import type { CliIo } from '../output';
import { localCalendarCommand, localTicketCommand } from './local-change';
import { localKmsCommand } from './local-kms';
import { localOrgCommand } from './local-org';
import { localRunCommand } from './local-run';
import { localServeCommand } from './local-serve';

/** `keymat local`: the embedded local stack, whole or KMS alone, and runs of the workflow on it. */
export function localCommand(io: CliIo): Command {
  return new Command('local')
    .description('the embedded local stack: no AWS account needed')
    .addCommand(localServeCommand(io))
    .addCommand(localKmsCommand(io))
    .addCommand(localRunCommand(io))
    .addCommand(localCalendarCommand(io))
    .addCommand(localTicketCommand(io))
    .addCommand(localOrgCommand(io));
}
