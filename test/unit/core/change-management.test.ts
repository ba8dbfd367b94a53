import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  EVENT_DETAIL_TYPES,
  approvalDecided,
  changeEvent,
  eventJsonSchema,
  eventSchemaFile,
} from '../../../core/change-events';
import { approvedTicket, TICKET_CHECK_VERSION } from '../../../core/change-ticket';
import { describeWindow, nextWindowStep, type CalendarReading } from '../../../core/change-window';
import { checkCalendarName } from '../../../core/naming';
import { errorName } from '../../../core/errors';

const NOW = new Date('2026-11-22T12:00:00.000Z');
const reading = (over: Partial<CalendarReading> = {}): CalendarReading => ({
  calendars: ['freeze'],
  state: 'CLOSED',
  checkedAt: NOW.toISOString(),
  ...over,
});
const hoursAfter = (h: number) => new Date(NOW.getTime() + h * 3_600_000);

describe('nextWindowStep', () => {
  const since = hoursAfter(-1);

  it('goes on when the calendars are OPEN, with no wait', () => {
    const step = nextWindowStep(reading({ state: 'OPEN' }), since, 86_400, NOW);
    expect(step).toEqual({
      ...reading({ state: 'OPEN' }),
      since: since.toISOString(),
      deadline: hoursAfter(23).toISOString(),
    });
  });

  it('waits until the next transition when it comes before the deadline', () => {
    const step = nextWindowStep(reading({ nextTransitionTime: hoursAfter(2).toISOString() }), since, 86_400, NOW);
    expect(step.waitUntil).toBe(hoursAfter(2).toISOString());
    expect(step.waitSeconds).toBe(7200);
  });

  it('gives the wait in whole seconds rounded up, at least one, so the hold never ends before its time', () => {
    const soon = new Date(NOW.getTime() + 1500).toISOString();
    expect(nextWindowStep(reading({ nextTransitionTime: soon }), since, 86_400, NOW).waitSeconds).toBe(2);
    const now = new Date(NOW.getTime() + 1).toISOString();
    expect(nextWindowStep(reading({ nextTransitionTime: now }), since, 86_400, NOW).waitSeconds).toBe(1);
  });

  it('waits until the deadline when the next transition is after it, or unknown', () => {
    const late = nextWindowStep(reading({ nextTransitionTime: hoursAfter(48).toISOString() }), since, 86_400, NOW);
    expect(late.waitUntil).toBe(hoursAfter(23).toISOString());
    const unknown = nextWindowStep(reading(), since, 86_400, NOW);
    expect(unknown.waitUntil).toBe(hoursAfter(23).toISOString());
  });

  it('does not wait for a transition time already past (the calendar was read stale): waits to the deadline', () => {
    const step = nextWindowStep(reading({ nextTransitionTime: hoursAfter(-0.5).toISOString() }), since, 86_400, NOW);
    expect(step.waitUntil).toBe(hoursAfter(23).toISOString());
  });

  it('ends ChangeWindowClosed when still CLOSED at the deadline, naming the calendar, the bound and the opening', () => {
    let thrown: unknown;
    try {
      nextWindowStep(reading({ nextTransitionTime: hoursAfter(5).toISOString() }), hoursAfter(-2), 3600, NOW);
    } catch (err) {
      thrown = err;
    }
    expect(errorName(thrown)).toBe('ChangeWindowClosed');
    expect((thrown as Error).message).toContain('change calendar freeze is still CLOSED');
    expect((thrown as Error).message).toContain(`only until ${hoursAfter(-1).toISOString()}`);
    expect((thrown as Error).message).toContain(`it opens at ${hoursAfter(5).toISOString()}`);
  });

  it('describes a window by the calendars document names', () => {
    const arn = 'arn:aws:ssm:us-east-1:111122223333:document/quarter-end';
    expect(
      describeWindow(reading({ calendars: ['freeze', arn], nextTransitionTime: hoursAfter(1).toISOString() })),
    ).toBe(
      `Change window (freeze, quarter-end): CLOSED at ${NOW.toISOString()}, opens at ${hoursAfter(1).toISOString()}; an approved deletion waits for it.`,
    );
  });

  it.each(['ab', 'a b', 'x'.repeat(129), '../etc', 'arn:aws:ssm:us-east-1:111122223333:parameter/x', 'frеeze'])(
    'refuses the calendar name %j',
    (name) => {
      expect(() => checkCalendarName(name)).toThrow(RangeError);
    },
  );
});

describe('approvedTicket', () => {
  const request = {
    version: TICKET_CHECK_VERSION,
    changeId: 'CHG-1',
    keyArn: 'arn:aws:kms:us-east-1:111122223333:key/k',
    keyMaterialId: 'a'.repeat(64),
    requestedBy: 'arn:aws:iam::111122223333:user/alice',
    reason: 'retire',
  } as const;
  const CHECK = 'arn:aws:lambda:us-east-1:111122223333:function:itsm';
  const refusal = (answer: unknown): Error => {
    try {
      approvedTicket(answer, request, CHECK, NOW);
    } catch (err) {
      return err as Error;
    }
    throw new Error('not refused');
  };

  it('keeps an APPROVED answer with who checked and when', () => {
    expect(
      approvedTicket(
        { decision: 'APPROVED', reason: 'CAB ok', link: 'https://itsm.example.com/CHG1' },
        request,
        CHECK,
        NOW,
      ),
    ).toEqual({
      decision: 'APPROVED',
      reason: 'CAB ok',
      link: 'https://itsm.example.com/CHG1',
      checkedBy: CHECK,
      checkedAt: NOW.toISOString(),
    });
  });

  it.each([
    [
      { decision: 'DENIED', reason: 'CAB said no' },
      'not approved in the change-management system (DENIED: CAB said no)',
    ],
    [{ decision: 'UNKNOWN', reason: 'no such change' }, '(UNKNOWN: no such change)'],
    [{ decision: 'approved', reason: 'lower case' }, 'gave no valid answer for change CHG-1 (decision:'],
    [{ decision: 'APPROVED' }, '(reason:'],
    [{ decision: 'APPROVED', reason: 'ok', link: 'javascript:alert(1)' }, '(link:'],
    [
      { decision: 'APPROVED', reason: 'ok', link: 'https://itsm.example.com/ab\u202eevil' },
      '(link: must not hold control',
    ],
    ['APPROVED', '(answer:'],
    [null, '(answer:'],
  ])('refuses %j as ChangeTicketNotApproved', (answer, message) => {
    const err = refusal(answer);
    expect(errorName(err)).toBe('ChangeTicketNotApproved');
    expect(err.message).toContain(message);
  });

  it('strips control and direction characters from the reason before anyone sees it', () => {
    const err = refusal({ decision: 'DENIED', reason: 'no\u202e\u0007 way' });
    expect(err.message).toContain('(DENIED: no way)');
  });
});

describe('change events', () => {
  it.each(EVENT_DETAIL_TYPES)(
    'keeps the JSON Schema of %s in schemas/events/ up to date (npm run build writes it)',
    (type) => {
      const file = join(__dirname, '../../../schemas/events', eventSchemaFile(type));
      expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual(eventJsonSchema(type));
    },
  );

  it('makes a Scan Completed event naming each failed account and Region with its cause', () => {
    const executionArn = 'arn:aws:states:us-east-1:111122223333:execution:fleet-scan:run-1';
    const event = changeEvent(
      'Scan Completed',
      {
        executionArn,
        dryRun: false,
        itemsTotal: 6,
        itemsScanned: 4,
        accountsScanned: 2,
        keysListed: 40,
        externalKeys: 20,
        violations: 3,
        changesStarted: 3,
        failed: [
          {
            account: '444455556666',
            region: 'eu-west-1',
            error: 'MemberRoleUnavailable',
            cause: 'no keymat-member-read',
          },
          { account: '444455556666', region: 'us-east-1', error: 'MemberRoleUnavailable' },
        ],
      },
      NOW,
    );
    expect(event.detailType).toBe('Scan Completed');
    expect(event.detail).toMatchObject({ version: '1', occurredAt: NOW.toISOString(), changesStarted: 3 });
    expect(event.detail).not.toHaveProperty('changeId');
  });

  it('refuses a Scan Completed event with a negative count', () => {
    const detail = {
      executionArn: 'arn:aws:states:us-east-1:111122223333:execution:fleet-scan:run-1',
      dryRun: true,
      itemsTotal: -1,
      itemsScanned: 0,
      accountsScanned: 0,
      keysListed: 0,
      externalKeys: 0,
      violations: 0,
      changesStarted: 0,
      failed: [],
    };
    expect(() => changeEvent('Scan Completed', detail, NOW)).toThrow(/itemsTotal/);
  });

  it('gives the same event the same id, and another round another id', () => {
    const executionArn = 'arn:aws:states:us-east-1:111122223333:execution:m:e';
    const asked = (approvals: number) => ({
      input: { changeId: 'CHG-1' },
      plan: { digest: 'd'.repeat(64) },
      approval: {
        approvals: Array.from({ length: approvals }, (_, i) => ({
          approver: `a${i}`,
          at: NOW.toISOString(),
          channel: 'cli',
          round: i + 1,
          mac: 'bWFj',
        })),
      },
    });
    const decision = { by: 'bob', channel: 'cli', decision: 'APPROVED' } as const;
    const first = approvalDecided(executionArn, asked(0), decision, NOW);
    const again = approvalDecided(executionArn, asked(0), decision, hoursAfter(1));
    const second = approvalDecided(executionArn, asked(1), decision, NOW);
    expect(first.detail).toMatchObject({ round: 1, decidedBy: 'bob' });
    expect(second.detail).toMatchObject({ round: 2 });
    expect(first.detail.eventId).toBe(again.detail.eventId);
    expect(second.detail.eventId).not.toBe(first.detail.eventId);
  });

  it('gives two different decisions of one round two ids, and one decision one id whatever the case', () => {
    const executionArn = 'arn:aws:states:us-east-1:111122223333:execution:m:e';
    const asked = { input: { changeId: 'CHG-1' }, plan: { digest: 'd'.repeat(64) }, approval: { approvals: [] } };
    const id = (decision: Parameters<typeof approvalDecided>[2]) =>
      approvalDecided(executionArn, asked, decision, NOW).detail.eventId;
    const bobApproves = id({ by: 'arn:aws:iam::111122223333:user/bob', channel: 'cli', decision: 'APPROVED' });
    const ids = [
      bobApproves,
      id({ by: 'arn:aws:iam::111122223333:user/bob', channel: 'web', decision: 'REJECTED', as: 'APPROVER' }),
      id({ by: 'arn:aws:iam::111122223333:user/carol', channel: 'cli', decision: 'APPROVED' }),
      id({ by: 'arn:aws:iam::111122223333:user/carol', channel: 'cli', decision: 'REJECTED', as: 'APPROVER' }),
    ];
    expect(new Set(ids).size).toBe(4);
    expect(id({ by: 'arn:aws:iam::111122223333:user/Bob', channel: 'web', decision: 'APPROVED' })).toBe(bobApproves);
  });

  it('refuses to build an event that does not fit its schema', () => {
    expect(() =>
      changeEvent(
        'Change Failed',
        // A status no failure has: a bug in the caller, caught before anything is put.
        { executionArn: 'arn:x', status: 'DELETED' as never, error: 'X' },
        NOW,
      ),
    ).toThrow();
  });
});
