import { mockClient } from 'aws-sdk-client-mock';
import { GetCalendarStateCommand, SSMClient } from '@aws-sdk/client-ssm';
import { onDemandCalendarReader } from '../../../functions/runtime/on-demand';

const ssm = mockClient(SSMClient);

describe('onDemandCalendarReader', () => {
  it('loads the SSM client on first use and reads the calendars', async () => {
    ssm.on(GetCalendarStateCommand).resolves({ State: 'CLOSED', NextTransitionTime: '2026-12-01T00:00:00Z' });
    const read = onDemandCalendarReader();
    const now = new Date('2026-11-22T00:00:00Z');
    await expect(read(['freeze'], now)).resolves.toEqual({
      calendars: ['freeze'],
      state: 'CLOSED',
      checkedAt: now.toISOString(),
      nextTransitionTime: '2026-12-01T00:00:00.000Z',
    });
    expect(ssm.commandCalls(GetCalendarStateCommand)[0]?.args[0].input).toEqual({ CalendarNames: ['freeze'] });
  });
});
