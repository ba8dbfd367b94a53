import {
  DescribeKeyCommand,
  GetKeyLastUsageCommand,
  KMSClient,
  KMSInternalException,
  ListAliasesCommand,
  ListKeyRotationsCommand,
} from '@aws-sdk/client-kms';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import { attestStart } from '../../../core/attestation';
import { createValidateOrigin } from '../../../functions/validate-origin/validate-origin';
import { testAttestor } from '../../helpers/attestor';
import { DEPLOYMENT_RULES, KEY_ARN, KEY_ID, M1, M2, REPLICA_ARN, material, metadata } from '../../helpers/kms-fixtures';
import { recordedEvents, validateOriginDeps } from '../../helpers/task-deps';

const kms = mockClient(KMSClient);
const attestor = testAttestor();
const handler = createValidateOrigin(validateOriginDeps({ attestor }));

function keyWith(meta: Parameters<typeof metadata>[0], materials = [material(M1)]) {
  kms.on(DescribeKeyCommand).resolves({ KeyMetadata: metadata(meta) });
  kms.on(ListKeyRotationsCommand).resolves({ Rotations: materials, Truncated: false });
  kms.on(ListAliasesCommand).resolves({ Aliases: [{ AliasName: 'alias/payroll' }] });
  kms.on(GetKeyLastUsageCommand).resolves({
    KeyLastUsage: { Operation: 'Decrypt', Timestamp: new Date('2026-11-01T00:00:00Z') },
    TrackingStartDate: new Date('2026-01-01T00:00:00Z'),
  });
}

const EXECUTION = 'arn:aws:states:us-east-1:111122223333:execution:m:e';
const ALICE = 'arn:aws:iam::111122223333:user/alice';
const request = (over: Record<string, unknown> = {}) => ({
  keyId: KEY_ARN,
  changeId: 'CHG-1',
  reason: 'retire',
  requestedBy: ALICE,
  ...over,
});
/** A start as the gateway makes it: attested for this execution and input. */
const event = async (over: Record<string, unknown> = {}) => {
  const input = request(over);
  const attested =
    typeof input.requestedBy === 'string'
      ? await attestStart(attestor, 'e', { ...input, requestedBy: input.requestedBy }, 'cli', new Date())
      : input;
  return { executionId: EXECUTION, input: attested, rules: DEPLOYMENT_RULES, recoveryProof: 'off' };
};

beforeEach(() => kms.reset());

describe('ValidateOrigin builds the plan KMS semantics call for', () => {
  it('current material of an Enabled key: the key will be PendingImport', async () => {
    keyWith({});
    const { input, plan } = await handler(await event());
    expect(input).toMatchObject({ waitSeconds: 30, dryRun: false });
    expect(plan).toMatchObject({
      keyArn: KEY_ARN,
      aliases: ['alias/payroll'],
      keyMaterialId: M1,
      keyMaterialState: 'CURRENT',
      keyStateBefore: 'Enabled',
      expectedKeyState: 'PendingImport',
      expectedMaterial: 'PENDING_IMPORT',
      alreadyDeleted: false,
      lastUsage: { known: true, operation: 'Decrypt', at: '2026-11-01T00:00:00.000Z' },
    });
    expect(plan.digest).toMatch(/^[a-f0-9]{64}$/);
    expect(kms).toHaveReceivedCommandWith(ListKeyRotationsCommand, {
      KeyId: KEY_ARN,
      IncludeKeyMaterial: 'ALL_KEY_MATERIAL',
    });
  });

  it('a named NON_CURRENT material: the key will be PendingImport', async () => {
    keyWith({ CurrentKeyMaterialId: M2 }, [material(M1, { KeyMaterialState: 'NON_CURRENT' }), material(M2)]);
    const { plan } = await handler(await event({ keyMaterialId: M1 }));
    expect(plan).toMatchObject({ keyMaterialState: 'NON_CURRENT', expectedKeyState: 'PendingImport' });
  });

  it.each(['PENDING_ROTATION', 'PENDING_MULTI_REGION_IMPORT_AND_ROTATION'] as const)(
    'a %s material of a multi-Region primary: state unchanged, every replica affected',
    async (state) => {
      keyWith(
        {
          KeyState: 'Disabled',
          MultiRegion: true,
          MultiRegionConfiguration: {
            MultiRegionKeyType: 'PRIMARY',
            PrimaryKey: { Arn: KEY_ARN, Region: 'us-east-1' },
            ReplicaKeys: [{ Arn: REPLICA_ARN, Region: 'eu-west-1' }],
          },
        },
        [material(M1), material(M2, { KeyMaterialState: state })],
      );
      const { plan } = await handler(await event({ keyMaterialId: M2 }));
      expect(plan).toMatchObject({
        expectedKeyState: 'Disabled',
        expectedMaterial: 'REMOVED',
        multiRegion: { role: 'PRIMARY', replicasAffected: [REPLICA_ARN] },
      });
    },
  );

  it('current material of a multi-Region primary affects only the primary', async () => {
    keyWith({
      MultiRegion: true,
      MultiRegionConfiguration: {
        MultiRegionKeyType: 'PRIMARY',
        ReplicaKeys: [{ Arn: REPLICA_ARN, Region: 'eu-west-1' }],
      },
    });
    const { plan } = await handler(await event());
    expect(plan.multiRegion).toEqual({ role: 'PRIMARY', replicas: [REPLICA_ARN], replicasAffected: [] });
  });

  it('material already deleted: the plan says so', async () => {
    keyWith({ KeyState: 'PendingImport' }, [material(M1, { ImportState: 'PENDING_IMPORT' })]);
    const { plan } = await handler(await event());
    expect(plan).toMatchObject({ alreadyDeleted: true, keyStateBefore: 'PendingImport' });
  });

  it('says plainly when the last use is unknown', async () => {
    keyWith({});
    kms.on(GetKeyLastUsageCommand).rejects(Object.assign(new Error('no'), { name: 'AccessDeniedException' }));
    const { plan } = await handler(await event());
    expect(plan.lastUsage).toEqual({ known: false });
  });

  it('lets a transient GetKeyLastUsage error through for the state machine to retry', async () => {
    keyWith({});
    kms.on(GetKeyLastUsageCommand).rejects(new KMSInternalException({ message: 'boom', $metadata: {} }));
    await expect(handler(await event())).rejects.toMatchObject({ name: 'KMSInternalException' });
  });
});

describe('ValidateOrigin warns the approver (rotation retirement)', () => {
  it('when an alias still points at a key that will become PendingImport, and when it was used recently', async () => {
    keyWith({});
    kms
      .on(GetKeyLastUsageCommand)
      .resolves({ KeyLastUsage: { Operation: 'Decrypt', Timestamp: new Date(Date.now() - 3 * 86_400_000) } });
    const { plan } = await handler(await event());
    expect(plan.warnings).toEqual([
      'alias alias/payroll still points at this key: whatever uses the alias fails once the key is PendingImport; move the alias first',
      'the key was used for Decrypt 3 days ago, within the 30-day window: check that nothing still needs it',
    ]);
  });

  it('not about the alias when only a pending-rotation material goes, nor about a use long ago', async () => {
    keyWith({}, [material(M1), material(M2, { KeyMaterialState: 'PENDING_ROTATION' })]);
    kms
      .on(GetKeyLastUsageCommand)
      .resolves({ KeyLastUsage: { Operation: 'Encrypt', Timestamp: new Date(Date.now() - 90 * 86_400_000) } });
    const { plan } = await handler(await event({ keyMaterialId: M2 }));
    expect(plan.warnings).toEqual([]);
  });
});

describe('ValidateOrigin refuses', () => {
  it.each([
    ['a key of another origin', { Origin: 'AWS_KMS' }, 'OriginNotExternal'],
    ['an AWS managed key', { KeyManager: 'AWS' }, 'KeyNotCustomerManaged'],
  ] as const)('%s', async (_l, meta, name) => {
    keyWith(meta);
    await expect(handler(await event())).rejects.toMatchObject({ name });
    expect(kms).not.toHaveReceivedCommand(ListAliasesCommand);
  });

  it('a KeyMaterialId the key does not have with KeyMaterialNotFound', async () => {
    keyWith({});
    await expect(handler(await event({ keyMaterialId: M2 }))).rejects.toMatchObject({ name: 'KeyMaterialNotFound' });
  });

  it.each([
    ['an alias name', { keyId: 'alias/payroll' }, 'AliasNotAllowed', 'alias/payroll'],
    ['an alias ARN', { keyId: 'arn:aws:kms:us-east-1:111122223333:alias/payroll' }, 'AliasNotAllowed', 'alias/payroll'],
    [
      'a key of another account',
      { keyId: `arn:aws:kms:us-east-1:999999999999:key/${KEY_ID}` },
      'KeyNotInThisAccountOrRegion',
      '999999999999',
    ],
    [
      'a key of another Region',
      { keyId: `arn:aws:kms:eu-west-1:111122223333:key/${KEY_ID}` },
      'KeyNotInThisAccountOrRegion',
      'eu-west-1',
    ],
    ['an ARN of another service', { keyId: 'arn:aws:s3:::my-bucket' }, 'InvalidInput', 'keyId'],
    ['a malformed key id', { keyId: 'not-a-key' }, 'InvalidInput', 'keyId'],
    ['an upper-case KeyMaterialId', { keyMaterialId: 'A'.repeat(64) }, 'InvalidInput', 'keyMaterialId'],
    ['a short KeyMaterialId', { keyMaterialId: 'a'.repeat(63) }, 'InvalidInput', 'keyMaterialId'],
    ['a missing changeId', { changeId: undefined }, 'InvalidInput', 'changeId is required'],
    ['a changeId with a slash', { changeId: 'CHG/1' }, 'InvalidInput', 'changeId'],
    ['a blank reason', { reason: '   ' }, 'InvalidInput', 'reason must not be blank'],
    ['a reason with a bidi override', { reason: 'ok\u202Eevil' }, 'InvalidInput', 'reason must not contain'],
    ['a numeric requestedBy', { requestedBy: 42 }, 'InvalidInput', 'requestedBy must be a string'],
    ['waitSeconds out of range', { waitSeconds: 99999 }, 'InvalidInput', 'waitSeconds'],
    ['an unknown field', { approvedBy: 'me' }, 'InvalidInput', 'approvedBy is not a field'],
  ])('%s, before any KMS call', async (_l, over, name, mentions) => {
    const err = await handler(await event(over)).catch((e: Error) => e);
    expect(err).toMatchObject({ name });
    expect((err as Error).message).toContain(mentions);
    expect(kms.calls()).toHaveLength(0);
  });
});

describe('ValidateOrigin trusts only an attested start', () => {
  it('refuses a raw start with no attestation as StartNotAttested, before any KMS call', async () => {
    const err = await handler({
      executionId: EXECUTION,
      input: request(),
      rules: DEPLOYMENT_RULES,
      recoveryProof: 'off',
    }).catch((e: Error) => e);
    expect(err).toMatchObject({ name: 'StartNotAttested' });
    expect((err as Error).message).toContain(`requestedBy ${ALICE} is unproven`);
    expect(kms.calls()).toHaveLength(0);
  });

  it('refuses an attested start whose requester was changed afterwards', async () => {
    const { input } = await event();
    const forged = { ...input, requestedBy: 'arn:aws:iam::111122223333:user/mallory' };
    const err = await handler({
      executionId: EXECUTION,
      input: forged,
      rules: DEPLOYMENT_RULES,
      recoveryProof: 'off',
    }).catch((e: Error) => e);
    expect(err).toMatchObject({ name: 'StartNotAttested' });
    expect(kms.calls()).toHaveLength(0);
  });

  it('refuses an attestation made for another execution', async () => {
    const { input } = await event();
    const other = EXECUTION.replace(/:e$/, ':other');
    const err = await handler({ executionId: other, input, rules: DEPLOYMENT_RULES, recoveryProof: 'off' }).catch(
      (e: Error) => e,
    );
    expect(err).toMatchObject({ name: 'StartNotAttested' });
  });

  it('refuses a start attested more than 15 minutes ago, and records the time of a fresh one', async () => {
    const stale = await attestStart(attestor, 'e', request(), 'cli', new Date(Date.now() - 16 * 60_000));
    const err = await handler({
      executionId: EXECUTION,
      input: stale,
      rules: DEPLOYMENT_RULES,
      recoveryProof: 'off',
    }).catch((e: Error) => e);
    expect(err).toMatchObject({ name: 'StartNotAttested', message: expect.stringContaining('15 minutes') });
    expect(kms.calls()).toHaveLength(0);
    keyWith({});
    const before = Date.now();
    const { input } = await handler(await event());
    expect(Date.parse(input.startedAt ?? '')).toBeGreaterThanOrEqual(before);
  });

  it('refuses an attestation signed with another key', async () => {
    const input = await attestStart(testAttestor('not-keymat'), 'e', request(), 'cli', new Date());
    const err = await handler({ executionId: EXECUTION, input, rules: DEPLOYMENT_RULES, recoveryProof: 'off' }).catch(
      (e: Error) => e,
    );
    expect(err).toMatchObject({ name: 'StartNotAttested' });
  });
});

describe('ValidateOrigin plans a restore', () => {
  const deleted = [material(M1, { ImportState: 'PENDING_IMPORT', ExpirationModel: undefined })];
  const restoreEvent = async (restoreQuorum: unknown, over: Record<string, unknown> = {}) => ({
    ...(await event({ restore: true, keyMaterialId: M1, ...over })),
    rules: { quorum: 3, allowedApprovers: [] },
    restoreQuorum,
  });

  it("with the restore's own quorum, the material expected IMPORTED, and no Deletion Planned", async () => {
    keyWith({ KeyState: 'PendingImport', Enabled: false }, deleted);
    const events = recordedEvents();
    const restore = createValidateOrigin(validateOriginDeps({ attestor, events }));
    const { input, plan } = await restore(await restoreEvent(1));
    expect(input.restore).toBe(true);
    expect(plan).toMatchObject({
      restore: true,
      rules: { quorum: 1 },
      expectedKeyState: 'Enabled',
      expectedMaterial: 'IMPORTED',
    });
    expect(events.published).toEqual([]);
  });

  it('refuses InvalidInput for a restore that asks for a recovery proof', async () => {
    keyWith({ KeyState: 'PendingImport', Enabled: false }, deleted);
    await expect(handler(await restoreEvent(1, { recoveryProof: 'required' }))).rejects.toMatchObject({
      name: 'InvalidInput',
      message: expect.stringContaining('recoveryProof'),
    });
    expect(kms).not.toHaveReceivedCommand(DescribeKeyCommand);
  });

  /** An instant `days` from now, to the second, as `keymat restore --valid-to` takes it. */
  const daysAhead = (days: number) => `${new Date(Date.now() + days * 86_400_000).toISOString().slice(0, 19)}Z`;

  it("records a restore's validTo in UTC to the second, and binds it into the digest", async () => {
    keyWith({ KeyState: 'PendingImport', Enabled: false }, deleted);
    const { plan: unexpiring } = await handler(await restoreEvent(1));
    const { input, plan } = await handler(await restoreEvent(1, { validTo: '2027-06-30T02:00:00+02:00' }));
    expect(input.validTo).toBe('2027-06-30T00:00:00Z');
    expect(plan.validTo).toBe('2027-06-30T00:00:00Z');
    expect(unexpiring).not.toHaveProperty('validTo');
    expect(plan.digest).not.toBe(unexpiring.digest);
  });

  it('refuses StartNotAttested for a validTo changed in the execution input after the start was attested', async () => {
    keyWith({ KeyState: 'PendingImport', Enabled: false }, deleted);
    const attested = await restoreEvent(1, { validTo: daysAhead(30) });
    const input = { ...attested.input, validTo: daysAhead(300) };
    await expect(handler({ ...attested, input })).rejects.toMatchObject({ name: 'StartNotAttested' });
    expect(kms.calls()).toHaveLength(0);
  });

  it.each([
    ['a validTo in the past', { validTo: '2020-01-01T00:00:00Z' }, 'validTo must be in the future'],
    ['a validTo that is a date without a time', { validTo: '2027-06-30' }, 'validTo must be an ISO 8601 date and time'],
    ['a validTo without its offset', { validTo: '2027-06-30T00:00:00' }, 'validTo must be an ISO 8601'],
    ['a validTo with fractions of a second', { validTo: '2027-06-30T00:00:00.500Z' }, 'to the second'],
    ['a validTo on a day that does not exist', { validTo: '2027-02-30T00:00:00Z' }, 'validTo must be an ISO 8601'],
    ['a validTo given as a number', { validTo: 1_800_000_000 }, 'validTo must be a string'],
    ['a validTo more than 365 days ahead', { validTo: daysAhead(366) }, 'validTo must be at most 365 days ahead'],
    ['a validTo on a deletion', { restore: false, validTo: daysAhead(30) }, 'validTo applies only to a restore'],
  ])('refuses InvalidInput for %s, before any KMS call', async (_l, over, mentions) => {
    const err = await handler(await restoreEvent(1, over)).catch((e: Error) => e);
    expect(err).toMatchObject({ name: 'InvalidInput', message: expect.stringContaining(mentions) });
    expect((err as Error).message).toContain(`got ${JSON.stringify(over.validTo)}`);
    expect(kms.calls()).toHaveLength(0);
  });
});
