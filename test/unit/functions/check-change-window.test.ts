import { errorName } from '../../../core/errors';
import type { WindowCheck } from '../../../core/change-window';
import { createCheckChangeWindow } from '../../../functions/check-change-window/check-change-window';
import type { CalendarReader } from '../../../functions/runtime/calendars';
import { input, planFor, snapshot } from '../../helpers/kms-fixtures';
import { EXECUTION_ID, silentLogger } from '../../helpers/task-deps';

/**
 * CheckChangeWindow: the bound counts from the first check, and every later check of one change counts to the same
 * deadline, whatever the answer to the approval task says its time is.
 */
const plan = planFor(snapshot());
/** The workflow's state as it reaches the check: the approvals as answered, and the last check once there is one. */
const event = (at: string[], changeWindow?: WindowCheck) => ({
  executionId: EXECUTION_ID,
  state: {
    input: input(),
    plan,
    approval: {
      planDigest: plan.digest,
      approvals: at.map((a, i) => ({ approver: `approver-${i}`, at: a, channel: 'cli', round: i + 1, mac: 'bWFj' })),
    },
    ...(changeWindow && { changeWindow }),
  },
});
const closed: CalendarReader = async (calendars, now) => ({ calendars, state: 'CLOSED', checkedAt: now.toISOString() });
const checkWith = (maxWaitSeconds: number) =>
  createCheckChangeWindow({
    calendars: closed,
    config: { changeCalendars: ['freeze'], maxWaitSeconds },
    logger: silentLogger(),
  });
const check = checkWith(3600);
const secondsFromNow = (s: number) => new Date(Date.now() + s * 1000).toISOString();

it('starts the wait at the first check, and waits until then plus the maximum wait', async () => {
  const before = Date.now();
  const step = await check(event([secondsFromNow(-60)]));
  const since = Date.parse(step.since);
  expect(since).toBeGreaterThanOrEqual(before);
  expect(since).toBeLessThanOrEqual(Date.now());
  expect(step).toMatchObject({ state: 'CLOSED', deadline: new Date(since + 3_600_000).toISOString() });
  expect(step.waitUntil).toBe(step.deadline);
});

it('keeps the deadline of the first check at every later check', async () => {
  const first = await check(event([secondsFromNow(-60)]));
  await new Promise((r) => setTimeout(r, 20));
  const again = await check(event([secondsFromNow(-60)], first));
  expect(again.since).toBe(first.since);
  expect(again.deadline).toBe(first.deadline);
});

it.each([
  ['a little in the future', secondsFromNow(30)],
  ['far in the future', '2099-01-01T00:00:00.000Z'],
  ['before the execution started', '1970-01-01T00:00:00.000Z'],
])('does not move the deadline for an approval dated %s', async (_case, at) => {
  const honest = await check(event([secondsFromNow(-1)]));
  const forged = await check(event([at]));
  expect(Math.abs(Date.parse(forged.since) - Date.parse(honest.since))).toBeLessThan(1000);
  // Once the forged time has passed, the next check still counts to the first check's deadline.
  const later = await check(event([secondsFromNow(-1)], forged));
  expect(later.deadline).toBe(forged.deadline);
});

it('ends ChangeWindowClosed once the first check is older than the maximum wait', async () => {
  const early = checkWith(60);
  const first = await early(event([secondsFromNow(-1)]));
  const aged = { ...first, since: secondsFromNow(-120), deadline: secondsFromNow(-60) };
  const err = await early(event([secondsFromNow(-1)], aged)).catch((e: unknown) => e);
  expect(errorName(err)).toBe('ChangeWindowClosed');
});
