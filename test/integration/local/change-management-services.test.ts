import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { GetCalendarStateCommand, SSMClient } from '@aws-sdk/client-ssm';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { errorName } from '../../../core/errors';
import {
  listLocalCalendars,
  localCalendarState,
  setLocalCalendar,
  setLocalTicket,
} from '../../../local/services/change-management';
import { localClientConfig } from '../../../local/services/clients';
import { LocalStack } from '../../../local/services/server';
import { readEventsOutbox } from '../../../local/state/store';
import { awsCli } from '../../helpers/aws-cli';
import { LOCAL_CREDENTIALS, LOCAL_TICKET_FUNCTION_ARN } from '../../../local/constants';

/**
 * The local stack's stand-ins for the organisation's change management, over the real SDK clients and the AWS CLI:
 * SSM GetCalendarState from the state folder's calendars, Lambda Invoke of the change-ticket stub, EventBridge
 * PutEvents into the events outbox.
 */
let dir: string;
let stack: LocalStack;
let ssm: SSMClient;
const NOW = new Date();
const later = (ms: number) => new Date(NOW.getTime() + ms).toISOString();

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'keymat-cms-'));
  stack = await LocalStack.start({ stateDir: dir });
  ssm = new SSMClient({ ...localClientConfig(stack.endpoint), maxAttempts: 1 });
});
afterAll(async () => {
  await stack.close();
  rmSync(dir, { recursive: true, force: true });
});

/** An Authorization header the local stack reads as the local user's, for `service`. */
const SIGNED = (service: string) =>
  `AWS4-HMAC-SHA256 Credential=${LOCAL_CREDENTIALS.accessKeyId}/20260101/us-east-1/${service}/aws4_request, SignedHeaders=host, Signature=0`;

/** A JSON 1.1 request as a client could send it, whatever the SDK would allow. */
async function rawJson(target: string, body: unknown): Promise<{ status: number; body: unknown }> {
  const response = await fetch(stack.endpoint, {
    method: 'POST',
    headers: { 'x-amz-target': target, 'content-type': 'application/x-amz-json-1.1', authorization: SIGNED('ssm') },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: await response.json() };
}

const failure = async (p: Promise<unknown>) => {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a failure');
};

describe('GetCalendarState', () => {
  it('answers a calendar set CLOSED until a time, then OPEN after it', async () => {
    setLocalCalendar(dir, 'freeze', { state: 'CLOSED', until: later(3_600_000) });
    expect(await ssm.send(new GetCalendarStateCommand({ CalendarNames: ['freeze'] }))).toMatchObject({
      State: 'CLOSED',
      NextTransitionTime: later(3_600_000),
    });
    const after = await ssm.send(new GetCalendarStateCommand({ CalendarNames: ['freeze'], AtTime: later(7_200_000) }));
    expect(after.State).toBe('OPEN');
    expect(after.NextTransitionTime).toBeUndefined();
  });

  it('is OPEN only when every calendar is, and names a calendar by its document ARN too', async () => {
    setLocalCalendar(dir, 'weekdays', { state: 'OPEN', until: later(60_000) });
    setLocalCalendar(dir, 'audit', { state: 'OPEN' });
    const arn = 'arn:aws:ssm:us-east-1:111122223333:document/audit';
    expect(await ssm.send(new GetCalendarStateCommand({ CalendarNames: ['weekdays', arn] }))).toMatchObject({
      State: 'OPEN',
      NextTransitionTime: later(60_000),
    });
    expect((await ssm.send(new GetCalendarStateCommand({ CalendarNames: ['weekdays', 'freeze'] }))).State).toBe(
      'CLOSED',
    );
  });

  it('gives CLOSED calendars the time the last one opens, and none when one never opens', () => {
    setLocalCalendar(dir, 'short', { state: 'CLOSED', until: later(60_000) });
    setLocalCalendar(dir, 'forever', { state: 'CLOSED' });
    expect(localCalendarState(dir, ['short', 'freeze'], NOW)).toEqual({
      reading: { calendars: ['short', 'freeze'], state: 'CLOSED', nextTransitionTime: later(3_600_000) },
    });
    expect(localCalendarState(dir, ['short', 'forever'], NOW)).toEqual({
      reading: { calendars: ['short', 'forever'], state: 'CLOSED' },
    });
  });

  it('refuses a calendar that does not exist, and a malformed name, as InvalidDocument', async () => {
    const missing = await failure(ssm.send(new GetCalendarStateCommand({ CalendarNames: ['no-such-calendar'] })));
    expect(errorName(missing)).toBe('InvalidDocument');
    expect(missing.message).toContain('calendar no-such-calendar does not exist');
    const bad = await failure(ssm.send(new GetCalendarStateCommand({ CalendarNames: ['../x'] })));
    expect(errorName(bad)).toBe('InvalidDocument');
  });

  it('reports a damaged calendar file as a server error naming it, and keeps serving', async () => {
    writeFileSync(join(dir, 'calendars', 'broken.json'), '{"state":');
    const err = await failure(ssm.send(new GetCalendarStateCommand({ CalendarNames: ['broken'] })));
    expect(errorName(err)).toBe('InternalServerError');
    expect(err.message).toContain('broken.json is not a JSON file');
    expect((await ssm.send(new GetCalendarStateCommand({ CalendarNames: ['audit'] }))).State).toBe('OPEN');
  });

  it('refuses an AtTime that is not a time as ValidationException', async () => {
    const answer = await rawJson('AmazonSSM.GetCalendarState', { CalendarNames: ['audit'], AtTime: { toString: 1 } });
    expect(answer.status).toBe(400);
    expect(answer.body).toMatchObject({ __type: 'ValidationException' });
  });

  it('lists the calendars with their state now, leaving out files that are not calendars', () => {
    setLocalCalendar(dir, 'flip', { state: 'OPEN', until: later(60_000) });
    writeFileSync(join(dir, 'calendars', 'x.json'), '{}');
    rmSync(join(dir, 'calendars', 'broken.json'), { force: true });
    const listed = listLocalCalendars(dir, new Date(NOW.getTime() + 120_000));
    expect(listed.flip).toEqual({ set: { state: 'OPEN', until: later(60_000) }, state: 'CLOSED' });
    expect(listed.x).toBeUndefined();
  });

  it('answers the AWS CLI', async () => {
    const aws = awsCli(stack.endpoint, dir);
    expect(await aws('ssm', 'get-calendar-state', '--calendar-names', 'freeze')).toMatchObject({
      State: 'CLOSED',
      NextTransitionTime: later(3_600_000),
    });
  });
});

describe('the change-ticket stub', () => {
  const lambda = () => new LambdaClient({ ...localClientConfig(stack.endpoint), maxAttempts: 1 });
  const invoke = async (FunctionName: string, event: unknown) => {
    const out = await lambda().send(
      new InvokeCommand({ FunctionName, Payload: new TextEncoder().encode(JSON.stringify(event)) }),
    );
    return { error: out.FunctionError, answer: JSON.parse(new TextDecoder().decode(out.Payload)) as unknown };
  };

  it('answers what keymat local ticket set recorded, and UNKNOWN for any other change', async () => {
    setLocalTicket(dir, 'CHG-9', { decision: 'APPROVED', reason: 'CAB ok', link: 'https://itsm.example.com/CHG-9' });
    expect(await invoke(LOCAL_TICKET_FUNCTION_ARN, { changeId: 'CHG-9' })).toEqual({
      error: undefined,
      answer: { decision: 'APPROVED', reason: 'CAB ok', link: 'https://itsm.example.com/CHG-9' },
    });
    expect((await invoke(LOCAL_TICKET_FUNCTION_ARN, { changeId: 'CHG-10' })).answer).toMatchObject({
      decision: 'UNKNOWN',
    });
  });

  it('refuses a function name that does not decode, with a 400', async () => {
    const response = await fetch(`${stack.endpoint}/2015-03-31/functions/%E0%A4%A/invocations`, {
      method: 'POST',
      headers: { authorization: SIGNED('lambda') },
      body: '{}',
    });
    expect(response.status).toBe(400);
  });

  it('refuses another function as ResourceNotFoundException', async () => {
    const err = await failure(invoke('arn:aws:lambda:us-east-1:111122223333:function:other', {}));
    expect(errorName(err)).toBe('ResourceNotFoundException');
  });

  it('reports a damaged ticket as the function failing (FunctionError), as Lambda reports an unhandled error', async () => {
    writeFileSync(join(dir, 'change-tickets', 'CHG-11.json'), '{"decision":"MAYBE"}');
    expect(await invoke(LOCAL_TICKET_FUNCTION_ARN, { changeId: 'CHG-11' })).toMatchObject({ error: 'Unhandled' });
  });

  it('refuses a ticket answer the contract does not allow before writing it', () => {
    expect(() => setLocalTicket(dir, 'CHG 12', { decision: 'APPROVED', reason: 'x' })).toThrow('change id must be');
    expect(() =>
      setLocalTicket(dir, 'CHG-12', { decision: 'APPROVED', reason: 'x', link: 'file:///etc/passwd' }),
    ).toThrow('ticket link');
  });
});

describe('PutEvents', () => {
  it('keeps the events in order, and fails an entry without a JSON object detail on its own', async () => {
    const events = new EventBridgeClient({ ...localClientConfig(stack.endpoint), maxAttempts: 1 });
    const before = readEventsOutbox(dir).length;
    const out = await events.send(
      new PutEventsCommand({
        Entries: [
          { Source: 'test', DetailType: 'One', Detail: '{"n":1}' },
          { Source: 'test', DetailType: 'Broken', Detail: '[1]' },
          { Source: 'test', DetailType: 'Two', Detail: '{"n":2}', EventBusName: 'audit' },
        ],
      }),
    );
    expect(out.FailedEntryCount).toBe(1);
    expect(out.Entries?.[1]).toMatchObject({ ErrorCode: 'MalformedDetail' });
    expect(
      readEventsOutbox(dir)
        .slice(before)
        .map((e) => [e.detailType, e.eventBusName, e.detail]),
    ).toEqual([
      ['One', 'default', { n: 1 }],
      ['Two', 'audit', { n: 2 }],
    ]);
  });
});
