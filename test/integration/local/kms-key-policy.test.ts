import {
  CreateKeyCommand,
  DescribeKeyCommand,
  GetKeyPolicyCommand,
  KMSClient,
  PutKeyPolicyCommand,
} from '@aws-sdk/client-kms';
import { DEFAULT_REGION, LOCAL_ACCOUNT_ID } from '../../../local/constants';
import { errorOf, startTestStack, type TestStack } from '../../helpers/local-stack';

/** Key policies on the local KMS: the default one leaves the decision to IAM; a policy put names who may call. */
let t: TestStack;
let kms: KMSClient;
const as = (user: string) =>
  new KMSClient({
    endpoint: t.stack.endpoint,
    region: DEFAULT_REGION,
    credentials: { accessKeyId: user, secretAccessKey: 'local' },
    maxAttempts: 1,
  });
const user = (name: string) => `arn:aws:iam::${LOCAL_ACCOUNT_ID}:user/${name}`;
const policy = (...statements: object[]) => JSON.stringify({ Version: '2012-10-17', Statement: statements });
const newKey = async () => (await kms.send(new CreateKeyCommand({}))).KeyMetadata?.Arn as string;

beforeAll(async () => {
  t = await startTestStack();
  kms = t.kms({ maxAttempts: 1 });
});
afterAll(() => t.close());

it("answers GetKeyPolicy with KMS's default policy for a key created without one", async () => {
  const keyArn = await newKey();
  const { Policy, PolicyName } = await kms.send(new GetKeyPolicyCommand({ KeyId: keyArn }));
  expect(PolicyName).toBe('default');
  expect(JSON.parse(Policy as string)).toMatchObject({
    Statement: [{ Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${LOCAL_ACCOUNT_ID}:root` }, Action: 'kms:*' }],
  });
});

it('refuses a caller the policy names not, naming the resource-based policy, and lets the named one in', async () => {
  const keyArn = await newKey();
  await kms.send(
    new PutKeyPolicyCommand({
      KeyId: keyArn,
      Policy: policy({ Effect: 'Allow', Principal: { AWS: [user('alice')] }, Action: ['kms:DescribeKey'] }),
      BypassPolicyLockoutSafetyCheck: true,
    }),
  );
  const refused = await errorOf(() => as('bob').send(new DescribeKeyCommand({ KeyId: keyArn })));
  expect(refused.name).toBe('AccessDeniedException');
  expect(refused.message).toContain('because no resource-based policy allows the kms:DescribeKey action');
  expect((await as('alice').send(new DescribeKeyCommand({ KeyId: keyArn }))).KeyMetadata?.Arn).toBe(keyArn);
  // alice may describe the key, and nothing else: the policy itself stays as it is.
  const put = await errorOf(() =>
    as('alice').send(new PutKeyPolicyCommand({ KeyId: keyArn, Policy: policy({ Effect: 'Allow', Action: 'kms:*' }) })),
  );
  expect(put.name).toBe('AccessDeniedException');
  expect((await as('alice').send(new DescribeKeyCommand({ KeyId: keyArn }))).KeyMetadata?.KeyState).toBe('Enabled');
});

it('refuses a caller a Deny statement names, even where the root is allowed', async () => {
  const keyArn = await newKey();
  await kms.send(
    new PutKeyPolicyCommand({
      KeyId: keyArn,
      Policy: policy(
        { Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${LOCAL_ACCOUNT_ID}:root` }, Action: 'kms:*' },
        { Effect: 'Deny', Principal: { AWS: user('mallory') }, Action: 'kms:*' },
      ),
    }),
  );
  expect((await errorOf(() => as('mallory').send(new DescribeKeyCommand({ KeyId: keyArn })))).name).toBe(
    'AccessDeniedException',
  );
  expect((await as('bob').send(new DescribeKeyCommand({ KeyId: keyArn }))).KeyMetadata?.Arn).toBe(keyArn);
});

it('refuses a policy that is not a policy document MalformedPolicyDocumentException, keeping the one it had', async () => {
  const keyArn = await newKey();
  // The lockout safety check: a policy that would leave its author unable to put the next one.
  const lockout = policy({ Effect: 'Allow', Principal: { AWS: user('alice') }, Action: 'kms:*' });
  for (const bad of ['not json', '{"Statement":[]}', lockout]) {
    const err = await errorOf(() => kms.send(new PutKeyPolicyCommand({ KeyId: keyArn, Policy: bad })));
    expect(err.name).toBe('MalformedPolicyDocumentException');
  }
  expect((await kms.send(new GetKeyPolicyCommand({ KeyId: keyArn }))).Policy).toContain('Enable IAM User Permissions');
});
