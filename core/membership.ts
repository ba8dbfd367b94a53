import type { DescribeAccountCommandOutput } from '@aws-sdk/client-organizations';
import type { OrganizationsCall } from './aws-api';
import { KeymatError, hasErrorName, shown } from './errors';
import type { Members } from './organisation';

/**
 * Whether an account is one of the organisation's members keymat may act in, as Organizations answers from the hub.
 * Apart from core/organisation.ts, whose names and shapes the construct library's typings carry: this module reaches
 * Organizations through the AWS port, which the typings must not.
 */

/** One organisational unit of an account's path, as Organizations names it. */
export interface OrganizationalUnit {
  id: string;
  name: string;
}

/** Where an account sits in the organisation: its name and its OUs from the root down to its parent. */
export interface AccountPlacement {
  account: string;
  accountName: string;
  organizationalUnits: OrganizationalUnit[];
}

/**
 * An Organizations port that asks each question once: one is made per invocation, so that the OUs a path shares are
 * described once (Organizations' quotas are a few requests per second) while an account moved between OUs is seen by
 * the next change.
 */
export function onceEach(orgs: OrganizationsCall): OrganizationsCall {
  const answers = new Map<string, Promise<unknown>>();
  return ((operation: string, input: unknown) => {
    const key = `${operation} ${JSON.stringify(input)}`;
    let answer = answers.get(key);
    if (answer === undefined) {
      answer = (orgs as (op: string, input: unknown) => Promise<unknown>)(operation, input);
      // A failed question is asked again by the next caller rather than failing it from the cache.
      answer.catch(() => answers.delete(key));
      answers.set(key, answer);
    }
    return answer;
  }) as OrganizationsCall;
}

const outside = (message: string, cause?: unknown) =>
  new KeymatError('KeyOutsideOrganisation', message, ...(cause === undefined ? [] : [{ cause }]));

/**
 * Where `account` sits in the organisation `members` names, read from the hub: DescribeAccount (the account must be
 * ACTIVE and of that organisation), then ListParents up to the root and DescribeOrganizationalUnit for each OU's name.
 * An account Organizations does not know, of another organisation, or not active is refused KeyOutsideOrganisation.
 */
export async function placeAccount(
  orgs: OrganizationsCall,
  members: Members,
  account: string,
): Promise<AccountPlacement> {
  let described: DescribeAccountCommandOutput;
  try {
    described = await orgs('DescribeAccount', { AccountId: account });
  } catch (err) {
    if (!hasErrorName(err, 'AccountNotFoundException')) throw err;
    throw outside(`account ${account} is not in organisation ${members.organizationId}; keymat acts only there`, err);
  }
  const details = described.Account;
  // The account's ARN names its organisation: arn:aws:organizations::<management>:account/o-…/<account>.
  if (!details?.Arn?.endsWith(`/${members.organizationId}/${account}`)) {
    throw outside(
      `account ${account} is not in organisation ${members.organizationId} (Organizations answers ${shown(details?.Arn)})`,
    );
  }
  if (details.State !== 'ACTIVE') {
    throw outside(
      `account ${account} is ${shown(details.State)} in organisation ${members.organizationId}, not ACTIVE`,
    );
  }
  const ids: string[] = [];
  for (let child = account; ;) {
    const parent = (await orgs('ListParents', { ChildId: child })).Parents?.[0];
    if (parent?.Type !== 'ORGANIZATIONAL_UNIT' || parent.Id === undefined) break;
    ids.unshift(parent.Id);
    child = parent.Id;
  }
  const organizationalUnits = await Promise.all(
    ids.map(async (id) => {
      const { OrganizationalUnit: ou } = await orgs('DescribeOrganizationalUnit', { OrganizationalUnitId: id });
      return { id, name: ou?.Name ?? id };
    }),
  );
  return { account, accountName: details.Name ?? account, organizationalUnits };
}

/**
 * Refuses KeyOutsideOrganisation an account `members` does not include: with accounts or OUs listed, it must be one
 * of the accounts or lie under one of the OUs (at any depth); with neither, every account of the organisation is in.
 */
export function checkMember(members: Members, placement: AccountPlacement): void {
  const accounts = members.accounts ?? [];
  const units = members.organizationalUnits ?? [];
  if (accounts.length === 0 && units.length === 0) return;
  if (accounts.includes(placement.account)) return;
  if (placement.organizationalUnits.some((ou) => units.includes(ou.id))) return;
  const path = placement.organizationalUnits.map((ou) => `${ou.name} (${ou.id})`).join(' / ') || 'the root';
  throw outside(
    `account ${placement.account} (${placement.accountName}, under ${path}) is neither one of the member accounts (${accounts.join(', ') || 'none listed'}) nor under one of the member OUs (${units.join(', ') || 'none listed'})`,
  );
}
