import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EXIT } from '../../../cli/output';
import { memberRoles } from '../../../local/services/member-roles';
import { addAccount, addOrganizationalUnit, initOrganization } from '../../../local/state/organization';
import { keymatInProcess } from '../../helpers/run-cli';

/**
 * `keymat scan --org --local`'s options: a malformed value is a usage error naming the option and the value, before
 * anything runs; an OU the organisation does not have is refused, and an account it does not have is left out with a
 * warning, naming the option and the id.
 */
const ORGANIZATION_ID = 'o-a1b2c3d4e5';
const MEMBER = '444455556666';
let dir: string;
let production: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'keymat-scan-org-local-'));
  initOrganization(dir, { organizationId: ORGANIZATION_ID, roles: () => [] });
  production = addOrganizationalUnit(dir, { name: 'Production' }).id;
  addAccount(dir, { id: MEMBER, name: 'payments-prod', parentId: production, roles: memberRoles });
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const scanOrg = (...args: string[]) =>
  keymatInProcess(['scan', '--org', '--local', '--state-dir', dir, '--dry-run', ...args]);

it.each([
  ['--regions', 'eu-west-99', "--regions must list Regions such as eu-west-1,us-east-1; got 'eu-west-99'"],
  ['--regions', ',', "--regions must list Regions such as eu-west-1,us-east-1; got ','"],
  ['--accounts', `${MEMBER},12345`, "--accounts must list 12-digit account ids such as 444455556666; got '12345'"],
  [
    '--organizational-units',
    'production',
    "--organizational-units must list OU ids such as ou-ab12-cd34ef56; got 'production'",
  ],
])('refuses %s %s as a usage error naming the option and the value', async (option, value, reason) => {
  const r = await scanOrg('--regions', 'eu-west-1', option, value);
  expect(r.code).toBe(EXIT.usage);
  expect(r.stdout).toBe('');
  expect(r.stderr).toBe(
    `error: option '${option} <list>' argument '${value}' is invalid. ${reason}\n(add --help for usage)\n`,
  );
});

it('refuses an OU the organisation does not have, naming the option and the id, and scans nothing', async () => {
  const r = await scanOrg('--regions', 'eu-west-1', '--organizational-units', 'ou-zzzz-12345678');
  expect(r).toEqual({
    code: EXIT.failed,
    stdout: '',
    stderr: `keymat: --organizational-units: ou-zzzz-12345678 is not an OU of ${ORGANIZATION_ID} (ParentNotFoundException): see keymat local org list\n`,
  });
});

it('warns of an account the organisation does not have, naming it, and scans the others', async () => {
  const r = await scanOrg('--regions', 'eu-west-1', '--accounts', `999999999999,${MEMBER}`, '--json');
  expect(r.code).toBe(EXIT.ok);
  expect(r.stderr).toBe(
    `keymat: --accounts: 999999999999 is not an account of ${ORGANIZATION_ID}; scanning the others\n`,
  );
  expect(JSON.parse(r.stdout)).toMatchObject({ itemsTotal: 1, itemsScanned: 1 });
});
