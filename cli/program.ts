import { Command, CommanderError, Help, type Option } from 'commander';
import { version } from '../package.json';
import { CliError, EXIT, OUTPUT_POLICY, type CliIo } from './output';
import { DEFAULT_STATE_DIR } from '../local/constants';

/**
 * The keymat program (cli/main.ts runs it as the `keymat` command; the `.js` of a lazy import names the module's
 * output, which esbuild resolves to its source). Only commander and this table load up front: a command's
 * module (and the local stack or the engine it needs) loads when that command is used, so `keymat --help` and
 * `--version` answer at once; an operator command loads the SDK's clients only for a deployed stack
 * (cli/operations.ts). The table's summaries are what `keymat --help` lists; each command's own description is its
 * `--help`.
 */
const COMMANDS: { name: string; summary: string; load: (io: CliIo) => Promise<Command> }[] = [
  {
    name: 'local',
    summary: 'the embedded local stack: no AWS account needed',
    load: async (io) => (await import('./commands/local.js')).localCommand(io),
  },
  ...(
    [
      ['start', 'start a deletion change as its requester, through the gateway'],
      ['pending', 'list the changes waiting for an approval, with their plans'],
      ['approve', 'approve the change an execution waits on, as yourself, through the gateway'],
      ['reject', 'reject (or, as its requester, withdraw) the change an execution waits on, through the gateway'],
      ['status', 'the plan, the current state and the progress of an execution'],
      ['history', 'the events of an execution'],
      ['outbox', 'the SNS messages the local stack sent'],
      ['restore', "start a restore change: a deleted material imported back from a custodian's copy, once approved"],
    ] as const
  ).map(([name, summary]) => ({ name, summary, load: async (io: CliIo) => operatorCommand(io, name) })),
  {
    name: 'recovery',
    summary: 'prove, as a custodian, that the material a change deletes can be imported again',
    load: async (io) => (await import('./commands/recovery.js')).recoveryCommand(io),
  },
  {
    name: 'scan',
    summary: 'start one deletion change for each imported material that violates the expiry policy',
    load: async (io) => (await import('./commands/scan.js')).scanCommand(io),
  },
  {
    name: 'org',
    summary: 'keymat across an AWS Organization: org doctor checks every member account and Region from the hub',
    load: async (io) => (await import('./commands/org.js')).orgCommand(io),
  },
  {
    name: 'demo',
    summary: 'the local demo: a BYOK key, a deletion change through approval to the verified state, and recovery',
    load: async (io) => (await import('./commands/demo.js')).demoCommand(io),
  },
  {
    name: 'graph',
    summary: 'print the workflow as a Mermaid diagram',
    load: async (io) => (await import('./commands/graph.js')).graphCommand(io),
  },
];

async function operatorCommand(io: CliIo, name: string): Promise<Command> {
  const found = (await import('./commands/operator.js')).operatorCommands(io).find((c) => c.name() === name);
  if (!found) throw new Error(`cli/commands/operator.ts defines no command '${name}'`);
  return found;
}

/** The command the arguments name (`keymat help <command>` names it too), if any. */
function requested(args: string[]): string | undefined {
  const [first, second] = args.filter((a) => !a.startsWith('-'));
  return first === 'help' ? second : first;
}

/** An option's line in `--help`: commander's, marked when the option is required (it does not say so itself). */
function describeOption(this: Help, option: Option): string {
  const description = Help.prototype.optionDescription.call(this, option);
  return option.mandatory ? `${description} (required)` : description;
}

async function buildProgram(args: string[], io: CliIo): Promise<Command> {
  const program = new Command('keymat')
    .description('Delete imported key material from AWS KMS keys under change management')
    .version(version, '-V, --version', 'print the version')
    .addHelpText(
      'after',
      `\nThe local stack keeps its state in ./${DEFAULT_STATE_DIR} in the current folder (--state-dir to change).\n${OUTPUT_POLICY}`,
    );
  const wanted = requested(args);
  for (const entry of COMMANDS) {
    // The others are listed by name and summary only; their modules never load.
    const command = entry.name === wanted ? await entry.load(io) : new Command(entry.name);
    program.addCommand(command.summary(entry.summary));
  }
  // Commands built on their own do not inherit these settings: apply them to the whole tree.
  const configure = (command: Command): void => {
    command
      .configureHelp({ optionDescription: describeOption })
      .exitOverride()
      .configureOutput({ writeOut: io.write, writeErr: io.writeError })
      .showHelpAfterError('(add --help for usage)');
    command.commands.forEach(configure);
  };
  configure(program);
  return program;
}

/**
 * Runs keymat with the arguments after the command's name, writing to and reading from `io`; resolves with the exit
 * code (`EXIT`). Errors are printed as one line on `io`'s stderr, never thrown.
 */
export async function runKeymat(args: string[], io: CliIo): Promise<number> {
  try {
    const program = await buildProgram(args, io);
    await program.parseAsync(args, { from: 'user' });
    return io.exitCode;
  } catch (err) {
    // Commander has printed the usage error; --help and --version exit 0.
    if (err instanceof CommanderError) return err.exitCode === 0 ? EXIT.ok : EXIT.usage;
    // Loaded only on failure: the common path needs none of them.
    const [{ ChangeError, errorMessage, errorName }, { printable }, { LocalStateError }, { awsSetupHint }] =
      await Promise.all([
        import('../core/errors.js'),
        import('../core/text.js'),
        import('../local/state/errors.js'),
        import('./env.js'),
      ]);
    // One line: keymat's own refusals (the local state's faults among them) speak for themselves; other errors (AWS,
    // KMS) are prefixed with their name. A message can carry text from outside (a gateway's answer, an execution
    // name), so control characters are escaped. An SDK error of a missing Region or credentials says how to set them.
    const own = err instanceof CliError || err instanceof ChangeError || err instanceof LocalStateError;
    const name = errorName(err);
    const hint = awsSetupHint(err, io.env);
    const message = `${errorMessage(err)}${hint ? `: ${hint}` : ''}`;
    io.writeError(`keymat: ${printable(`${!own && name && name !== 'Error' ? `${name}: ` : ''}${message}`)}\n`);
    return EXIT.failed;
  }
}
