import { TICKET_CHECK_VERSION, approvedTicket, type TicketRequest } from '../../../core/change-ticket';
import { errorName } from '../../../core/errors';
import { createServiceNowCheck } from '../../../examples/change-ticket/servicenow';

/** The reference ServiceNow check against a stand-in for the Table API: what it asks, and what it answers. */
const INSTANCE = 'https://example.service-now.com';
const NOW = new Date('2026-11-22T12:00:00Z');
const request = (changeId = 'CHG0030001'): TicketRequest => ({
  version: TICKET_CHECK_VERSION,
  changeId,
  keyArn: 'arn:aws:kms:us-east-1:111122223333:key/k',
  keyMaterialId: 'a'.repeat(64),
  requestedBy: 'arn:aws:iam::111122223333:user/alice',
  reason: 'retire',
});
const record = (over: Record<string, string> = {}) => ({
  sys_id: 'a1b2c3',
  number: 'CHG0030001',
  state: '-2',
  approval: 'approved',
  start_date: '2026-11-22 08:00:00',
  end_date: '2026-11-22 18:00:00',
  short_description: 'Retire BYOK material',
  description: 'Delete the 2025 material of arn:aws:kms:us-east-1:111122223333:key/k after the migration.',
  ...over,
});

function tableApi(result: unknown[], status = 200) {
  const asked: { url: URL; authorization: string | null }[] = [];
  const fetchStub = (async (url: URL, init?: RequestInit) => {
    asked.push({ url, authorization: new Headers(init?.headers).get('authorization') });
    return new Response(JSON.stringify({ result }), { status, headers: { 'content-type': 'application/json' } });
  }) as typeof fetch;
  const check = createServiceNowCheck({
    instanceUrl: INSTANCE,
    credentials: async () => ({ username: 'keymat', password: 's3cret' }),
    fetch: fetchStub,
    now: () => NOW,
  });
  return { check, asked };
}

it('asks the change_request table for that one change, as the integration user', async () => {
  const { check, asked } = tableApi([record()]);
  await check(request());
  expect(asked).toHaveLength(1);
  const { url, authorization } = asked[0]!;
  expect(url.origin + url.pathname).toBe(`${INSTANCE}/api/now/table/change_request`);
  expect(Object.fromEntries(url.searchParams)).toEqual({
    sysparm_query: 'number=CHG0030001',
    sysparm_fields: 'sys_id,number,state,approval,start_date,end_date,short_description,description',
    sysparm_display_value: 'false',
    sysparm_limit: '1',
  });
  expect(authorization).toBe(`Basic ${Buffer.from('keymat:s3cret').toString('base64')}`);
});

it('approves an approved, scheduled change inside its planned window, with a link that keymat accepts', async () => {
  const answer = await tableApi([record()]).check(request());
  expect(answer).toEqual({
    decision: 'APPROVED',
    reason: 'approved, Scheduled, planned 2026-11-22 08:00:00 to 2026-11-22 18:00:00 UTC',
    link: `${INSTANCE}/nav_to.do?uri=change_request.do%3Fsys_id%3Da1b2c3`,
  });
  expect(approvedTicket(answer, request(), 'arn:check', NOW).decision).toBe('APPROVED');
});

it.each([
  [{ approval: 'requested' }, 'the change request is requested'],
  [{ approval: 'rejected' }, 'the change request is rejected'],
  [{ state: '-3' }, 'in state Authorize, not Scheduled or Implement'],
  [{ state: '3' }, 'in state Closed'],
  [{ end_date: '2026-11-22 11:00:00' }, 'outside the planned window'],
  [{ start_date: '' }, 'outside the planned window ? to'],
  [{ description: 'Delete old material of another key' }, 'does not name key arn:aws:kms:us-east-1:111122223333:key/k'],
])('denies a change request with %j', async (over, reason) => {
  const answer = await tableApi([record(over)]).check(request());
  expect(answer.decision).toBe('DENIED');
  expect(answer.reason).toContain(reason);
  // keymat refuses it, naming the reason.
  let refused: unknown;
  try {
    approvedTicket(answer, request(), 'arn:check', NOW);
  } catch (err) {
    refused = err;
  }
  expect(errorName(refused)).toBe('ChangeTicketNotApproved');
});

it('answers UNKNOWN for a change the table does not hold, and never asks about a malformed change id', async () => {
  expect((await tableApi([]).check(request())).decision).toBe('UNKNOWN');
  const { check, asked } = tableApi([record()]);
  expect(await check(request('CHG1^ORnumber!=x'))).toMatchObject({ decision: 'UNKNOWN' });
  expect(asked).toEqual([]);
});

it('fails when the instance fails, so that keymat refuses rather than guesses', async () => {
  await expect(tableApi([], 503).check(request())).rejects.toThrow('ServiceNow answered 503 for CHG0030001');
});

it('refuses an instance that is not https', () => {
  expect(() =>
    createServiceNowCheck({
      instanceUrl: 'http://example.service-now.com',
      credentials: async () => ({ username: '', password: '' }),
    }),
  ).toThrow("instanceUrl must be https; got 'http://example.service-now.com'");
});
