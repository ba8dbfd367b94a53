import { createCheckChangeWindow } from '../../../functions/check-change-window/check-change-window';
import type { CalendarReader } from '../../../functions/runtime/calendars';
import { errorName } from '../../../core/errors';
import { input, planFor, snapshot } from '../../helpers/kms-fixtures';
import { EXECUTION_ID, silentLogger } from './deps';

/** CheckChangeWindow: the bound counts from the last approval, and never from a time still to come. */
const plan = planFor(snapshot());
const approvedAt = (at: string) => ({
  executionId: EXECUTION_ID,
  input: input(),
  plan,
  approval: { planDigest: plan.digest, approvals: [{ approver: 'bob', at, channel: 'cli', round: 1, mac: 'bWFj' }] },
});
const closed: CalendarReader = async (calendars, now) => ({ calendars, state: 'CLOSED', checkedAt: now.toISOString() });
const check = createCheckChangeWindow({
  calendars: closed,
  config: { changeCalendars: ['freeze'], maxWaitSeconds: 3600 },
  logger: silentLogger(),
});

it('waits until the last approval plus the maximum wait', async () => {
  const at = new Date(Date.now() - 60_000).toISOString();
  const step = await check(approvedAt(at));
  expect(step).toMatchObject({
    state: 'CLOSED',
    since: at,
    deadline: new Date(Date.parse(at) + 3_600_000).toISOString(),
  });
  expect(step.waitUntil).toBe(step.deadline);
});

it('ends ChangeWindowClosed once the last approval is older than the maximum wait', async () => {
  const err = await check(approvedAt(new Date(Date.now() - 7_200_000).toISOString())).catch((e: unknown) => e);
  expect(errorName(err)).toBe('ChangeWindowClosed');
});

it('does not let an approval dated in the future stretch the bound', async () => {
  const before = Date.now();
  const step = await check(approvedAt('2099-01-01T00:00:00.000Z'));
  expect(Date.parse(step.since)).toBeGreaterThanOrEqual(before);
  expect(Date.parse(step.deadline)).toBeLessThanOrEqual(Date.now() + 3_600_000);
});
