import { InvalidArgumentError, type Command } from 'commander';
import { readFileSync } from 'node:fs';
import { DEFAULT_WINDOW_WAIT_SECONDS, MAX_WINDOW_WAIT_SECONDS } from '../core/defaults';
import { distinctApprovers } from '../core/identity';
import { checkValidTo } from '../core/input';
import { calendarList } from '../core/naming';
import { ACCOUNT_ID, ORGANIZATIONAL_UNIT_ID, REGION, membersSchema, type Members } from '../core/organisation';
import { LOCAL_SESSION_BOUND_ROLES } from '../local/constants';
import { CliError } from './output';
import type { LocalChangeManagement } from '../local/workflow/engine';

/** Parses a whole non-negative number option, naming the option and the value when it is not one. */
export const wholeNumber =
  (option: string, min = 0, max = Number.MAX_SAFE_INTEGER) =>
  (value: string): number => {
    const n = Number(value);
    if (!/^\d+$/.test(value) || n < min || n > max) {
      throw new InvalidArgumentError(`${option} must be a whole number from ${min} to ${max}; got '${value}'`);
    }
    return n;
  };

/**
 * Parses `--valid-to`, a restore's expiry, as the gateway will check it (`checkValidTo`: an ISO 8601 instant to the
 * second, in the future, at most as far ahead as KMS allows), so that a bad one is refused before anything is sent.
 */
export function validToOption(value: string): string {
  try {
    return checkValidTo(value, new Date());
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
}

/** The change-management options of `keymat local serve` and `keymat local run`, as commander parses them. */
export interface ChangeManagementOptions {
  changeCalendars?: string[];
  changeWindowMaxWait?: number;
  changeTicketCheck: boolean;
}

/** Parses `--change-calendars`, naming the first name that is no calendar's. */
function calendarOption(value: string): string[] {
  try {
    return calendarList(value);
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
}

/**
 * Parses a list of principals (`--approvers`, `--custodians`): comma-separated principal ARNs or ARN patterns, each
 * checked as a deployment checks its `approvers` and `custodians` (`distinctApprovers`: a plain name is refused, since
 * nobody authenticates as `bob`, and so are two entries the local gateway would identify as one principal).
 */
export function principalList(value: string): string[] {
  try {
    return distinctApprovers(
      value
        .split(',')
        .map((a) => a.trim())
        .filter(Boolean),
      { sessionBoundRoles: LOCAL_SESSION_BOUND_ROLES },
    );
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
}

/** Adds the change-management options to a local command: freeze windows and the change-ticket check. */
export function withChangeManagementOptions(command: Command): Command {
  return command
    .option(
      '--change-calendars <list>',
      'comma-separated change calendars (set with keymat local calendar set) that must be OPEN for a deletion',
      calendarOption,
    )
    .option(
      '--change-window-max-wait <seconds>',
      `seconds an approved change waits for its calendars before it ends ChangeWindowClosed (default ${DEFAULT_WINDOW_WAIT_SECONDS})`,
      wholeNumber('--change-window-max-wait', 1, MAX_WINDOW_WAIT_SECONDS),
    )
    .option(
      '--change-ticket-check',
      'have ValidateOrigin ask the local change-ticket stub (keymat local ticket set) before any approval',
      false,
    );
}

/** The local workflow's change-management settings from the options; a maximum wait without calendars is refused. */
export function changeManagementOf(opts: ChangeManagementOptions, command: Command): LocalChangeManagement {
  const changeCalendars = opts.changeCalendars ?? [];
  if (opts.changeWindowMaxWait !== undefined && changeCalendars.length === 0) {
    command.error('error: --change-window-max-wait takes effect only with --change-calendars');
  }
  return {
    changeCalendars,
    ...(opts.changeWindowMaxWait !== undefined && { changeWindowMaxWaitSeconds: opts.changeWindowMaxWait }),
    changeTicketCheck: opts.changeTicketCheck,
  };
}

/** Parses `--members FILE`: the members object itself, or a cdk.json whose context holds it. */
export function membersFile(path: string): Members {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new InvalidArgumentError(`--members must name a JSON file; '${path}': ${(err as Error).message}`);
  }
  const value = (raw as { context?: { members?: unknown } }).context?.members ?? raw;
  const parsed = membersSchema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new InvalidArgumentError(
      `--members '${path}': ${issue?.path.join('.') || '(root)'}: ${issue?.message ?? 'invalid'}`,
    );
  }
  return parsed.data;
}

/** A parser of a comma-separated list of ids, naming the option and the first value that is not `what`. */
const idList =
  (option: string, pattern: RegExp, what: string) =>
  (value: string): string[] => {
    const ids = value
      .split(',')
      .map((id) => id.trim())
      .filter(Boolean);
    const wrong = ids.find((id) => !pattern.test(id));
    if (ids.length === 0 || wrong !== undefined) {
      throw new InvalidArgumentError(`${option} must list ${what}; got '${wrong ?? value}'`);
    }
    return ids;
  };

/** Parses `--regions`: comma-separated Region names. */
export const regionList = idList('--regions', REGION, 'Regions such as eu-west-1,us-east-1');

/** Parses `--accounts`: comma-separated account ids. */
export const accountList = idList('--accounts', ACCOUNT_ID, '12-digit account ids such as 444455556666');

/** Parses `--organizational-units`: comma-separated OU ids. */
export const organizationalUnitList = idList(
  '--organizational-units',
  ORGANIZATIONAL_UNIT_ID,
  'OU ids such as ou-ab12-cd34ef56',
);

/**
 * The bytes of the file an option names, read when the command runs; one it cannot read is refused naming the option,
 * the path and the reason (`ENOENT: no such file or directory`, not the bare system error).
 *
 * @throws CliError
 */
export function readOptionFile(option: string, path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    // Node's message names the path again after a comma: `ENOENT: no such file or directory, open 'x'`.
    throw new CliError(`${option} '${path}' cannot be read: ${(err as Error).message.split(',')[0]}`);
  }
}
