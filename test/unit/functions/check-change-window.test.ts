import { errorName } from '../../../core/errors';
import { createCheckChangeWindow } from '../../../functions/check-change-window/check-change-window';
import type { CalendarReader } from '../../../functions/runtime/calendars';
import { input, planFor, snapshot } from '../../helpers/kms-fixtures';
import { EXECUTION_ID, silentLogger } from './deps';

/**
 * CheckChangeWindow: the bound counts from the last approval, and every check of one change counts to the same
 * deadline, whatever the answer to the approval task says its time is.
 */
const plan = planFor(snapshot());
const STARTED = new Date(Date.now() - 600_000).toISOString();
const event = (...at: string[]) => ({
  executionId: EXECUTION_ID,
  input: input(),
  plan,
  executionStartTime: STARTED,
  approval: {
    planDigest: plan.digest,
    approvals: at.map((a, i) => ({ approver: `approver-${i}`, at: a, channel: 'cli', round: i + 1, mac: 'bWFj' })),
  },
});
const closed: CalendarReader = async (calendars, now) => ({ calendars, state: 'CLOSED', checkedAt: now.toISOString() });
const check = createCheckChangeWindow({
  calendars: closed,
  config: { changeCalendars: ['freeze'], maxWaitSeconds: 3600 },
  logger: silentLogger(),
});

it('waits until the last approval plus the maximum wait', async () => {
  const first = new Date(Date.now() - 120_000).toISOString();
  const last = new Date(Date.now() - 60_000).toISOString();
  const step = await check(event(first, last));
  expect(step).toMatchObject({
    state: 'CLOSED',
    since: last,
    deadline: new Date(Date.parse(last) + 3_600_000).toISOString(),
  });
  expect(step.waitUntil).toBe(step.deadline);
});

it('ends ChangeWindowClosed once the last approval is older than the maximum wait', async () => {
  const early = createCheckChangeWindow({
    calendars: closed,
    config: { changeCalendars: ['freeze'], maxWaitSeconds: 60 },
    logger: silentLogger(),
  });
  const err = await early(event(new Date(Date.now() - 120_000).toISOString())).catch((e: unknown) => e);
  expect(errorName(err)).toBe('ChangeWindowClosed');
});

it.each([
  ['dated in the future', '2099-01-01T00:00:00.000Z'],
  ['dated before the execution started', '1970-01-01T00:00:00.000Z'],
])('counts from the execution start, check after check, for an approval %s', async (_case, at) => {
  const first = await check(event(at));
  await new Promise((r) => setTimeout(r, 20));
  const again = await check(event(at));
  expect(first.since).toBe(new Date(STARTED).toISOString());
  expect(again.deadline).toBe(first.deadline);
});
