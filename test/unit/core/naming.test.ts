import {
  CHANGE_ID,
  KEY_ARN,
  KEY_ID,
  KEY_ID_OR_ARN,
  KEY_MATERIAL_ID,
  executionArnOf,
  executionNameFor,
  isAlias,
  regionOfArn,
  stateMachineArnOf,
} from '../../../core/naming';

const UUID = '1234abcd-12ab-34cd-56ef-1234567890ab';
const MRK = 'mrk-0123456789abcdef0123456789abcdef';
const ARN = `arn:aws:kms:us-east-1:111122223333:key/${UUID}`;
const MACHINE = 'arn:aws:states:eu-west-1:111122223333:stateMachine:KeymatDeletion';

describe('key names', () => {
  it('accepts a UUID and a multi-Region key id as key ids', () => {
    expect(KEY_ID.test(UUID)).toBe(true);
    expect(KEY_ID.test(MRK)).toBe(true);
  });

  it.each([
    ['upper case', UUID.toUpperCase()],
    ['a short mrk id', 'mrk-0123'],
    ['a key ARN', ARN],
    ['an alias', 'alias/payroll'],
  ])('refuses %s as a bare key id', (_label, value) => {
    expect(KEY_ID.test(value)).toBe(false);
  });

  it('accepts key ARNs of any partition with either kind of key id', () => {
    expect(KEY_ARN.test(ARN)).toBe(true);
    expect(KEY_ARN.test(`arn:aws-us-gov:kms:us-gov-west-1:111122223333:key/${MRK}`)).toBe(true);
  });

  it.each([
    ['a bare key id', UUID],
    ['an alias ARN', 'arn:aws:kms:us-east-1:111122223333:alias/payroll'],
    ['a key ARN with a made-up key id', 'arn:aws:kms:us-east-1:111122223333:key/not-a-key'],
    ['another service', `arn:aws:s3:us-east-1:111122223333:key/${UUID}`],
    ['a short account', `arn:aws:kms:us-east-1:1111:key/${UUID}`],
  ])('refuses %s as a key ARN', (_label, value) => {
    expect(KEY_ARN.test(value)).toBe(false);
  });

  it('takes a key id or a key ARN as one pattern, and nothing else', () => {
    expect([UUID, MRK, ARN].every((v) => KEY_ID_OR_ARN.test(v))).toBe(true);
    expect(KEY_ID_OR_ARN.test('alias/payroll')).toBe(false);
  });

  it('recognises alias names and alias ARNs', () => {
    expect(isAlias('alias/payroll')).toBe(true);
    expect(isAlias('arn:aws:kms:us-east-1:111122223333:alias/payroll')).toBe(true);
    expect(isAlias(ARN)).toBe(false);
    expect(isAlias(UUID)).toBe(false);
  });

  it('takes only 64 lower-case hex digits as a KeyMaterialId', () => {
    expect(KEY_MATERIAL_ID.test('a'.repeat(64))).toBe(true);
    expect(KEY_MATERIAL_ID.test('A'.repeat(64))).toBe(false);
    expect(KEY_MATERIAL_ID.test('a'.repeat(63))).toBe(false);
  });
});

describe('change ids and executions', () => {
  it.each(['CHG-1', 'a', 'x.y_z-1', 'C'.repeat(64)])('accepts %s as a change id', (id) => {
    expect(CHANGE_ID.test(id)).toBe(true);
  });

  it.each(['', '-CHG', 'CHG 1', 'C'.repeat(65), '"><script>'])('refuses %j as a change id', (id) => {
    expect(CHANGE_ID.test(id)).toBe(false);
  });

  it('names the execution after the change id', () => {
    expect(executionNameFor('CHG-1')).toBe('keymat-CHG-1');
  });

  it('builds the execution ARN from the state machine and back', () => {
    const arn = executionArnOf(MACHINE, 'keymat-CHG-1');
    expect(arn).toBe('arn:aws:states:eu-west-1:111122223333:execution:KeymatDeletion:keymat-CHG-1');
    expect(stateMachineArnOf(arn)).toBe(MACHINE);
  });

  it('refuses to take a state machine from something that is not an execution ARN', () => {
    expect(() => stateMachineArnOf(MACHINE)).toThrow(/not a Step Functions execution ARN/);
  });

  it('reads the Region of an ARN, and refuses a value without one', () => {
    expect(regionOfArn(MACHINE)).toBe('eu-west-1');
    expect(() => regionOfArn('keymat-CHG-1')).toThrow(/is not an ARN with a Region/);
  });
});
