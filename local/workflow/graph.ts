import { localDefinition } from './definition';

/** A Choice rule: a comparison, or (`And`) several that must all hold. */
type ChoiceRule = {
  Variable?: string;
  BooleanEquals?: boolean;
  StringEquals?: string;
  IsPresent?: boolean;
  NumericGreaterThanEqualsPath?: string;
  And?: ChoiceRule[];
};

type AslState = {
  Type: string;
  Next?: string;
  End?: boolean;
  Default?: string;
  Choices?: (ChoiceRule & { Next: string })[];
  Catch?: { ErrorEquals: string[]; Next: string }[];
};

const label = (c: ChoiceRule): string => {
  if (c.And !== undefined) return c.And.map(label).join(' and ');
  const variable = (c.Variable ?? '').replace(/^\$\./, '');
  if (c.BooleanEquals !== undefined) return `${variable} = ${c.BooleanEquals}`;
  if (c.StringEquals !== undefined) return `${variable} = ${c.StringEquals}`;
  if (c.IsPresent !== undefined) return `${variable} present`;
  if (c.NumericGreaterThanEqualsPath !== undefined) {
    return `${variable} ≥ ${c.NumericGreaterThanEqualsPath.replace(/^\$\./, '')}`;
  }
  return variable;
};

/** The state machine definition as a Mermaid flowchart: solid arrows for the flow, dotted ones for Catch. */
export function definitionToMermaid(definition: { StartAt: string; States: Record<string, AslState> }): string {
  const lines = ['flowchart TD', `  start(( )) --> ${definition.StartAt}`];
  for (const [name, state] of Object.entries(definition.States)) {
    const shape =
      state.Type === 'Choice'
        ? `${name}{${name}}`
        : state.Type === 'Succeed' || state.Type === 'Fail'
          ? `${name}([${name}])`
          : `${name}[${name}]`;
    lines.push(`  ${shape}`);
    if (state.Next) lines.push(`  ${name} --> ${state.Next}`);
    for (const choice of state.Choices ?? []) lines.push(`  ${name} -- "${label(choice)}" --> ${choice.Next}`);
    if (state.Default) lines.push(`  ${name} -- otherwise --> ${state.Default}`);
    for (const c of state.Catch ?? []) lines.push(`  ${name} -. "${c.ErrorEquals.join(', ')}" .-> ${c.Next}`);
  }
  return lines.join('\n');
}

/** The deployed workflow's diagram: its definition with the default configuration. */
export function workflowMermaid(): string {
  const definition = localDefinition();
  return definitionToMermaid(definition as Parameters<typeof definitionToMermaid>[0]);
}
