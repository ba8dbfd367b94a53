import { Command } from 'commander';
import { workflowMermaid } from '../../local/workflow/graph';
import type { CliIo } from '../output';

export function graphCommand(io: CliIo): Command {
  return new Command('graph')
    .description('print the workflow as a Mermaid diagram (the README picture comes from it)')
    .action(() => {
      io.write(`${workflowMermaid()}\n`);
    });
}
