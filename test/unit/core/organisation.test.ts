import { chooseRules } from '../../../core/approvals';
import { checkKeyId } from '../../../core/input';
import { checkMember } from '../../../core/membership';
import { placeOfKeyArn, type ApprovalRule, type Members } from '../../../core/organisation';

const HUB = { account: '111122223333', region: 'us-east-1' };
const MEMBERS: Members = { organizationId: 'o-a1b2c3d4e5', regions: ['eu-west-1', 'us-east-1'] };
const KEY = '1234abcd-12ab-34cd-56ef-1234567890ab';
const DEPLOYMENT = { quorum: 1, allowedApprovers: [] };

describe('checkKeyId with members', () => {
  it("places a bare key id in the hub's own account and Region", () => {
    expect(checkKeyId(KEY, HUB, MEMBERS)).toEqual(HUB);
  });

  it('accepts a key ARN of any account in a member Region, with its partition', () => {
    expect(checkKeyId(`arn:aws:kms:eu-west-1:444455556666:key/${KEY}`, HUB, MEMBERS)).toEqual({
      partition: 'aws',
      account: '444455556666',
      region: 'eu-west-1',
    });
  });

  it('refuses a key ARN of a Region no member is in with KeyOutsideOrganisation, naming the Regions', () => {
    expect(() => checkKeyId(`arn:aws:kms:ap-south-1:444455556666:key/${KEY}`, HUB, MEMBERS)).toThrow(
      expect.objectContaining({
        name: 'KeyOutsideOrganisation',
        message: expect.stringContaining('keymat acts only in us-east-1, eu-west-1'),
      }),
    );
  });

  it('refuses a key of another account with KeyNotInThisAccountOrRegion when there are no members', () => {
    expect(() => checkKeyId(`arn:aws:kms:us-east-1:444455556666:key/${KEY}`, HUB)).toThrow(
      expect.objectContaining({ name: 'KeyNotInThisAccountOrRegion' }),
    );
  });

  it('refuses an alias with members as without', () => {
    expect(() => checkKeyId('arn:aws:kms:eu-west-1:444455556666:alias/payroll', HUB, MEMBERS)).toThrow(
      expect.objectContaining({ name: 'AliasNotAllowed' }),
    );
  });
});

describe('placeOfKeyArn', () => {
  it('reads the partition, account and Region of a key ARN', () => {
    expect(placeOfKeyArn(`arn:aws-us-gov:kms:us-gov-west-1:444455556666:key/${KEY}`)).toEqual({
      partition: 'aws-us-gov',
      account: '444455556666',
      region: 'us-gov-west-1',
    });
  });
});

describe('checkMember', () => {
  const placement = {
    account: '444455556666',
    accountName: 'payments',
    organizationalUnits: [
      { id: 'ou-ab12-work0001', name: 'Workloads' },
      { id: 'ou-ab12-prod0001', name: 'Production' },
    ],
  };

  it('takes every account of the organisation when no account or OU is listed', () => {
    expect(() => checkMember(MEMBERS, placement)).not.toThrow();
  });

  it('takes an account under a listed OU at any depth', () => {
    expect(() => checkMember({ ...MEMBERS, organizationalUnits: ['ou-ab12-work0001'] }, placement)).not.toThrow();
  });

  it('refuses an account neither listed nor under a listed OU with KeyOutsideOrganisation, naming its path', () => {
    expect(() =>
      checkMember({ ...MEMBERS, accounts: ['777788889999'], organizationalUnits: ['ou-ab12-sand0001'] }, placement),
    ).toThrow(
      expect.objectContaining({
        name: 'KeyOutsideOrganisation',
        message: expect.stringContaining('Workloads (ou-ab12-work0001) / Production (ou-ab12-prod0001)'),
      }),
    );
  });
});

describe('chooseRules', () => {
  const rules: ApprovalRule[] = [
    { name: 'break-glass', match: { account: '444455556666' }, quorum: 3, approvers: ['arn:aws:iam::1:role/A'] },
    { name: 'production', match: { organizationalUnit: 'ou-ab12-prod0001' }, quorum: 2 },
    { name: 'workloads', match: { organizationalUnit: 'ou-ab12-work0001' }, quorum: 1 },
  ];

  it('takes the first rule that matches: an account rule before an OU rule listed after it', () => {
    expect(chooseRules(rules, '444455556666', ['ou-ab12-work0001', 'ou-ab12-prod0001'], DEPLOYMENT)).toEqual({
      rule: 'break-glass',
      quorum: 3,
      allowedApprovers: ['arn:aws:iam::1:role/A'],
    });
  });

  it('matches an OU anywhere on the path, in the order of the rules', () => {
    expect(chooseRules(rules, '777788889999', ['ou-ab12-work0001', 'ou-ab12-prod0001'], DEPLOYMENT)).toEqual({
      rule: 'production',
      quorum: 2,
      allowedApprovers: [],
    });
  });

  it("takes the deployment's rules, without a rule name, when none matches", () => {
    expect(chooseRules(rules, '777788889999', [], { quorum: 2, allowedApprovers: ['x'] })).toEqual({
      quorum: 2,
      allowedApprovers: ['x'],
    });
  });
});
