import { allPages, type KmsCall, type OrganizationsCall } from '../../core/aws-api';
import type { Scope } from '../../core/config';
import { errorMessage, errorName, hasErrorName } from '../../core/errors';
import { checkMember, onceEach, placeAccount } from '../../core/membership';
import {
  MEMBER_READ_ROLE,
  MEMBER_ROLE_OF,
  MEMBER_ROLE_OPERATIONS,
  memberRoleArn,
  type MemberActingFunction,
  type MemberRole,
  type Members,
} from '../../core/organisation';
import type { ChangeSession, KeyAccess } from './key-access';

/**
 * The fleet doctor: from the hub, for every member account and Region, whether keymat can act there, and what to do
 * where it cannot. It asks what the hub's functions ask (Organizations, STS AssumeRole of the member roles, KMS as
 * the read role), with the identity it is given, so it sees what that identity sees: run as a hub function's
 * identity, it sees what the function would. The CLI prints its rows (`keymat org doctor`); a fleet scan can report
 * the rows of an account whose child failed ({@link diagnoseAccount}) as that account's causes.
 */

/** What the doctor checked. */
export type DoctorCheck =
  | 'organisation'
  | 'hub account'
  | 'read role'
  | 'delete role trust'
  | 'recovery role trust'
  | 'list keys'
  | 'keys'
  | 'key policy'
  | 'management account';

/** One line of the doctor's table. */
export interface DoctorRow {
  account: string;
  /** The account's name in Organizations (its id when Organizations gave none). */
  accountName: string;
  /** The Region checked; `global` for what holds in every Region (IAM roles). */
  region: string;
  check: DoctorCheck;
  /** The key a `key policy` row is about. */
  keyArn?: string;
  verdict: 'ok' | 'FAIL' | 'skipped';
  /** What was found, in a few words. */
  detail: string;
  /** On a failure: what to do, naming the stack, StackSet or policy statement. */
  todo?: string;
}

/**
 * The doctor's whole answer: the organisation checked, the hub it was checked from, and every row; `failures` counts
 * the FAIL rows.
 */
export interface DoctorReport {
  organizationId: string;
  hub: Scope;
  managementAccount: string;
  rows: DoctorRow[];
  failures: number;
}

/** What the doctor calls with. */
export interface FleetDoctorDeps {
  /** Organizations as the hub reads it. */
  organizations: OrganizationsCall;
  /** The doctor identity's access to keys through a member role (functions/runtime/key-access.ts). */
  keyAccess: (role: MemberRole) => KeyAccess;
  /** The hub's account and Region: its own keys need no member role. */
  hub: Scope;
  /** The partition of the member roles' ARNs. @default 'aws' */
  partition?: string;
}

/** Every member role, and those that one hub function alone may assume (all but the read role). */
const MEMBER_ROLES = Object.keys(MEMBER_ROLE_OPERATIONS) as MemberRole[];
const NARROW_ROLES = MEMBER_ROLES.filter((role) => role !== MEMBER_READ_ROLE);

/** Where a region-independent check is shown. */
export const GLOBAL_REGION = 'global';

/**
 * How the doctor's AssumeRole calls name themselves: the role session name `org-doctor` and the SourceIdentity
 * `keymat-org-doctor`, so the member's CloudTrail tells them from a change's.
 */
export const DOCTOR_SESSION: ChangeSession = {
  executionArn: 'arn:aws:states:::execution:keymat:org-doctor',
  changeId: 'org-doctor',
};

/**
 * What deploys an account's member roles, as the deploying page names it: the StackSet, or the management account's
 * own stack.
 */
const deployment = (account: string, management: boolean): string =>
  management
    ? `the stack KeymatManagementRoles (KeymatMemberRolesStack) in the management account ${account}: service-managed StackSets never deploy there`
    : `the members StackSet keymat-member-roles (stack KeymatMembers) to account ${account}, with its OU among the StackSet's targets`;

/** How many accounts are checked at a time: Organizations and STS quotas are a few requests per second. */
const ACCOUNTS_AT_ONCE = 4;

/**
 * Checks every member account of `members` and every Region of it: the read role can be assumed, the delete and
 * recovery roles refuse the doctor's identity (only DeleteMaterial's and ProveRecovery's roles may assume them), the
 * read role lists the keys of each Region and each key's policy lets it describe them; and whether the management
 * account is covered.
 */
export async function diagnoseFleet(deps: FleetDoctorDeps, members: Members): Promise<DoctorReport> {
  const orgs = onceEach(deps.organizations);
  const { Organization: organization } = await orgs('DescribeOrganization', {});
  const organizationId = organization?.Id ?? '';
  const managementAccount = organization?.MasterAccountId ?? '';
  if (organizationId !== members.organizationId) {
    const row: DoctorRow = {
      account: deps.hub.account,
      accountName: deps.hub.account,
      region: GLOBAL_REGION,
      check: 'organisation',
      verdict: 'FAIL',
      detail: `the hub is in organisation ${organizationId || '(none)'}, not ${members.organizationId}`,
      todo: `set members.organizationId to the hub's organisation, or deploy the hub in an account of ${members.organizationId}`,
    };
    return { organizationId, hub: deps.hub, managementAccount, rows: [row], failures: 1 };
  }

  const accounts: { id: string; name: string }[] = [];
  for await (const page of allPages(
    (NextToken) => orgs('ListAccounts', { ...(NextToken !== undefined && { NextToken }) }),
    (p) => p.NextToken,
  )) {
    for (const a of page.Accounts ?? []) {
      if (a.Id !== undefined && (a.State ?? a.Status) === 'ACTIVE') accounts.push({ id: a.Id, name: a.Name ?? a.Id });
    }
  }

  const perAccount = await inBatches(accounts, ACCOUNTS_AT_ONCE, async (account): Promise<DoctorRow[]> => {
    const management = account.id === managementAccount;
    try {
      checkMember(members, await placeAccount(orgs, members, account.id));
    } catch (err) {
      if (!hasErrorName(err, 'KeyOutsideOrganisation')) throw err;
      if (!management) return [];
      return [
        {
          account: account.id,
          accountName: account.name,
          region: GLOBAL_REGION,
          check: 'management account',
          verdict: 'skipped',
          detail: 'not one of the members (their accounts and OUs leave it out): keymat does not act there',
        },
      ];
    }
    const rows = await diagnoseAccount(deps, members, account, management);
    if (!management) return rows;
    const covered = !rows.some((r) => r.check === 'read role' && r.verdict === 'FAIL');
    const summary: DoctorRow =
      account.id === deps.hub.account
        ? { ...where(account), check: 'management account', verdict: 'ok', detail: 'the hub itself: covered' }
        : covered
          ? {
              ...where(account),
              check: 'management account',
              verdict: 'ok',
              detail: 'covered: its member roles answer',
            }
          : {
              ...where(account),
              check: 'management account',
              verdict: 'FAIL',
              detail: 'not covered: its read role cannot be assumed',
              todo: `deploy ${deployment(account.id, true)}`,
            };
    return [...rows, summary];
  });
  const rows = perAccount.flat();
  const failures = rows.filter((r) => r.verdict === 'FAIL').length;
  return { organizationId, hub: deps.hub, managementAccount, rows, failures };
}

const where = (account: { id: string; name: string }, region = GLOBAL_REGION) => ({
  account: account.id,
  accountName: account.name,
  region,
});

/**
 * The rows of one member account: its roles (once: IAM is global), then each of `members.regions`. The hub's own
 * account needs no member roles: its row says so. `management` names the management account's own stack in what to
 * do, since the StackSet never reaches it.
 */
export async function diagnoseAccount(
  deps: FleetDoctorDeps,
  members: Members,
  account: { id: string; name: string },
  management = false,
): Promise<DoctorRow[]> {
  if (account.id === deps.hub.account) {
    return [
      {
        ...where(account),
        check: 'hub account',
        verdict: 'ok',
        detail: "the hub's functions act here with their own roles: no member roles needed",
      },
    ];
  }
  const partition = deps.partition ?? 'aws';
  const deploy = deployment(account.id, management);
  const place = (region: string) => ({ account: account.id, region, partition });
  const read = deps.keyAccess(MEMBER_READ_ROLE)(DOCTOR_SESSION);
  const rows: DoctorRow[] = [];

  try {
    await read(place(deps.hub.region));
    rows.push({ ...where(account), check: 'read role', verdict: 'ok', detail: `${MEMBER_READ_ROLE} assumed` });
  } catch (err) {
    rows.push({
      ...where(account),
      check: 'read role',
      verdict: 'FAIL',
      detail: `${MEMBER_READ_ROLE} cannot be assumed (${refusal(err)})`,
      todo: `deploy ${deploy}; if it is there, redeploy it with the hub's account and stack name, which its trust names`,
    });
  }
  for (const role of NARROW_ROLES) rows.push(await narrowRoleTrust(deps, account, role, deploy));
  if (rows[0]?.verdict === 'FAIL') return rows;

  for (const region of members.regions) {
    rows.push(...(await diagnoseRegion(await read(place(region)), account, region, partition, deploy)));
  }
  return rows;
}

/**
 * A member role that one hub function alone may assume (the delete role: DeleteMaterial; the recovery role:
 * ProveRecovery), as far as the hub can see it without that function's credentials: it must refuse the doctor's
 * identity. Whether it exists and trusts its function's role cannot be told from here (STS refuses a missing role and
 * an untrusted caller in the same words).
 */
async function narrowRoleTrust(
  deps: FleetDoctorDeps,
  account: { id: string; name: string },
  role: MemberRole,
  deploy: string,
): Promise<DoctorRow> {
  const fn = (Object.keys(MEMBER_ROLE_OF) as MemberActingFunction[]).filter((f) => MEMBER_ROLE_OF[f] === role);
  const check = `${role.replace(/^keymat-member-/, '')} role trust` as DoctorCheck;
  try {
    await deps.keyAccess(role)(DOCTOR_SESSION)({
      account: account.id,
      region: deps.hub.region,
      partition: deps.partition ?? 'aws',
    });
  } catch (err) {
    if (hasErrorName(err, 'MemberRoleUnavailable')) {
      return {
        ...where(account),
        check,
        verdict: 'ok',
        detail: `${role} refuses this identity, as it refuses all but ${fn.join(' and ')}'s role`,
      };
    }
    return {
      ...where(account),
      check,
      verdict: 'FAIL',
      detail: `STS did not answer: ${refusal(err)}`,
      todo: 'run the doctor again; if it persists, check STS in the hub Region',
    };
  }
  return {
    ...where(account),
    check,
    verdict: 'FAIL',
    detail: `${role} let this identity in: its trust is wider than ${fn.join(' and ')}'s role`,
    todo: `redeploy ${deploy}: ${role} must trust only the hub's ${fn.join(' and ')} role`,
  };
}

/** One Region of a member account, as its read role sees it: the keys it lists, and each key's policy. */
async function diagnoseRegion(
  kms: KmsCall,
  account: { id: string; name: string },
  region: string,
  partition: string,
  deploy: string,
): Promise<DoctorRow[]> {
  const at = where(account, region);
  const keyArns: string[] = [];
  try {
    for await (const page of allPages(
      (Marker) => kms('ListKeys', { ...(Marker !== undefined && { Marker }) }),
      (p) => (p.Truncated ? p.NextMarker : undefined),
    )) {
      for (const k of page.Keys ?? []) if (k.KeyArn !== undefined) keyArns.push(k.KeyArn);
    }
  } catch (err) {
    return [
      {
        ...at,
        check: 'list keys',
        verdict: 'FAIL',
        detail: `ListKeys as ${MEMBER_READ_ROLE} failed: ${refusal(err)}`,
        todo: `redeploy ${deploy}: the read role must allow kms:ListKeys on *`,
      },
    ];
  }
  const rows: DoctorRow[] = [];
  let readable = 0;
  let outsideScope = 0;
  for (const keyArn of keyArns) {
    try {
      await kms('DescribeKey', { KeyId: keyArn });
      readable += 1;
    } catch (err) {
      const denied = hasErrorName(err, 'AccessDeniedException');
      // KMS says which kind of policy refused: the key's own, or the role's (a key outside the key scope).
      if (denied && !errorMessage(err).includes('resource-based policy')) {
        outsideScope += 1;
        continue;
      }
      rows.push({
        ...at,
        check: 'key policy',
        keyArn,
        verdict: 'FAIL',
        detail: denied
          ? `key ${keyIdOf(keyArn)}: its policy leaves ${MEMBER_READ_ROLE} out`
          : `key ${keyIdOf(keyArn)}: DescribeKey failed (${refusal(err)})`,
        todo: denied
          ? `add to its key policy a statement allowing ${MEMBER_ROLES.map((role) => memberRoleArn(partition, account.id, role)).join(', ')} ${kmsActions()}, or the account's root (arn:${partition}:iam::${account.id}:root) kms:* so that IAM decides`
          : 'run the doctor again; if it persists, see the KMS error',
      });
    }
  }
  rows.unshift({
    ...at,
    check: 'keys',
    verdict: 'ok',
    detail:
      keyArns.length === 0
        ? 'no keys'
        : `${keyArns.length} listed: ${readable} readable${outsideScope > 0 ? `, ${outsideScope} outside the key scope` : ''}`,
  });
  return rows;
}

/** The KMS actions the member roles need of a key's policy. */
const kmsActions = (): string =>
  [...new Set(Object.values(MEMBER_ROLE_OPERATIONS).flat())]
    .filter((op) => op !== 'ListKeys' && op !== 'ListAliases')
    .map((op) => `kms:${op}`)
    .join(', ');

/**
 * A refusal in a few words: AWS's error name (STS's, under MemberRoleUnavailable), with its message only where it is
 * not the usual AccessDenied text naming the caller, which the doctor's heading names once.
 */
function refusal(err: unknown): string {
  const cause = hasErrorName(err, 'MemberRoleUnavailable') ? (err as Error).cause : err;
  const name = errorName(cause) ?? 'Error';
  return hasErrorName(cause, 'AccessDenied', 'AccessDeniedException') ? name : `${name}: ${errorMessage(cause)}`;
}

/** A key ARN's key id, for a table cell. */
const keyIdOf = (keyArn: string): string => keyArn.slice(keyArn.lastIndexOf('/') + 1);

/** Runs `check` over `items`, at most `width` at a time, keeping their order. */
async function inBatches<T, R>(items: readonly T[], width: number, check: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = [];
  for (let i = 0; i < items.length; i += width) {
    results.push(...(await Promise.all(items.slice(i, i + width).map(check))));
  }
  return results;
}
