import { ENV } from '../../../core/config';
import { onDemandCalendarReader } from '../../../functions/runtime/on-demand';
import { FakeAws } from '../../helpers/fake-aws';

const aws = new FakeAws();
const original = process.env;
beforeAll(async () => {
  const endpoint = await aws.start();
  process.env = {
    ...original,
    [ENV.region]: 'us-east-1',
    [ENV.endpoint]: endpoint,
    [ENV.accessKeyId]: 'AKIDONDEMAND',
    [ENV.secretAccessKey]: 'on-demand-secret',
  };
});
afterAll(async () => {
  process.env = original;
  await aws.stop();
});

describe('onDemandCalendarReader', () => {
  it('loads the SSM client on first use and reads the calendars', async () => {
    aws.on('GetCalendarState', { output: { State: 'CLOSED', NextTransitionTime: '2026-12-01T00:00:00Z' } });
    const read = onDemandCalendarReader();
    const now = new Date('2026-11-22T00:00:00Z');
    await expect(read(['freeze'], now)).resolves.toEqual({
      calendars: ['freeze'],
      state: 'CLOSED',
      checkedAt: now.toISOString(),
      nextTransitionTime: '2026-12-01T00:00:00.000Z',
    });
    expect(aws.calls).toEqual([
      expect.objectContaining({ service: 'ssm', operation: 'GetCalendarState', input: { CalendarNames: ['freeze'] } }),
    ]);
  });
});
