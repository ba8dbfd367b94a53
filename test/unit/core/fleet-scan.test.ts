import { EVENT_DETAILS } from '../../../core/change-events';
import { NOT_STARTED } from '../../../core/map-results';
import { describeFleetScan, fleetItems, fleetScanCompleted, type FleetScanSummary } from '../../../core/fleet-scan';

const RUN = { executionArn: 'arn:aws:states:eu-west-1:111122223333:execution:Keymat-fleet-scan:run-1', dryRun: true };
const AT = new Date('2026-12-06T06:00:00Z');
const counts = (account: string, region: string, n: number) => ({
  account,
  region,
  keysListed: n,
  externalKeys: n,
  violations: 1,
  changesStarted: 0,
});

describe('fleetItems', () => {
  it('makes one item per account and Region, each once, ordered by account then Region', () => {
    expect(fleetItems(['222233334444', '111122223333', '222233334444'], ['us-east-1', 'eu-west-1'])).toEqual([
      { account: '111122223333', region: 'eu-west-1' },
      { account: '111122223333', region: 'us-east-1' },
      { account: '222233334444', region: 'eu-west-1' },
      { account: '222233334444', region: 'us-east-1' },
    ]);
  });
});

describe('fleetScanCompleted', () => {
  it("adds up the children's counts and reports each failed child's item, error and cause", () => {
    const event = fleetScanCompleted(
      RUN,
      [
        counts('111122223333', 'eu-west-1', 3),
        counts('111122223333', 'us-east-1', 2),
        {
          Status: 'FAILED',
          Input: JSON.stringify({ account: '555566667777', region: 'eu-west-1', step: 'scan' }),
          Error: 'MemberRoleUnavailable',
          Cause: 'STS refused role arn:aws:iam::555566667777:role/keymat-member-read',
        },
        { Status: 'TIMED_OUT', Input: '{"account":"666677778888","region":"us-east-1"}' },
      ],
      AT,
    );
    expect(event.detailType).toBe('Scan Completed');
    const detail = EVENT_DETAILS['Scan Completed'].parse(event.detail);
    expect(detail).toMatchObject({
      ...RUN,
      occurredAt: AT.toISOString(),
      itemsTotal: 4,
      itemsScanned: 2,
      accountsScanned: 1,
      keysListed: 5,
      externalKeys: 5,
      violations: 2,
      changesStarted: 0,
      failed: [
        {
          account: '555566667777',
          region: 'eu-west-1',
          error: 'MemberRoleUnavailable',
          cause: 'STS refused role arn:aws:iam::555566667777:role/keymat-member-read',
        },
        { account: '666677778888', region: 'us-east-1', error: 'TIMED_OUT' },
      ],
    });
  });

  it('reports a child never started as not scanned, and lists the failures by account and Region', () => {
    const detail = fleetScanCompleted(
      RUN,
      [
        { Status: 'PENDING', Input: '{"account":"666677778888","region":"eu-west-1"}', Error: NOT_STARTED },
        { Status: 'FAILED', Input: '{"account":"555566667777","region":"us-east-1"}', Error: 'MemberRoleUnavailable' },
      ],
      AT,
    ).detail as FleetScanSummary;
    expect(detail).toMatchObject({ itemsTotal: 2, itemsScanned: 0 });
    expect(detail.failed.map((f) => [f.account, f.error])).toEqual([
      ['555566667777', 'MemberRoleUnavailable'],
      ['666677778888', NOT_STARTED],
    ]);
  });

  it('gives the same run the same event id, so a repeated summary step is recognised', () => {
    expect(fleetScanCompleted(RUN, [], AT).detail.eventId).toBe(fleetScanCompleted(RUN, [], new Date()).detail.eventId);
  });

  it('refuses a result that is neither counts nor a failed child, naming its index', () => {
    expect(() => fleetScanCompleted(RUN, [counts('111122223333', 'eu-west-1', 1), { ok: true }], AT)).toThrow(
      'fleet scan result 1 is neither',
    );
  });
});

describe('describeFleetScan', () => {
  it('names the run, the totals and each failed account and Region with its cause', () => {
    const detail = fleetScanCompleted(
      RUN,
      [
        {
          Status: 'FAILED',
          Input: '{"account":"555566667777","region":"eu-west-1"}',
          Error: 'AccessDeniedException',
          Cause: 'no',
        },
      ],
      AT,
    ).detail as FleetScanSummary;
    expect(describeFleetScan(detail)).toEqual([
      `keymat fleet scan ${RUN.executionArn} at ${AT.toISOString()} (dry run: nothing started)`,
      '0 of 1 account × Region item scanned (0 accounts): 0 keys listed, 0 customer-managed EXTERNAL, 0 materials violate the policy, 0 changes started.',
      'failed 555566667777 eu-west-1: AccessDeniedException: no',
    ]);
  });

  it('says one of each in the singular', () => {
    const detail = fleetScanCompleted(
      { ...RUN, dryRun: false },
      [{ ...counts('111122223333', 'eu-west-1', 1), changesStarted: 1 }],
      AT,
    ).detail as FleetScanSummary;
    expect(describeFleetScan(detail)[1]).toBe(
      '1 of 1 account × Region item scanned (1 account): 1 key listed, 1 customer-managed EXTERNAL, 1 material violates the policy, 1 change started.',
    );
  });
});
