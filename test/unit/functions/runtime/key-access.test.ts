import { DescribeKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { AssumeRoleCommand, STSClient, STSServiceException } from '@aws-sdk/nested-clients/sts';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import { MEMBER_DELETE_ROLE, MEMBER_READ_ROLE } from '../../../../core/organisation';
import { createKeyAccess } from '../../../../functions/runtime/key-access';

const kms = mockClient(KMSClient);
const sts = mockClient(STSClient);
const scope = { account: '111122223333', region: 'us-east-1' };
const session = { executionArn: 'arn:aws:states:us-east-1:111122223333:execution:m:keymat-CHG-9', changeId: 'CHG-9' };
const member = (account: string, region = 'eu-west-1') => ({ partition: 'aws', account, region });

/** STS's answer to an AssumeRole it grants. */
const assumed = () => ({
  Credentials: {
    AccessKeyId: 'ASIA1',
    SecretAccessKey: 's',
    SessionToken: 't',
    Expiration: new Date(Date.now() + 3_600_000),
  },
});

beforeEach(() => {
  kms.reset();
  sts.reset();
  kms.on(DescribeKeyCommand).resolves({});
  sts.on(AssumeRoleCommand).resolves(assumed());
});

describe('createKeyAccess', () => {
  it('assumes the role of an account once per invocation, whatever the Region of its keys', async () => {
    const kmsOf = createKeyAccess({ scope, role: MEMBER_READ_ROLE })(session);
    await (
      await kmsOf(member('444455556666'))
    )('DescribeKey', { KeyId: 'k' });
    await (
      await kmsOf(member('444455556666', 'eu-central-1'))
    )('DescribeKey', { KeyId: 'k' });
    await (
      await kmsOf(member('777788889999'))
    )('DescribeKey', { KeyId: 'k' });
    expect(sts.commandCalls(AssumeRoleCommand).map((c) => c.args[0].input.RoleArn)).toEqual([
      'arn:aws:iam::444455556666:role/keymat-member-read',
      'arn:aws:iam::777788889999:role/keymat-member-read',
    ]);
  });

  it('assumes the role again for the next invocation, under that execution and change', async () => {
    const access = createKeyAccess({ scope, role: MEMBER_DELETE_ROLE });
    await access(session)(member('444455556666'));
    await access({ executionArn: `${session.executionArn}-2`, changeId: 'CHG-10' })(member('444455556666'));
    expect(sts.commandCalls(AssumeRoleCommand).map((c) => c.args[0].input)).toEqual([
      expect.objectContaining({ RoleSessionName: 'keymat-CHG-9', SourceIdentity: 'keymat-CHG-9' }),
      expect.objectContaining({ RoleSessionName: 'keymat-CHG-9-2', SourceIdentity: 'keymat-CHG-10' }),
    ]);
  });

  it('calls KMS in the key Region', async () => {
    const kmsOf = createKeyAccess({ scope, role: MEMBER_READ_ROLE })(session);
    await (
      await kmsOf(member('444455556666', 'ap-southeast-2'))
    )('DescribeKey', { KeyId: 'k' });
    await (
      await kmsOf({ account: scope.account, region: 'eu-north-1' })
    )('DescribeKey', { KeyId: 'k' });
    const regions = await Promise.all((kms.send.thisValues as KMSClient[]).map((c) => c.config.region()));
    expect(regions).toEqual(['ap-southeast-2', 'eu-north-1']);
  });

  it('asks STS again within the invocation after a refusal, rather than keeping it', async () => {
    sts
      .on(AssumeRoleCommand)
      .rejectsOnce(new STSServiceException({ name: 'AccessDenied', $fault: 'client', message: 'no', $metadata: {} }))
      .resolves(assumed());
    const kmsOf = createKeyAccess({ scope, role: MEMBER_READ_ROLE })(session);
    await expect(kmsOf(member('444455556666'))).rejects.toMatchObject({ name: 'MemberRoleUnavailable' });
    await expect(kmsOf(member('444455556666'))).resolves.toBeInstanceOf(Function);
    expect(sts).toHaveReceivedCommandTimes(AssumeRoleCommand, 2);
  });

  it('lets a 500 of STS through under its own name for the state machine to retry', async () => {
    sts
      .on(AssumeRoleCommand)
      .rejects(new STSServiceException({ name: 'InternalFailure', $fault: 'server', message: 'oops', $metadata: {} }));
    await expect(
      createKeyAccess({ scope, role: MEMBER_READ_ROLE })(session)(member('444455556666')),
    ).rejects.toMatchObject({
      name: 'InternalFailure',
    });
  });
});
