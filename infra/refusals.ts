import { Duration } from 'aws-cdk-lib';
import { ConfigurationError, type Refusal } from '../core/errors';
import * as z from '../core/schema';

/**
 * A setting's value as refusals quote it: a text in quotes, a duration in words, anything else as JSON.
 */
export const settingShown = (value: unknown): string =>
  value instanceof Duration ? value.toHumanString() : typeof value === 'string' ? `'${value}'` : JSON.stringify(value);

/** The error refusing one setting: `<owner>: <setting><problem>; got <value>`. */
export const refusal = (refused: Refusal): ConfigurationError =>
  new ConfigurationError(
    `${refused.owner}: ${refused.setting}${refused.problem}; got ${settingShown(refused.value)}`,
    refused,
  );

/** Refuses a prop of keymat's stack that is not what it must be (`expected`, e.g. `a whole number from 1 to 10`). */
export const refuse = (prop: string, expected: string, value: unknown, owner = 'KeymatStack'): never => {
  throw refusal({ owner, setting: prop, problem: ` must be ${expected}`, value });
};

/**
 * Parses a prop with its schema. A refusal names the prop and the path to the first problem within it
 * (`members.regions[1]`), with the value found there: the whole prop would bury the one value that is wrong.
 */
export function parsedProp<T>(prop: string, schema: z.ZodMiniType<T>, value: unknown, owner = 'KeymatStack'): T {
  const result = z.safeParse(schema, value);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const path = issue?.path ?? [];
  let found: unknown = value;
  for (const key of path) found = (found as Record<PropertyKey, unknown> | undefined)?.[key];
  throw refusal({
    owner,
    setting: prop + path.map((key) => (typeof key === 'number' ? `[${key}]` : `.${String(key)}`)).join(''),
    problem: `: ${issue?.message ?? 'invalid'}`,
    value: found,
  });
}
