import { Command, CommanderError } from 'commander';
import { demoCommand } from './commands/demo';
import { graphCommand } from './commands/graph';
import { localKmsCommand } from './commands/local-kms';
import { localRunCommand } from './commands/local-run';
import { localServeCommand } from './commands/local-serve';
import { operatorCommands } from './commands/operator';
import { scanCommand } from './commands/scan';
import { ChangeError, errorName } from '../core/errors';
import { printable } from '../core/text';
import { CliError } from './output';

const program = new Command('keymat')
  .description('Delete imported key material from AWS KMS keys under change management')
  .showHelpAfterError('(add --help for usage)')
  .exitOverride();

program.addCommand(
  new Command('local')
    .description('the embedded local stack: no AWS account needed')
    .addCommand(localServeCommand())
    .addCommand(localKmsCommand())
    .addCommand(localRunCommand()),
);
for (const command of operatorCommands()) program.addCommand(command);
program.addCommand(scanCommand());
program.addCommand(demoCommand());
program.addCommand(graphCommand());

// Commands built on their own do not inherit these settings: apply them to the whole tree.
const configure = (command: Command): void => {
  command.exitOverride().showHelpAfterError('(add --help for usage)');
  command.commands.forEach(configure);
};
configure(program);

program.parseAsync(process.argv).catch((err: unknown) => {
  if (err instanceof CommanderError) {
    // Commander has printed the usage error; --help and --version exit 0.
    process.exitCode = err.exitCode === 0 ? 0 : 2;
    return;
  }
  // One line: keymat's own refusals speak for themselves; other errors (AWS, KMS) are prefixed with their name. A
  // message can carry text from outside (a gateway's answer, an execution name), so control characters are escaped.
  const own = err instanceof CliError || err instanceof ChangeError;
  const name = errorName(err);
  const message = err instanceof Error ? err.message : String(err);
  process.stderr.write(`keymat: ${printable(`${!own && name && name !== 'Error' ? `${name}: ` : ''}${message}`)}\n`);
  process.exitCode = 1;
});
