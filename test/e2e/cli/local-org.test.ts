import { DescribeKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { ListParentsCommand, OrganizationsClient } from '@aws-sdk/client-organizations';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MEMBER_DELETE_ROLE, MEMBER_READ_ROLE, memberRoleArn } from '../../../core/organisation';
import { readOrganization } from '../../../local/state/organization';
import { LOCAL_ACCOUNT_ID, localCredentialsFor } from '../../../local/constants';
import { startTestStack } from '../../helpers/local-stack';
import { keymat } from '../../helpers/run-cli';

let dir: string;
beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'keymat-cli-org-'))));
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const org = (...args: string[]) => keymat(['local', 'org', ...args, '--state-dir', dir]);

describe('keymat local org', () => {
  it('builds an organisation whose accounts, OUs and member roles the served stack answers with', async () => {
    expect((await org('init', '--organization-id', 'o-a1b2c3d4e5')).code).toBe(0);
    const production = await org('add-ou', '--name', 'production');
    expect(production.code).toBe(0);
    const ouId = production.stdout.trim();
    expect(ouId).toMatch(/^ou-[0-9a-z]{4}-[0-9a-z]{8}$/);
    expect((await org('add-account', '--id', '444455556666', '--name', 'payments-prod', '--ou', ouId)).code).toBe(0);
    const bare = await org('add-account', '--id', '555566667777', '--name', 'sandbox', '--no-roles');
    expect(bare.stdout).toContain('without member roles');

    const listed = await org('list');
    expect(listed.stdout).toContain('organisation o-a1b2c3d4e5 (management account 111122223333)');
    expect(listed.stdout).toMatch(
      new RegExp(
        `${ouId}  production\\n +444455556666  payments-prod  roles: ${MEMBER_READ_ROLE}, ${MEMBER_DELETE_ROLE}`,
      ),
    );
    expect(listed.stdout).toContain('555566667777  sandbox  roles: none');
    const roles = [...readOrganization(dir)!.roles.keys()];
    expect(roles).toContain(memberRoleArn('aws', '444455556666', MEMBER_DELETE_ROLE));
    expect(roles.filter((arn) => arn.includes('555566667777'))).toEqual([]);

    const key = await keymat([
      'local',
      'kms',
      'create-key',
      '--state-dir',
      dir,
      '--account',
      '444455556666',
      '--region',
      'eu-west-1',
      '--json',
    ]);
    expect(key.code).toBe(0);
    const { keyArn } = JSON.parse(key.stdout) as { keyArn: string };
    expect(keyArn).toMatch(/^arn:aws:kms:eu-west-1:444455556666:key\//);

    const t = await startTestStack(undefined, dir);
    try {
      const member = new KMSClient({
        endpoint: t.stack.endpoint,
        region: 'eu-west-1',
        credentials: localCredentialsFor('444455556666'),
      });
      expect((await member.send(new DescribeKeyCommand({ KeyId: keyArn }))).KeyMetadata?.KeyState).toBe('Enabled');
      const organizations = new OrganizationsClient({
        endpoint: t.stack.endpoint,
        region: 'us-east-1',
        credentials: localCredentialsFor(LOCAL_ACCOUNT_ID),
      });
      const parents = await organizations.send(new ListParentsCommand({ ChildId: '444455556666' }));
      expect(parents.Parents).toEqual([{ Id: ouId, Type: 'ORGANIZATIONAL_UNIT' }]);
    } finally {
      await t.close();
    }
  });

  it.each([
    [
      'an organisation not initialised yet',
      ['add-ou', '--name', 'x'],
      /has no organisation yet: run keymat local org init/,
    ],
    [
      'an account id that is not 12 digits',
      ['add-account', '--id', '12345', '--name', 'x'],
      /--id is not a 12-digit account id; got "12345"/,
    ],
    [
      'an organisation id that is malformed',
      ['init', '--organization-id', 'org-1'],
      /--organization-id is not an organisation id .*; got "org-1"/,
    ],
  ])('refuses %s, naming the value', async (_what, args, message) => {
    const run = await org(...args);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(message);
  });

  it('refuses an OU that does not exist and an account that is there already, changing nothing', async () => {
    await org('init', '--organization-id', 'o-a1b2c3d4e5');
    const before = readOrganization(dir)!.record;
    const noOu = await org('add-account', '--id', '444455556666', '--name', 'x', '--ou', 'ou-zzzz-00000000');
    expect(noOu.code).toBe(2);
    expect(noOu.stderr).toMatch(/--ou is not an OU of o-a1b2c3d4e5 .*; got "ou-zzzz-00000000"/);
    const again = await org('add-account', '--id', LOCAL_ACCOUNT_ID, '--name', 'x');
    expect(again.stderr).toMatch(/--id is an account of o-a1b2c3d4e5 already; got "111122223333"/);
    expect(readOrganization(dir)!.record).toEqual(before);
  });

  it('refuses a key account that is not 12 digits', async () => {
    const run = await keymat(['local', 'kms', 'create-key', '--state-dir', dir, '--account', 'hub']);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("--account must be a 12-digit account id; got 'hub'");
  });
});
