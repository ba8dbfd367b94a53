import { Command } from 'commander';
import { workflowMermaid } from '../../local/graph';

export function graphCommand(): Command {
  return new Command('graph')
    .description('print the workflow as a Mermaid diagram (the README picture comes from it)')
    .action(() => {
      process.stdout.write(`${workflowMermaid()}\n`);
    });
}
