import { canonicalPrincipal, checkApproverPattern } from '../../../core/identity';
import {
  ALIAS,
  ARN,
  CALENDAR_ARN,
  EVENT_BUS,
  FUNCTION_ARN,
  KEY_ARN,
  KEY_ID_OR_ARN,
  regionOfArn,
  scopeOfStateMachine,
} from '../../../core/naming';

/**
 * Every partition keymat deploys to, with a Region of each: the ARN patterns (core/naming.ts) and the identities
 * (core/identity.ts) share one partition pattern, so each accepts the same partitions.
 */
const PARTITIONS = [
  ['aws', 'us-east-1'],
  ['aws-cn', 'cn-north-1'],
  ['aws-us-gov', 'us-gov-west-1'],
  ['aws-iso', 'us-iso-east-1'],
  ['aws-iso-b', 'us-isob-east-1'],
  ['aws-iso-e', 'eu-isoe-west-1'],
  ['aws-iso-f', 'us-isof-south-1'],
  ['aws-eusc', 'eusc-de-east-1'],
] as const;
const ACCOUNT = '111122223333';
const KEY = '1234abcd-12ab-34cd-56ef-1234567890ab';

describe.each(PARTITIONS)('the %s partition', (partition, region) => {
  const arn = (service: string, resource: string, inRegion = region) =>
    `arn:${partition}:${service}:${inRegion}:${ACCOUNT}:${resource}`;

  it('is accepted by the key, alias, calendar, function and event bus patterns', () => {
    expect(KEY_ARN.test(arn('kms', `key/${KEY}`))).toBe(true);
    expect(KEY_ID_OR_ARN.test(arn('kms', `key/${KEY}`))).toBe(true);
    expect(ALIAS.test(arn('kms', 'alias/payroll'))).toBe(true);
    expect(CALENDAR_ARN.test(arn('ssm', 'document/freeze'))).toBe(true);
    expect(FUNCTION_ARN.test(arn('lambda', 'function:tickets'))).toBe(true);
    expect(EVENT_BUS.test(arn('events', 'event-bus/audit'))).toBe(true);
  });

  it('gives the Region and account of its ARNs', () => {
    const machine = arn('states', 'stateMachine:keymat-deletion');
    expect(ARN.exec(machine)?.[1]).toBe(partition);
    expect(regionOfArn(machine)).toBe(region);
    expect(scopeOfStateMachine(machine)).toEqual({ account: ACCOUNT, region });
  });

  it('is accepted in callers and approvers, and kept in the canonical principal', () => {
    expect(canonicalPrincipal(`arn:${partition}:sts::${ACCOUNT}:assumed-role/KeyOps/alice`)).toBe(
      `arn:${partition}:iam::${ACCOUNT}:role/KeyOps`,
    );
    expect(canonicalPrincipal(`arn:${partition}:iam::${ACCOUNT}:user/bob`)).toBe(
      `arn:${partition}:iam::${ACCOUNT}:user/bob`,
    );
    expect(checkApproverPattern(`arn:${partition}:iam::${ACCOUNT}:role/*`)).toBe(
      `arn:${partition}:iam::${ACCOUNT}:role/*`,
    );
  });
});

describe('a partition name', () => {
  it.each(['awsx', 'aws-', 'aws-CN', 'gcp', 'aws_cn'])('refuses %s in every pattern', (partition) => {
    expect(KEY_ARN.test(`arn:${partition}:kms:us-east-1:${ACCOUNT}:key/${KEY}`)).toBe(false);
    expect(ARN.test(`arn:${partition}:kms:us-east-1:${ACCOUNT}:key/${KEY}`)).toBe(false);
    expect(() => canonicalPrincipal(`arn:${partition}:iam::${ACCOUNT}:user/bob`)).toThrow(
      expect.objectContaining({ name: 'InvalidIdentity' }),
    );
    expect(() => checkApproverPattern(`arn:${partition}:iam::${ACCOUNT}:user/bob`)).toThrow(
      expect.objectContaining({ name: 'InvalidIdentity' }),
    );
  });
});
