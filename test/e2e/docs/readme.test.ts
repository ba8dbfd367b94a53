import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { workflowMermaid } from '../../../local/workflow/graph';

const readme = readFileSync(join(__dirname, '..', '..', '..', 'README.md'), 'utf8');

it("the README's workflow picture is the one generated from the synthesized definition", () => {
  const block = /<!-- graph:start -->\s*```mermaid\n([\s\S]*?)\n```\s*<!-- graph:end -->/.exec(readme);
  expect(block?.[1]).toBe(workflowMermaid());
});

it('labels every branch of a Choice, a compound rule with each of its conditions', () => {
  expect(workflowMermaid()).not.toContain('-- "" -->');
  expect(workflowMermaid()).toContain(
    'QuorumReached -- "input.restore = true and approvalCount.given ≥ plan.rules.quorum" --> GetImportParameters',
  );
});

it('the README shows the two commands', () => {
  expect(readme).toContain('npm ci && npm start');
  expect(readme).toContain('npm ci && npm test');
});
