import {
  CreateKeyCommand,
  DeleteImportedKeyMaterialCommand,
  DescribeKeyCommand,
  KMSClient,
  ListKeysCommand,
} from '@aws-sdk/client-kms';
import {
  DescribeAccountCommand,
  DescribeOrganizationalUnitCommand,
  DescribeOrganizationCommand,
  ListAccountsCommand,
  ListAccountsForParentCommand,
  ListOrganizationalUnitsForParentCommand,
  ListParentsCommand,
  ListRootsCommand,
  OrganizationsClient,
  paginateListAccounts,
} from '@aws-sdk/client-organizations';
import { AssumeRoleCommand, GetCallerIdentityCommand, STSClient, type Credentials } from '@aws-sdk/client-sts';
import { tmpdir } from 'node:os';
import { MEMBER_DELETE_ROLE, MEMBER_READ_ROLE, memberRoleArn, type MemberRole } from '../../../core/organisation';
import { createExternalKey, localKmsClient } from '../../../local/kms/byok';
import { Identities } from '../../../local/services/identities';
import { taskCredentials, type HubIdentity } from '../../../local/services/internal-access';
import { memberRoles } from '../../../local/services/member-roles';
import {
  addAccount,
  addAccounts,
  addOrganizationalUnit,
  initOrganization,
  readOrganization,
} from '../../../local/state/organization';
import type { LocalCredentials } from '../../../local/services/clients';
import { DEFAULT_REGION, LOCAL_ACCOUNT_ID, LOCAL_CREDENTIALS, localCredentialsFor } from '../../../local/constants';
import { errorOf, startTestStack, type TestStack } from '../../helpers/local-stack';

/**
 * The local stack as an organisation, through the real SDK clients: keys per account and Region, STS AssumeRole that
 * enforces the member roles' trust, Organizations answered from the state folder.
 */
const MEMBER = '444455556666';
const BARE = '555566667777';
const STRANGER = '999988887777';
const ORGANIZATION_ID = 'o-a1b2c3d4e5';

let t: TestStack;
let production: string;
let payments: string;

beforeAll(async () => {
  t = await startTestStack();
  initOrganization(t.stateDir, { organizationId: ORGANIZATION_ID, roles: () => [] });
  production = addOrganizationalUnit(t.stateDir, { name: 'production' }).id;
  payments = addOrganizationalUnit(t.stateDir, { name: 'payments', parentId: production }).id;
  addAccount(t.stateDir, { id: MEMBER, name: 'payments-prod', parentId: payments, roles: memberRoles });
  addAccount(t.stateDir, { id: BARE, name: 'sandbox', roles: () => [] });
});
afterAll(() => t.close());

/** The SDK's credentials of a local user, a hub function, or an AssumeRole answer's session. */
const credentialsOf = (c: LocalCredentials | Credentials) =>
  'SessionToken' in c
    ? { accessKeyId: c.AccessKeyId!, secretAccessKey: c.SecretAccessKey!, sessionToken: c.SessionToken! }
    : { ...(c as LocalCredentials) };
const config = (credentials: LocalCredentials | Credentials, region = DEFAULT_REGION) => ({
  endpoint: t.stack.endpoint,
  region,
  maxAttempts: 1,
  credentials: credentialsOf(credentials),
});
const as = (identity: HubIdentity): LocalCredentials => taskCredentials(t.stack.internalAccess.credentials, identity);
const sts = (credentials: LocalCredentials | Credentials) => new STSClient(config(credentials));
const organizations = () => new OrganizationsClient(config(as('ValidateOrigin')));

/** AssumeRole of a member role of `account` as `caller`, with the change's SourceIdentity. */
const assume = (caller: LocalCredentials, role: MemberRole, account = MEMBER) =>
  sts(caller).send(
    new AssumeRoleCommand({
      RoleArn: memberRoleArn('aws', account, role),
      RoleSessionName: 'keymat-change-7',
      SourceIdentity: 'keymat-change-7',
    }),
  );

/** A key of the member account with imported material, made by the member's own public user. */
const memberKey = (region = DEFAULT_REGION) =>
  createExternalKey(localKmsClient(t.stack.endpoint, region, MEMBER), {
    description: 'member key',
    materialDir: tmpdir(),
  });

describe('keys per account and Region', () => {
  it('keeps a member key from the hub and shows it to a member role session', async () => {
    const { keyArn } = await memberKey('eu-west-1');
    expect(keyArn).toMatch(new RegExp(`^arn:aws:kms:eu-west-1:${MEMBER}:key/`));
    const hub = new KMSClient(config(LOCAL_CREDENTIALS, 'eu-west-1'));
    const denied = await errorOf(() => hub.send(new DescribeKeyCommand({ KeyId: keyArn })));
    expect(denied.name).toBe('AccessDeniedException');
    expect(denied.message).toBe(
      `User: arn:aws:iam::${LOCAL_ACCOUNT_ID}:user/${LOCAL_CREDENTIALS.accessKeyId} is not authorized to perform: kms:DescribeKey on resource: ${keyArn} because no resource-based policy allows the kms:DescribeKey action`,
    );
    const hubKeys = (await hub.send(new ListKeysCommand({}))).Keys ?? [];
    expect(hubKeys.map((k) => k.KeyArn)).not.toContain(keyArn);

    const { Credentials } = await assume(as('ValidateOrigin'), MEMBER_READ_ROLE);
    const member = new KMSClient(config(Credentials!, 'eu-west-1'));
    const { KeyMetadata } = await member.send(new DescribeKeyCommand({ KeyId: keyArn }));
    expect(KeyMetadata).toMatchObject({ Arn: keyArn, AWSAccountId: MEMBER, KeyState: 'Enabled' });
    expect(((await member.send(new ListKeysCommand({}))).Keys ?? []).map((k) => k.KeyArn)).toEqual([keyArn]);
    // The same session sees none of the member's keys of another Region.
    const otherRegion = new KMSClient(config(Credentials!, DEFAULT_REGION));
    expect(((await otherRegion.send(new ListKeysCommand({}))).Keys ?? []).map((k) => k.KeyArn)).not.toContain(keyArn);
  });

  it('throttles each account on its own quota', async () => {
    const limited = await startTestStack({ rules: [{ kind: 'quota', operation: 'CreateKey', perSecond: 1 }] });
    try {
      const client = (account: string) =>
        new KMSClient({
          endpoint: limited.stack.endpoint,
          region: DEFAULT_REGION,
          maxAttempts: 1,
          credentials: localCredentialsFor(account),
        });
      await client(LOCAL_ACCOUNT_ID).send(new CreateKeyCommand({}));
      expect((await errorOf(() => client(LOCAL_ACCOUNT_ID).send(new CreateKeyCommand({})))).name).toBe(
        'ThrottlingException',
      );
      const { KeyMetadata } = await client(MEMBER).send(new CreateKeyCommand({}));
      expect(KeyMetadata?.AWSAccountId).toBe(MEMBER);
    } finally {
      await limited.close();
    }
  });
});

describe('STS AssumeRole', () => {
  it("lets DeleteMaterial's identity assume the delete role, with the session's ARN and temporary credentials", async () => {
    const answer = await assume(as('DeleteMaterial'), MEMBER_DELETE_ROLE);
    expect(answer.AssumedRoleUser?.Arn).toBe(
      `arn:aws:sts::${MEMBER}:assumed-role/${MEMBER_DELETE_ROLE}/keymat-change-7`,
    );
    expect(answer.SourceIdentity).toBe('keymat-change-7');
    expect(answer.Credentials?.AccessKeyId).toMatch(/^ASIA[0-9A-F]{16}$/);
    expect(answer.Credentials?.SessionToken).toBeTruthy();
    expect(answer.Credentials?.Expiration!.getTime()).toBeGreaterThan(Date.now() + 3500_000);
    const who = await sts(answer.Credentials!).send(new GetCallerIdentityCommand({}));
    expect(who).toMatchObject({ Account: MEMBER, Arn: answer.AssumedRoleUser?.Arn });
  });

  it.each([
    ['ValidateOrigin', 'the delete role', MEMBER_DELETE_ROLE, MEMBER],
    ['DeleteMaterial', 'the read role', MEMBER_READ_ROLE, MEMBER],
    ['ValidateOrigin', 'a role of an account without member roles', MEMBER_READ_ROLE, BARE],
    ['ValidateOrigin', 'a role of an account outside the organisation', MEMBER_READ_ROLE, STRANGER],
  ] as const)('refuses %s %s as AccessDenied', async (identity, _what, role, account) => {
    const err = await errorOf(() => assume(as(identity), role, account));
    expect(err.name).toBe('AccessDenied');
    expect(err.message).toBe(
      `User: arn:aws:sts::${LOCAL_ACCOUNT_ID}:assumed-role/keymat-${identity}/keymat-${identity} is not authorized to perform: sts:AssumeRole on resource: ${memberRoleArn('aws', account, role)}`,
    );
    expect(err.$metadata?.httpStatusCode).toBe(403);
  });

  it('refuses a caller the roles do not trust: a hub user and the member account itself', async () => {
    for (const caller of [LOCAL_CREDENTIALS, localCredentialsFor(MEMBER)]) {
      const err = await errorOf(() => assume(caller, MEMBER_READ_ROLE));
      expect(err.name).toBe('AccessDenied');
      expect(err.message).toMatch(
        /^User: arn:aws:iam::\d{12}:user\/AKIAKEYMATLOCAL is not authorized to perform: sts:AssumeRole/,
      );
    }
  });

  it('validates RoleSessionName and SourceIdentity as STS does', async () => {
    const err = await errorOf(() =>
      sts(as('ValidateOrigin')).send(
        new AssumeRoleCommand({
          RoleArn: memberRoleArn('aws', MEMBER, MEMBER_READ_ROLE),
          RoleSessionName: 'x',
          SourceIdentity: 'aws:keymat',
        }),
      ),
    );
    expect(err.name).toBe('ValidationError');
    expect(err.message).toBe(
      "2 validation errors detected: Value 'x' at 'roleSessionName' failed to satisfy constraint: Member must have length greater than or equal to 2; Value 'aws:keymat' at 'sourceIdentity' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]*",
    );
  });

  it('refuses a session token that was altered', async () => {
    const { Credentials } = await assume(as('ValidateOrigin'), MEMBER_READ_ROLE);
    const [payload = '', mac = ''] = Credentials!.SessionToken!.split('.');
    const widened = Buffer.from(
      JSON.stringify({ ...JSON.parse(Buffer.from(payload, 'base64url').toString()), roleName: MEMBER_DELETE_ROLE }),
    ).toString('base64url');
    const forged = new KMSClient(config({ ...Credentials!, SessionToken: `${widened}.${mac}` }));
    const err = await errorOf(() => forged.send(new ListKeysCommand({})));
    expect(err.name).toBe('UnrecognizedClientException');
  });

  it('refuses a session longer than the role allows, and a session past its expiry', async () => {
    const long = await errorOf(() =>
      sts(as('ValidateOrigin')).send(
        new AssumeRoleCommand({
          RoleArn: memberRoleArn('aws', MEMBER, MEMBER_READ_ROLE),
          RoleSessionName: 'keymat-change-7',
          DurationSeconds: 7200,
        }),
      ),
    );
    expect(long.name).toBe('ValidationError');
    expect(long.message).toBe('The requested DurationSeconds exceeds the MaxSessionDuration set for this role.');
    const identities = new Identities(t.stack.internalAccess.credentials, { current: () => undefined });
    const session = identities.issue({
      account: MEMBER,
      roleName: MEMBER_READ_ROLE,
      sessionName: 'keymat-change-7',
      expiresAt: Date.now() - 1,
    });
    const expired = new KMSClient(
      config({
        AccessKeyId: session.accessKeyId,
        SecretAccessKey: 'x',
        SessionToken: session.sessionToken,
        Expiration: new Date(),
      }),
    );
    expect((await errorOf(() => expired.send(new ListKeysCommand({})))).name).toBe('ExpiredTokenException');
  });
});

describe('member role permissions and the request log', () => {
  it("refuses the read role's DeleteImportedKeyMaterial as AccessDeniedException and deletes nothing", async () => {
    const { keyArn, keyMaterialId } = await memberKey();
    const { Credentials } = await assume(as('ValidateOrigin'), MEMBER_READ_ROLE);
    const reader = new KMSClient(config(Credentials!));
    const err = await errorOf(() =>
      reader.send(new DeleteImportedKeyMaterialCommand({ KeyId: keyArn, KeyMaterialId: keyMaterialId })),
    );
    expect(err.name).toBe('AccessDeniedException');
    expect(err.message).toBe(
      `User: arn:aws:sts::${MEMBER}:assumed-role/${MEMBER_READ_ROLE}/keymat-change-7 is not authorized to perform: kms:DeleteImportedKeyMaterial on resource: ${keyArn} because no identity-based policy allows the kms:DeleteImportedKeyMaterial action`,
    );
    expect((await reader.send(new DescribeKeyCommand({ KeyId: keyArn }))).KeyMetadata).toMatchObject({
      KeyState: 'Enabled',
      CurrentKeyMaterialId: keyMaterialId,
    });
  });

  it("records the delete role's DeleteImportedKeyMaterial under the session's ARN and SourceIdentity", async () => {
    const { keyArn, keyMaterialId } = await memberKey();
    const { Credentials } = await assume(as('DeleteMaterial'), MEMBER_DELETE_ROLE);
    await new KMSClient(config(Credentials!)).send(
      new DeleteImportedKeyMaterialCommand({ KeyId: keyArn, KeyMaterialId: keyMaterialId }),
    );
    const log = t.stack.requestLog.read();
    expect(log.filter((e) => e.operation === 'DeleteImportedKeyMaterial' && e.keyId === keyArn)).toEqual([
      expect.objectContaining({
        status: 200,
        account: MEMBER,
        caller: `arn:aws:sts::${MEMBER}:assumed-role/${MEMBER_DELETE_ROLE}/keymat-change-7`,
        sourceIdentity: 'keymat-change-7',
        keyMaterialId,
      }),
    ]);
    expect(log.filter((e) => e.operation === 'AssumeRole').at(-1)).toMatchObject({
      service: 'sts',
      status: 200,
      caller: `arn:aws:sts::${LOCAL_ACCOUNT_ID}:assumed-role/keymat-DeleteMaterial/keymat-DeleteMaterial`,
    });
  });
});

describe('Organizations', () => {
  it('describes the organisation and lists every account across pages', async () => {
    const { Organization } = await organizations().send(new DescribeOrganizationCommand({}));
    expect(Organization).toMatchObject({ Id: ORGANIZATION_ID, MasterAccountId: LOCAL_ACCOUNT_ID, FeatureSet: 'ALL' });
    const first = await organizations().send(new ListAccountsCommand({ MaxResults: 2 }));
    expect(first.Accounts).toHaveLength(2);
    expect(first.NextToken).toBeDefined();
    const ids: string[] = [];
    for await (const page of paginateListAccounts({ client: organizations(), pageSize: 1 }, {})) {
      ids.push(...(page.Accounts ?? []).map((a) => a.Id!));
    }
    expect(ids).toEqual([LOCAL_ACCOUNT_ID, MEMBER, BARE]);
  });

  it('describes a member account, and refuses a stranger as AccountNotFoundException', async () => {
    const { Account } = await organizations().send(new DescribeAccountCommand({ AccountId: MEMBER }));
    expect(Account).toMatchObject({ Id: MEMBER, Name: 'payments-prod', Status: 'ACTIVE' });
    expect(Account?.JoinedTimestamp).toBeInstanceOf(Date);
    const err = await errorOf(() => organizations().send(new DescribeAccountCommand({ AccountId: STRANGER })));
    expect(err.name).toBe('AccountNotFoundException');
    expect(err.message).toBe("You specified an account that doesn't exist.");
  });

  it("walks an account's parents to the root, naming each OU", async () => {
    const path: string[] = [];
    let child = MEMBER;
    for (;;) {
      const parent = (await organizations().send(new ListParentsCommand({ ChildId: child }))).Parents?.[0];
      if (parent?.Type === 'ROOT') break;
      const { OrganizationalUnit } = await organizations().send(
        new DescribeOrganizationalUnitCommand({ OrganizationalUnitId: parent!.Id! }),
      );
      path.unshift(OrganizationalUnit!.Name!);
      child = parent!.Id!;
    }
    expect(path).toEqual(['production', 'payments']);
    const roots = (await organizations().send(new ListRootsCommand({}))).Roots ?? [];
    expect(roots).toHaveLength(1);
    const underRoot = await organizations().send(
      new ListOrganizationalUnitsForParentCommand({ ParentId: roots[0]!.Id! }),
    );
    expect(underRoot.OrganizationalUnits?.map((ou) => ou.Id)).toEqual([production]);
    const inPayments = await organizations().send(new ListAccountsForParentCommand({ ParentId: payments }));
    expect(inPayments.Accounts?.map((a) => a.Id)).toEqual([MEMBER]);
  });

  it('refuses an account outside the organisation, and a member that is no administrator', async () => {
    const outside = new OrganizationsClient(config(localCredentialsFor(STRANGER)));
    expect((await errorOf(() => outside.send(new DescribeOrganizationCommand({})))).name).toBe(
      'AWSOrganizationsNotInUseException',
    );
    const member = new OrganizationsClient(config(localCredentialsFor(MEMBER)));
    expect((await member.send(new DescribeOrganizationCommand({}))).Organization?.Id).toBe(ORGANIZATION_ID);
    expect((await errorOf(() => member.send(new ListAccountsCommand({})))).name).toBe('AccessDeniedException');
  });

  it('refuses a parent that does not exist and a malformed child id', async () => {
    const parent = await errorOf(() =>
      organizations().send(new ListAccountsForParentCommand({ ParentId: 'ou-zzzz-00000000' })),
    );
    expect(parent.name).toBe('ParentNotFoundException');
    const child = await errorOf(() => organizations().send(new ListParentsCommand({ ChildId: 'nobody' })));
    expect(child.name).toBe('InvalidInputException');
  });
});

describe('a large organisation', () => {
  it('adds a thousand accounts in one write, listed across pages and each with member roles', async () => {
    const large = await startTestStack();
    try {
      initOrganization(large.stateDir, { organizationId: ORGANIZATION_ID, roles: () => [] });
      const ids = Array.from({ length: 1000 }, (_, i) => String(200000000000 + i));
      addAccounts(
        large.stateDir,
        ids.map((id) => ({ id, name: `member-${id}` })),
        memberRoles,
      );
      const client = new OrganizationsClient({
        endpoint: large.stack.endpoint,
        region: DEFAULT_REGION,
        credentials: localCredentialsFor(LOCAL_ACCOUNT_ID),
      });
      let listed = 0;
      for await (const page of paginateListAccounts({ client }, {})) listed += page.Accounts?.length ?? 0;
      expect(listed).toBe(1001);
      const last = await new STSClient({
        endpoint: large.stack.endpoint,
        region: DEFAULT_REGION,
        credentials: taskCredentials(large.stack.internalAccess.credentials, 'ExpiryScan'),
      }).send(
        new AssumeRoleCommand({
          RoleArn: memberRoleArn('aws', ids.at(-1)!, MEMBER_READ_ROLE),
          RoleSessionName: 'scan',
        }),
      );
      expect(last.AssumedRoleUser?.Arn).toBe(`arn:aws:sts::${ids.at(-1)}:assumed-role/${MEMBER_READ_ROLE}/scan`);
    } finally {
      await large.close();
    }
  });

  it('refuses the whole batch when one account id is malformed, writing nothing', async () => {
    const before = readOrganization(t.stateDir)!.record;
    expect(() =>
      addAccounts(
        t.stateDir,
        [
          { id: '300000000000', name: 'fine' },
          { id: '3000', name: 'short' },
        ],
        memberRoles,
      ),
    ).toThrow(
      expect.objectContaining({ name: 'InvalidInput', message: '--id is not a 12-digit account id; got "3000"' }),
    );
    expect(readOrganization(t.stateDir)!.record).toEqual(before);
  });
});
