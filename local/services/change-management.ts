import { mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { calendarLabel, type CalendarReading } from '../../core/change-window';
import { ticketAnswerSchema, type TicketAnswer } from '../../core/change-ticket';
import { CALENDAR_NAME, CHANGE_ID, checkCalendarName } from '../../core/naming';
import * as z from '../../core/schema';
import {
  jsonAnswer,
  jsonOperation,
  parseJsonBody,
  type Answer,
  type IncomingRequest,
  type LocalService,
} from './local-service';
import { CALENDARS_DIR, LOCAL_TICKET_FUNCTION_ARN, TICKETS_DIR } from '../constants';

/**
 * The organisation's change management, as the local stack stands in for it: Change Calendars served by SSM
 * GetCalendarState, and a change-ticket check function served by Lambda Invoke. Both read the state folder, where
 * `keymat local calendar set` and `keymat local ticket set` write one small JSON file per calendar or ticket
 * (written whole under another name and renamed into place, so a reader never sees half a file).
 */

/** A local calendar: its state, and optionally until when (after which it is the other state, for good). */
const calendarSchema = z.lazy(() =>
  z.strictObject({
    state: z.enum(['OPEN', 'CLOSED']),
    until: z.optional(z.iso.datetime({ offset: true })),
  }),
);
export type LocalCalendar = z.infer<typeof calendarSchema>;

function writeWhole(dir: string, name: string, value: unknown): void {
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${name}.json`);
  const temp = `${file}.${process.pid}.new`;
  try {
    writeFileSync(temp, `${JSON.stringify(value, null, 2)}\n`);
    renameSync(temp, file);
  } finally {
    rmSync(temp, { force: true });
  }
}

function readJson(file: string): unknown {
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new Error(`${file} is not a JSON file: ${(err as Error).message}; set it again`);
  }
}

/** A calendar's document name, from a name or an SSM document ARN (any account and Region: the local stack has one). */
function calendarFile(name: string): string {
  checkCalendarName(name);
  return calendarLabel(name);
}

/**
 * Sets a local calendar's state (`keymat local calendar set`).
 *
 * @throws RangeError naming the value: a bad name, or `until` not a future ISO 8601 time
 */
export function setLocalCalendar(stateDir: string, name: string, calendar: LocalCalendar, now = new Date()): void {
  const parsed = calendarSchema.safeParse(calendar);
  if (!parsed.success)
    throw new RangeError(
      `until must be an ISO 8601 time with an offset, e.g. 2026-12-24T18:00:00Z; got '${calendar.until}'`,
    );
  if (calendar.until !== undefined && new Date(calendar.until).getTime() <= now.getTime()) {
    throw new RangeError(`until must be in the future; got '${calendar.until}' (now is ${now.toISOString()})`);
  }
  writeWhole(join(stateDir, CALENDARS_DIR), calendarFile(name), parsed.data);
}

/**
 * Every local calendar, by name, with its state now (past its `until`, the other state) and what was set. A file whose
 * name is no calendar name is not a calendar and is left out; a damaged calendar is reported, naming its file.
 */
export function listLocalCalendars(
  stateDir: string,
  now = new Date(),
): Record<string, { set: LocalCalendar; state: 'OPEN' | 'CLOSED'; next?: string }> {
  let files: string[];
  try {
    files = readdirSync(join(stateDir, CALENDARS_DIR));
  } catch {
    return {};
  }
  const names = files
    .filter((f) => f.endsWith('.json'))
    .map((f) => f.slice(0, -'.json'.length))
    .filter((name) => CALENDAR_NAME.test(name));
  return Object.fromEntries(
    names.map((name) => {
      const set = readCalendar(stateDir, name) as LocalCalendar;
      const { state, next } = calendarAt(set, now);
      return [name, { set, state, ...(next && { next: next.toISOString() }) }];
    }),
  );
}

function readCalendar(stateDir: string, name: string): LocalCalendar | undefined {
  const file = join(stateDir, CALENDARS_DIR, `${calendarFile(name)}.json`);
  const raw = readJson(file);
  if (raw === undefined) return undefined;
  const parsed = calendarSchema.safeParse(raw);
  if (!parsed.success)
    throw new Error(`${file} is not a calendar ({"state":"OPEN"|"CLOSED","until"?:ISO}); set it again`);
  return parsed.data;
}

/** A calendar's state at a time: past its `until`, the other state, with no further transition. */
function calendarAt(calendar: LocalCalendar, at: Date): { state: 'OPEN' | 'CLOSED'; next?: Date } {
  if (calendar.until === undefined) return { state: calendar.state };
  const until = new Date(calendar.until);
  if (at.getTime() < until.getTime()) return { state: calendar.state, next: until };
  return { state: calendar.state === 'OPEN' ? 'CLOSED' : 'OPEN' };
}

/**
 * GetCalendarState over local calendars, as SSM combines several: OPEN only when every one is open. The next
 * transition is when the combined state changes next, as far as the calendars say: for OPEN, the first calendar to
 * close; for CLOSED, when the last closed one opens (none when one of them never opens).
 *
 * @returns undefined for a calendar that does not exist (named in the error)
 */
export function localCalendarState(
  stateDir: string,
  names: string[],
  at: Date,
): { reading: Omit<CalendarReading, 'checkedAt'> } | { missing: string } {
  const states: { state: 'OPEN' | 'CLOSED'; next?: Date }[] = [];
  for (const name of names) {
    const calendar = readCalendar(stateDir, name);
    if (calendar === undefined) return { missing: name };
    states.push(calendarAt(calendar, at));
  }
  const closed = states.filter((s) => s.state === 'CLOSED');
  const times = (list: typeof states) => list.map((s) => s.next?.getTime());
  let next: number | undefined;
  if (closed.length === 0) {
    const known = times(states).filter((t): t is number => t !== undefined);
    next = known.length > 0 ? Math.min(...known) : undefined;
  } else {
    const opens = times(closed);
    next = opens.every((t) => t !== undefined) ? Math.max(...(opens as number[])) : undefined;
  }
  return {
    reading: {
      calendars: names,
      state: closed.length === 0 ? 'OPEN' : 'CLOSED',
      ...(next !== undefined && { nextTransitionTime: new Date(next).toISOString() }),
    },
  };
}

/** SSM's GetCalendarState over the state folder's calendars (JSON 1.1, `AmazonSSM.GetCalendarState`). */
export class LocalSsm implements LocalService {
  constructor(private readonly stateDir: string) {}

  matches(request: IncomingRequest): boolean {
    return request.target?.startsWith('AmazonSSM.') ?? false;
  }

  async handle(request: IncomingRequest): Promise<Answer> {
    const { operation, log, refuse } = jsonOperation(request, 'AmazonSSM.', 'ssm');
    if (operation !== 'GetCalendarState') {
      return refuse(400, 'InvalidAction', `${operation} is not supported by the local stack's SSM`);
    }
    const body = parseJsonBody(request.body);
    const names = body?.CalendarNames;
    if (!Array.isArray(names) || names.length === 0 || !names.every((n) => typeof n === 'string')) {
      return refuse(400, 'ValidationException', 'CalendarNames must be a non-empty list of calendar names or ARNs');
    }
    const rawAt = body?.AtTime;
    const at = rawAt === undefined ? new Date() : new Date(typeof rawAt === 'string' ? rawAt : Number.NaN);
    if (Number.isNaN(at.getTime())) {
      return refuse(400, 'ValidationException', `AtTime must be an ISO 8601 time; got ${JSON.stringify(rawAt)}`);
    }
    for (const name of names) {
      try {
        checkCalendarName(name);
      } catch (err) {
        return refuse(400, 'InvalidDocument', (err as Error).message);
      }
    }
    let result: ReturnType<typeof localCalendarState>;
    try {
      result = localCalendarState(this.stateDir, names, at);
    } catch (err) {
      return refuse(500, 'InternalServerError', (err as Error).message);
    }
    if ('missing' in result) {
      return refuse(
        400,
        'InvalidDocument',
        `calendar ${result.missing} does not exist (keymat local calendar set ${calendarLabel(result.missing)} OPEN|CLOSED)`,
      );
    }
    const { state, nextTransitionTime } = result.reading;
    return jsonAnswer(
      '1.1',
      request.requestId,
      200,
      { State: state, AtTime: at.toISOString(), ...(nextTransitionTime && { NextTransitionTime: nextTransitionTime }) },
      log(),
    );
  }
}

/** The local change-ticket stub's answer for a change, as `keymat local ticket set` recorded it. */
export function setLocalTicket(stateDir: string, changeId: string, answer: TicketAnswer): void {
  if (!CHANGE_ID.test(changeId)) {
    throw new RangeError(
      `change id must be 1-64 characters of letters, digits, ".", "_" or "-", starting with a letter or digit; got '${changeId}'`,
    );
  }
  const parsed = ticketAnswerSchema.safeParse(answer);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new RangeError(`ticket ${issue?.path.join('.') || 'answer'}: ${issue?.message}`);
  }
  writeWhole(join(stateDir, TICKETS_DIR), changeId, parsed.data);
}

/** What the stub answers for a change: its recorded answer, or UNKNOWN. */
function localTicketAnswer(stateDir: string, changeId: unknown): TicketAnswer {
  if (typeof changeId !== 'string' || !CHANGE_ID.test(changeId)) {
    return { decision: 'UNKNOWN', reason: `no change id in the request (got ${JSON.stringify(changeId)})` };
  }
  const file = join(stateDir, TICKETS_DIR, `${changeId}.json`);
  const raw = readJson(file);
  if (raw === undefined) {
    return {
      decision: 'UNKNOWN',
      reason: `no change ticket ${changeId} in the local stub (keymat local ticket set ${changeId} APPROVED)`,
    };
  }
  const parsed = ticketAnswerSchema.safeParse(raw);
  if (!parsed.success) throw new Error(`${file} is not a ticket answer; set it again`);
  return parsed.data;
}

/**
 * Lambda's Invoke (REST, `POST /2015-03-31/functions/NAME/invocations`) of the one function the local stack has: the
 * change-ticket stub, which answers from the state folder's tickets. Any other function is ResourceNotFoundException.
 */
export class LocalLambda implements LocalService {
  constructor(private readonly stateDir: string) {}

  matches(request: IncomingRequest): boolean {
    return request.service === 'lambda' && request.url.pathname.startsWith('/2015-03-31/functions/');
  }

  async handle(request: IncomingRequest): Promise<Answer> {
    const match = /^\/2015-03-31\/functions\/([^/]+)\/invocations$/.exec(request.url.pathname);
    const log = (error?: string) => ({ service: 'lambda', operation: 'Invoke', ...(error && { error }) });
    const refuse = (status: number, type: string, message: string): Answer => ({
      status,
      headers: { 'content-type': 'application/json', 'x-amzn-requestid': request.requestId, 'x-amzn-errortype': type },
      body: JSON.stringify({ Type: 'User', message }),
      log: log(type),
    });
    if (request.method !== 'POST' || !match) {
      return refuse(400, 'InvalidRequestContentException', `${request.method} ${request.url.pathname} is not Invoke`);
    }
    let name: string;
    try {
      name = decodeURIComponent(match[1] as string);
    } catch {
      return refuse(400, 'InvalidParameterValueException', `the function name in ${request.url.pathname} is not valid`);
    }
    if (name !== LOCAL_TICKET_FUNCTION_ARN && name !== LOCAL_TICKET_FUNCTION_ARN.split(':').pop()) {
      return refuse(404, 'ResourceNotFoundException', `Function not found: ${name}`);
    }
    const event = parseJsonBody(request.body);
    if (!event) return refuse(400, 'InvalidRequestContentException', 'Could not parse request body into json');
    let answer: TicketAnswer;
    try {
      answer = localTicketAnswer(this.stateDir, event.changeId);
    } catch (err) {
      // As Lambda reports an unhandled error of the function: 200, with X-Amz-Function-Error.
      return {
        status: 200,
        headers: {
          'content-type': 'application/json',
          'x-amzn-requestid': request.requestId,
          'x-amz-function-error': 'Unhandled',
        },
        body: JSON.stringify({ errorType: 'Error', errorMessage: (err as Error).message }),
        log: log('Unhandled'),
      };
    }
    return {
      status: 200,
      headers: {
        'content-type': 'application/json',
        'x-amzn-requestid': request.requestId,
        'x-amz-executed-version': '$LATEST',
      },
      body: JSON.stringify(answer),
      log: log(),
    };
  }
}
