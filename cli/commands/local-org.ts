import { Command } from 'commander';
import { hasErrorName } from '../../core/errors';
import { memberRoles } from '../../local/services/member-roles';
import {
  addAccount,
  addOrganizationalUnit,
  initOrganization,
  readOrganization,
  type LocalOrganization,
  type RolesFor,
} from '../../local/state/organization';
import { lineWriter, printJson, type CliIo } from '../output';
import { DEFAULT_STATE_DIR } from '../../local/constants';

/** Runs a change of the organisation; its InvalidInput (a value named, with what was wrong) is a usage error. */
function checked<T>(command: Command, change: () => T): T {
  try {
    return change();
  } catch (err) {
    if (hasErrorName(err, 'InvalidInput')) command.error(`error: ${(err as Error).message}`);
    throw err;
  }
}

/** The roles a joining account gets: keymat's three member roles, unless `--no-roles`. */
const rolesOf = (withRoles: boolean): RolesFor => (withRoles ? memberRoles : () => []);

/**
 * `keymat local org`: the local stack's AWS Organization, in the state folder: the accounts and OUs the local
 * Organizations API answers with, and each account's keymat member roles, which the local STS lets the hub's functions
 * assume. A running stack sees each change at its next call.
 */
export function localOrgCommand(io: CliIo): Command {
  const say = lineWriter(io);
  const stateDir = ['--state-dir <dir>', 'state folder of the local stack', DEFAULT_STATE_DIR] as const;

  const init = new Command('init')
    .description('make the organisation: its root, and its management account with keymat member roles')
    .requiredOption('--organization-id <id>', 'organisation id, e.g. o-a1b2c3d4e5')
    .option('--management-account <id>', 'the management account (default: the local hub account)')
    .option('--no-roles', 'give the management account no member roles (as before its own stack is deployed)')
    .option(...stateDir)
    .action(
      (
        opts: { organizationId: string; managementAccount?: string; roles: boolean; stateDir: string },
        command: Command,
      ) => {
        const org = checked(command, () =>
          initOrganization(opts.stateDir, {
            organizationId: opts.organizationId,
            ...(opts.managementAccount !== undefined && { managementAccountId: opts.managementAccount }),
            roles: rolesOf(opts.roles),
          }),
        );
        say(`organisation ${org.id}: root ${org.rootId}, management account ${org.managementAccountId}`);
      },
    );

  const addOu = new Command('add-ou')
    .description('add an organisational unit and print its id')
    .requiredOption('--name <name>', 'the OU name, e.g. production')
    .option('--parent <id>', 'the parent: root, or an OU id', 'root')
    .option(...stateDir)
    .action((opts: { name: string; parent: string; stateDir: string }, command: Command) => {
      const unit = checked(command, () =>
        addOrganizationalUnit(opts.stateDir, { name: opts.name, parentId: opts.parent }),
      );
      say(unit.id);
    });

  const addAccountCommand = new Command('add-account')
    .description("add an account, with keymat's member read, delete and recovery roles trusted by the hub's functions")
    .requiredOption('--id <id>', 'the 12-digit account id')
    .requiredOption('--name <name>', 'the account name, e.g. payments-prod')
    .option('--ou <id>', 'the OU the account sits in (default: the root)')
    .option('--no-roles', 'make no member roles (an account the member stack has not reached)')
    .option(...stateDir)
    .action((opts: { id: string; name: string; ou?: string; roles: boolean; stateDir: string }, command: Command) => {
      const account = checked(command, () =>
        addAccount(opts.stateDir, {
          id: opts.id,
          name: opts.name,
          ...(opts.ou !== undefined && { parentId: opts.ou }),
          roles: rolesOf(opts.roles),
        }),
      );
      say(
        `account ${account.id} (${account.name}) in ${account.parentId}${opts.roles ? '' : ', without member roles'}`,
      );
    });

  const list = new Command('list')
    .description('the organisation: its OUs and accounts as a tree, with each account’s roles')
    .option('--json', 'print the organisation as JSON', false)
    .option(...stateDir)
    .action((opts: { json: boolean; stateDir: string }, command: Command) => {
      const org = checked(command, () => readOrganization(opts.stateDir));
      if (opts.json) return printJson(io, org?.record ?? null);
      if (!org) return say(`no organisation in ${opts.stateDir}: run keymat local org init --organization-id o-…`);
      say(`organisation ${org.record.id} (management account ${org.record.managementAccountId})`);
      for (const line of tree(org, org.record.rootId, 1)) say(line);
    });

  return new Command('org')
    .description('the local AWS Organization: accounts, OUs and keymat member roles')
    .addCommand(init)
    .addCommand(addOu)
    .addCommand(addAccountCommand)
    .addCommand(list);
}

/** The lines of the tree under `parentId`: its accounts (with their roles' names), then its OUs and theirs. */
function tree(org: LocalOrganization, parentId: string, depth: number): string[] {
  const indent = '  '.repeat(depth);
  const head = parentId === org.record.rootId ? [`${indent}${parentId} (root)`] : [];
  const accounts = org.record.accounts
    .filter((a) => a.parentId === parentId)
    .map((a) => {
      const roles = org.record.roles.filter((r) => r.arn.split(':')[4] === a.id).map((r) => r.arn.split('/')[1]);
      return `${indent}  ${a.id}  ${a.name}  roles: ${roles.length ? roles.join(', ') : 'none'}`;
    });
  const units = org.record.organizationalUnits
    .filter((ou) => ou.parentId === parentId)
    .flatMap((ou) => [`${indent}  ${ou.id}  ${ou.name}`, ...tree(org, ou.id, depth + 1)]);
  return [...head, ...accounts, ...units];
}
