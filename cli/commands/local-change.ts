import { Command } from 'commander';
import { printable } from '../../core/text';
import { listLocalCalendars, setLocalCalendar, setLocalTicket } from '../../local/services/change-management';
import { lineWriter, printJson, type CliIo } from '../output';
import { DEFAULT_STATE_DIR } from '../../local/constants';

/** Runs a setter; its RangeError (a bad name or value, named) is a usage error of the command. */
function checked(command: Command, set: () => void): void {
  try {
    set();
  } catch (err) {
    if (err instanceof RangeError) command.error(`error: ${err.message}`);
    throw err;
  }
}

/**
 * `keymat local calendar`: the local stack's SSM Change Calendars, in the state folder, which GetCalendarState (and
 * so the workflow's freeze windows, and `aws ssm get-calendar-state`) reads.
 */
export function localCalendarCommand(io: CliIo): Command {
  const say = lineWriter(io);
  const set = new Command('set')
    .description('set a local change calendar OPEN or CLOSED, optionally until a time (then the other state)')
    .argument('<name>', 'calendar name (3-128 letters, digits, _ - .)')
    .argument('<state>', 'OPEN or CLOSED')
    .option('--until <time>', 'ISO 8601 time the state lasts until, e.g. 2026-12-24T18:00:00Z; default: for good')
    .option('--state-dir <dir>', 'state folder of the local stack', DEFAULT_STATE_DIR)
    .action((name: string, state: string, opts: { stateDir: string; until?: string }, command: Command) => {
      if (state !== 'OPEN' && state !== 'CLOSED') command.error(`error: state must be OPEN or CLOSED; got '${state}'`);
      checked(command, () =>
        setLocalCalendar(opts.stateDir, name, { state, ...(opts.until !== undefined && { until: opts.until }) }),
      );
      say(`calendar ${name} is ${state}${opts.until ? ` until ${opts.until}` : ''}`);
    });
  const list = new Command('list')
    .description('the local change calendars and their states')
    .option('--state-dir <dir>', 'state folder of the local stack', DEFAULT_STATE_DIR)
    .option('--json', 'print JSON for scripts', false)
    .action((opts: { stateDir: string; json: boolean }) => {
      const calendars = listLocalCalendars(opts.stateDir);
      if (opts.json) return printJson(io, calendars);
      const names = Object.keys(calendars);
      if (names.length === 0) say(`no calendar in ${printable(opts.stateDir)}`);
      for (const name of names) {
        const c = calendars[name];
        say(`${name}  ${c?.state}${c?.next ? ` until ${c.next}` : ''}`);
      }
    });
  return new Command('calendar')
    .description('local SSM Change Calendars (freeze windows for --change-calendars)')
    .addCommand(set)
    .addCommand(list);
}

/** `keymat local ticket`: what the local change-ticket stub answers for a change id. */
export function localTicketCommand(io: CliIo): Command {
  const say = lineWriter(io);
  const set = new Command('set')
    .description("record the change-management system's answer for a change id (read by --change-ticket-check)")
    .argument('<change-id>', 'the change id, e.g. CHG-123')
    .argument('<decision>', 'APPROVED, DENIED or UNKNOWN')
    .requiredOption('--reason <text>', 'why, as the change record says it')
    .option('--link <url>', 'the change record, an http(s) URL')
    .option('--state-dir <dir>', 'state folder of the local stack', DEFAULT_STATE_DIR)
    .action(
      (
        changeId: string,
        decision: string,
        opts: { reason: string; link?: string; stateDir: string },
        command: Command,
      ) => {
        if (decision !== 'APPROVED' && decision !== 'DENIED' && decision !== 'UNKNOWN') {
          command.error(`error: decision must be APPROVED, DENIED or UNKNOWN; got '${decision}'`);
        }
        checked(command, () =>
          setLocalTicket(opts.stateDir, changeId, {
            decision,
            reason: opts.reason,
            ...(opts.link !== undefined && { link: opts.link }),
          }),
        );
        say(`change ticket ${changeId}: ${decision}`);
      },
    );
  return new Command('ticket').description('the local change-ticket stub (for --change-ticket-check)').addCommand(set);
}
