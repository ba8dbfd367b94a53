import { Command } from 'commander';
import { localCalendarCommand, localTicketCommand } from './local-change';
import { localKmsCommand } from './local-kms';
import { localRunCommand } from './local-run';
import { localServeCommand } from './local-serve';

/** `keymat local`: the embedded local stack, whole or KMS alone, and runs of the workflow on it. */
export function localCommand(): Command {
  return new Command('local')
    .description('the embedded local stack: no AWS account needed')
    .addCommand(localServeCommand())
    .addCommand(localKmsCommand())
    .addCommand(localRunCommand())
    .addCommand(localCalendarCommand())
    .addCommand(localTicketCommand());
}
