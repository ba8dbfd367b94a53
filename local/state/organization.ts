import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { KeymatError, invalidInput } from '../../core/errors';
import { ACCOUNT_ID, ORGANIZATIONAL_UNIT_ID, ORGANIZATION_ID } from '../../core/organisation';
import * as z from '../../core/schema';
import { LOCAL_ACCOUNT_ID, ORGANIZATION_FILE } from '../constants';

/**
 * The local stack's organisation, in the state folder's `organization.json`: the organisation, its root, its OUs and
 * accounts (what the local Organizations API answers), and the IAM roles of its accounts (what the local STS lets
 * assume). `keymat local org …` writes it whole under another name and renames it into place, so the serving stack,
 * which reads it again whenever it changed, never sees half a file.
 */

const accountId = () => z.string().check(z.regex(ACCOUNT_ID, 'a 12-digit account id'));

/** An IAM role of an account of the organisation. */
const roleSchema = z.lazy(() =>
  z.object({
    arn: z.string().check(z.regex(/^arn:aws:iam::\d{12}:role\/[\w+=,.@-]{1,64}$/, 'an IAM role ARN')),
    /** The principals (IAM user or role ARNs) the role's trust policy lets assume it. */
    trust: z.array(z.string()),
    /** The trust policy's `aws:PrincipalOrgID` condition: a caller outside this organisation is refused. */
    principalOrgId: z.optional(z.string()),
    /** The KMS operations the role's permissions allow (`DescribeKey`, …); every other KMS call is refused. */
    kmsOperations: z.array(z.string()),
  }),
);
export type RoleRecord = z.infer<typeof roleSchema>;

const organizationSchema = z.lazy(() =>
  z.object({
    id: z.string().check(z.regex(ORGANIZATION_ID, 'an organisation id such as o-a1b2c3d4e5')),
    managementAccountId: accountId(),
    rootId: z.string().check(z.regex(/^r-[0-9a-z]{4,32}$/, 'a root id such as r-ab12')),
    organizationalUnits: z.array(
      z.object({
        id: z.string().check(z.regex(ORGANIZATIONAL_UNIT_ID, 'an OU id')),
        name: z.string(),
        parentId: z.string(),
      }),
    ),
    accounts: z.array(
      z.object({
        id: accountId(),
        name: z.string(),
        email: z.string(),
        parentId: z.string(),
        /** Epoch milliseconds. */
        joinedTimestamp: z.number(),
      }),
    ),
    roles: z.array(roleSchema),
  }),
);
export type OrganizationRecord = z.infer<typeof organizationSchema>;
export type AccountRecord = OrganizationRecord['accounts'][number];
export type OrganizationalUnitRecord = OrganizationRecord['organizationalUnits'][number];

/** An organisation as read, with its accounts, OUs and roles indexed for the services' look-ups. */
export class LocalOrganization {
  readonly accounts: ReadonlyMap<string, AccountRecord>;
  readonly organizationalUnits: ReadonlyMap<string, OrganizationalUnitRecord>;
  readonly roles: ReadonlyMap<string, RoleRecord>;

  constructor(readonly record: OrganizationRecord) {
    this.accounts = new Map(record.accounts.map((a) => [a.id, a]));
    this.organizationalUnits = new Map(record.organizationalUnits.map((ou) => [ou.id, ou]));
    this.roles = new Map(record.roles.map((r) => [r.arn, r]));
  }

  /** Whether `id` is the root or an OU of the organisation. */
  isParent(id: string): boolean {
    return id === this.record.rootId || this.organizationalUnits.has(id);
  }
}

/** Reads the organisation of a state folder, or undefined when `keymat local org init` has not made one. */
export function readOrganization(stateDir: string): LocalOrganization | undefined {
  const file = join(stateDir, ORGANIZATION_FILE);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new KeymatError(
      'InvalidInput',
      `${file} is not valid JSON: fix it or delete it and run keymat local org init`,
      {
        cause: err,
      },
    );
  }
  const parsed = organizationSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new KeymatError(
      'InvalidInput',
      `${file}: ${issue?.path.join('.') || '(root)'}: ${issue?.message}; fix it or delete it and run keymat local org init`,
    );
  }
  return new LocalOrganization(parsed.data);
}

/**
 * The organisation of a state folder as a serving stack sees it: read again only when the file changed, so a
 * `keymat local org add-account` shows in the next call, and a large organisation is not parsed on every call.
 */
export class OrganizationReader {
  private seen: { version: string; organization: LocalOrganization | undefined } | undefined;

  constructor(private readonly stateDir: string) {}

  /** The organisation now, or undefined when the folder has none. */
  current(): LocalOrganization | undefined {
    const version = fileVersion(join(this.stateDir, ORGANIZATION_FILE));
    if (this.seen?.version !== version) this.seen = { version, organization: readOrganization(this.stateDir) };
    return this.seen.organization;
  }
}

function fileVersion(file: string): string {
  try {
    const s = statSync(file, { bigint: true });
    return `${s.ino}:${s.size}:${s.mtimeNs}`;
  } catch {
    return 'none';
  }
}

function write(stateDir: string, record: OrganizationRecord): void {
  const file = join(stateDir, ORGANIZATION_FILE);
  const temp = `${file}.${process.pid}.new`;
  mkdirSync(stateDir, { recursive: true });
  try {
    writeFileSync(temp, `${JSON.stringify(record, null, 2)}\n`);
    renameSync(temp, file);
  } finally {
    rmSync(temp, { force: true });
  }
}

/** The organisation to change, refused naming the folder when there is none yet. */
function existing(stateDir: string): OrganizationRecord {
  const organization = readOrganization(stateDir);
  if (!organization) {
    throw new KeymatError(
      'InvalidInput',
      `the state folder ${stateDir} has no organisation yet: run keymat local org init --organization-id o-… first`,
    );
  }
  return organization.record;
}

const randomId = (length: number): string =>
  [...randomBytes(length)].map((b) => '0123456789abcdefghijklmnopqrstuvwxyz'[b % 36]).join('');

/** The roles an account gets when it joins: made by the caller, knowing the organisation's id. */
export type RolesFor = (account: string, organizationId: string) => RoleRecord[];

/**
 * Makes the state folder's organisation: its root, and its management account in the root (with the roles
 * `roles` makes for it). Refuses a folder that has one already.
 */
export function initOrganization(
  stateDir: string,
  options: { organizationId: string; managementAccountId?: string; roles: RolesFor },
): OrganizationRecord {
  if (!ORGANIZATION_ID.test(options.organizationId)) {
    throw invalidInput('--organization-id', options.organizationId, 'is not an organisation id (o- and 10-32 a-z0-9)');
  }
  const management = options.managementAccountId ?? LOCAL_ACCOUNT_ID;
  if (!ACCOUNT_ID.test(management)) throw invalidInput('--management-account', management, 'is not 12 digits');
  const before = readOrganization(stateDir);
  if (before) {
    throw new KeymatError(
      'InvalidInput',
      `the state folder ${stateDir} has the organisation ${before.record.id} already: delete ${join(stateDir, ORGANIZATION_FILE)} to make another`,
    );
  }
  const rootId = `r-${randomId(4)}`;
  const record: OrganizationRecord = {
    id: options.organizationId,
    managementAccountId: management,
    rootId,
    organizationalUnits: [],
    accounts: [
      { id: management, name: 'management', email: emailOf(management), parentId: rootId, joinedTimestamp: Date.now() },
    ],
    roles: options.roles(management, options.organizationId),
  };
  write(stateDir, record);
  return record;
}

/** Adds an OU under `parentId` (the root by default, or `root`); returns it with its new id. */
export function addOrganizationalUnit(
  stateDir: string,
  options: { name: string; parentId?: string },
): OrganizationalUnitRecord {
  checkName('--name', options.name);
  const record = existing(stateDir);
  const parentId = parentOf(record, options.parentId, '--parent');
  const unit = { id: `ou-${record.rootId.slice(2)}-${randomId(8)}`, name: options.name, parentId };
  write(stateDir, { ...record, organizationalUnits: [...record.organizationalUnits, unit] });
  return unit;
}

/** One account to add: its id, its name, and its parent (the root by default, or `root`, or an OU id). */
export interface NewAccount {
  id: string;
  name: string;
  parentId?: string;
}

/** Adds an account, with the roles `roles` makes for it. */
export const addAccount = (stateDir: string, account: NewAccount & { roles: RolesFor }): AccountRecord =>
  addAccounts(stateDir, [account], account.roles)[0] as AccountRecord;

/**
 * Adds accounts in one write, each with the roles `roles` makes for it (a simulated organisation of thousands of
 * accounts is written once, not once per account). Nothing is written unless every account is accepted.
 */
export function addAccounts(stateDir: string, accounts: readonly NewAccount[], roles: RolesFor): AccountRecord[] {
  for (const { id, name } of accounts) {
    if (!ACCOUNT_ID.test(id)) throw invalidInput('--id', id, 'is not a 12-digit account id');
    checkName('--name', name);
  }
  const record = existing(stateDir);
  const ids = new Set(record.accounts.map((a) => a.id));
  const now = Date.now();
  const added = accounts.map(({ id, name, parentId }): AccountRecord => {
    if (ids.has(id)) throw invalidInput('--id', id, `is an account of ${record.id} already`);
    ids.add(id);
    return { id, name, email: emailOf(id), parentId: parentOf(record, parentId, '--ou'), joinedTimestamp: now };
  });
  const made = added.flatMap((a) => roles(a.id, record.id));
  const arns = new Set(made.map((r) => r.arn));
  write(stateDir, {
    ...record,
    accounts: [...record.accounts, ...added],
    roles: [...record.roles.filter((r) => !arns.has(r.arn)), ...made],
  });
  return added;
}

/** An account's e-mail address, as Organizations requires one. */
const emailOf = (account: string): string => `aws+${account}@example.com`;

/** An account or OU name as Organizations allows it: 1-128 printable characters (50 for an account: kept simple). */
function checkName(option: string, name: string): void {
  if (!/^[\x20-\x7e]{1,128}$/.test(name)) throw invalidInput(option, name, 'is not 1-128 printable ASCII characters');
}

/** The parent an option names: the root when unset or `root`, else an OU of the organisation. */
function parentOf(record: OrganizationRecord, parentId: string | undefined, option: string): string {
  if (parentId === undefined || parentId === 'root' || parentId === record.rootId) return record.rootId;
  if (!record.organizationalUnits.some((ou) => ou.id === parentId)) {
    throw invalidInput(option, parentId, `is not an OU of ${record.id} (keymat local org list shows them)`);
  }
  return parentId;
}
