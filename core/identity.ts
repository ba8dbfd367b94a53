import { PARTITION } from './naming';
import { counted } from './text';

/**
 * Who a caller is, in one canonical form, so that "the requester never approves" and "distinct approvers" compare
 * people rather than spellings.
 *
 * An authenticated caller ARN (the SigV4 request context of the gateway, STS GetCallerIdentity) maps to a principal:
 * - an IAM user, the account root, or a federated user: its own ARN;
 * - an assumed-role session: the role (`arn:aws:iam::ACCOUNT:role/NAME`), because whoever calls AssumeRole chooses
 *   the session name — two sessions of one role are one approver. Only where the session name is not the caller's
 *   choice does it identify a person, and the principal keeps it (`arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION`):
 *   IAM Identity Center permission-set roles (`AWSReservedSSO_*`, whose session name is the signed-in user) and the
 *   roles a deployment names as enforcing the session name (`sts:RoleSessionName` or `sts:SourceIdentity` pinned by
 *   policy).
 *
 * Principals are ASCII by construction (IAM names allow only `[\w+=,.@-]`), so control, format and confusable
 * characters never reach a comparison; IAM names are unique regardless of case, so comparisons ignore case.
 */

/** An ARN as IAM and STS report callers: ASCII only, partition, service, account, resource. */
const CALLER_ARN = new RegExp(`^arn:(${PARTITION}):(iam|sts)::(\\d{12}):([A-Za-z0-9+=,.@_/-]{1,512})$`);
/** An approver entry: a caller ARN in which `*` may stand for any characters within a segment. */
const APPROVER_PATTERN = new RegExp(`^arn:(${PARTITION}):(iam|sts)::(\\d{12}):([A-Za-z0-9+=,.@_/*-]{1,512})$`);
const IAM_NAME = /^[A-Za-z0-9+=,.@_-]{1,128}$/;

/** Session-bound roles: the session name is set by IAM Identity Center, not by whoever assumes the role. */
const IDENTITY_CENTER_ROLE = /^AWSReservedSSO_[A-Za-z0-9+=,.@_-]+$/;

export class InvalidIdentityError extends Error {
  override readonly name = 'InvalidIdentity';
}

export interface IdentityOptions {
  /**
   * Roles whose session name identifies a person because a policy pins it (`sts:RoleSessionName` or
   * `sts:SourceIdentity`), by role name.
   * @default none: only IAM Identity Center roles keep their session name
   */
  sessionBoundRoles?: readonly string[];
}

/** The canonical principal of an authenticated caller ARN; refuses anything that is not one, naming it. */
export function canonicalPrincipal(callerArn: string, options: IdentityOptions = {}): string {
  const m = CALLER_ARN.exec(callerArn);
  if (!m) {
    throw new InvalidIdentityError(
      `caller ${JSON.stringify(callerArn)} is not an IAM or STS principal ARN (ASCII, arn:aws:iam::ACCOUNT:user/NAME, arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION, ...)`,
    );
  }
  const [, partition = '', service = '', account = '', resource = ''] = m;
  const parts = resource.split('/');
  if (service === 'sts' && parts[0] === 'assumed-role') {
    const [, role, session] = parts;
    if (parts.length !== 3 || !role || !session || !IAM_NAME.test(role) || !IAM_NAME.test(session)) {
      throw new InvalidIdentityError(`caller ${JSON.stringify(callerArn)} is not a well-formed assumed-role ARN`);
    }
    const sessionBound = IDENTITY_CENTER_ROLE.test(role) || (options.sessionBoundRoles ?? []).includes(role);
    return sessionBound
      ? `arn:${partition}:sts::${account}:assumed-role/${role}/${session}`
      : `arn:${partition}:iam::${account}:role/${role}`;
  }
  const known =
    (service === 'iam' && (resource === 'root' || /^(user|role)\/([\w+=,.@-]+\/)*[\w+=,.@-]+$/.test(resource))) ||
    (service === 'sts' && /^federated-user\/[\w+=,.@-]+$/.test(resource));
  if (!known) {
    throw new InvalidIdentityError(`caller ${JSON.stringify(callerArn)} is not a principal keymat can identify`);
  }
  return callerArn;
}

/** Whether two canonical principals are the same: IAM names are unique regardless of case. */
export const samePrincipal = (a: string, b: string): boolean => a.toLowerCase() === b.toLowerCase();

/**
 * An approver entry of the configuration: a canonical principal ARN, or a pattern of one where `*` matches any run of
 * characters within a path segment (e.g. `arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_KeyApprovers_*\/*`).
 * Plain names are refused: a name is not an identity anyone can authenticate as.
 */
export function checkApproverPattern(pattern: string): string {
  const m = APPROVER_PATTERN.exec(pattern);
  const resource = m?.[4] ?? '';
  const shape =
    m !== null &&
    ((m[2] === 'iam' && /^(user|role)\/.+/.test(resource)) ||
      (m[2] === 'iam' && resource === 'root') ||
      (m[2] === 'sts' && /^assumed-role\/[^/]+\/[^/]+$/.test(resource)));
  if (!shape) {
    throw new InvalidIdentityError(
      `${JSON.stringify(pattern)} must be a principal ARN or ARN pattern (arn:aws:iam::ACCOUNT:user/NAME, arn:aws:iam::ACCOUNT:role/NAME, arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION, with * for any characters within a segment); plain names cannot be authenticated`,
    );
  }
  return pattern;
}

/** Whether an approver entry names exactly one principal (no wildcard): only those can be sent a personal link. */
export const isExactPrincipal = (pattern: string): boolean => !pattern.includes('*');

/**
 * The configured approvers (or custodians), each checked as `checkApproverPattern` checks it, and refused when two
 * entries name one principal as the gateway identifies callers: an exact entry by its canonical principal
 * (`canonicalPrincipal` with the same session-bound roles, so a role and a session of it are one approver unless the
 * role is session-bound), a pattern as written, both regardless of case as IAM names are. Listing one person twice
 * would make a quorum count them twice (and a quorum of 2 unreachable for them). Used wherever approvers are
 * configured: the stack's props and approval rules, the `DeletionWorkflow` construct, `keymat local serve`.
 *
 * @throws InvalidIdentityError naming the entry that is no principal, or the two entries and the principal they name
 */
export function distinctApprovers(approvers: readonly string[], options: IdentityOptions = {}): string[] {
  const seen = new Map<string, string>();
  for (const approver of approvers) {
    checkApproverPattern(approver);
    const principal = isExactPrincipal(approver) ? canonicalOrSelf(approver, options) : approver;
    const first = seen.get(principal.toLowerCase());
    if (first !== undefined) {
      throw new InvalidIdentityError(
        `${JSON.stringify(first)} and ${JSON.stringify(approver)} are the same principal, ${JSON.stringify(principal)} (a session of a role is the role unless the role is session-bound; IAM names ignore case): list each principal once`,
      );
    }
    seen.set(principal.toLowerCase(), approver);
  }
  return [...approvers];
}

/**
 * An exact entry's canonical principal; an entry the pattern check passes but `canonicalPrincipal` cannot read (a name
 * longer than IAM allows, say) matches no caller, so it stands for itself.
 */
function canonicalOrSelf(approver: string, options: IdentityOptions): string {
  try {
    return canonicalPrincipal(approver, options);
  } catch (err) {
    if (err instanceof InvalidIdentityError) return approver;
    throw err;
  }
}

/** Whether a canonical principal matches an approver entry (see `checkApproverPattern`). */
export function matchesApprover(principal: string, pattern: string): boolean {
  const regex = new RegExp(
    `^${pattern
      .split('*')
      .map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
      .join('[^/]*')}$`,
    'i',
  );
  return regex.test(principal);
}

/** The short name a person recognises in messages: `alice` for `arn:aws:iam::111122223333:user/ops/alice`. */
export const displayName = (principal: string): string =>
  principal.slice(Math.max(principal.lastIndexOf(':'), principal.lastIndexOf('/')) + 1);

/**
 * Why a quorum cannot be reached by the approvers listed, or undefined when it can (an empty list: anyone but the
 * requester may approve). The callers name the setting.
 */
export function unreachableQuorum(quorum: number, approvers: readonly string[]): string | undefined {
  if (approvers.length === 0 || approvers.length >= quorum) return undefined;
  return `${quorum} cannot be reached by the ${counted(approvers.length, 'approver')} listed (${approvers.join(', ')}); list at least ${quorum}, or lower it`;
}

/**
 * Refuses a quorum the allowed approvers cannot reach, naming it: the DeletionWorkflow construct's check, and the local stack's of the same settings.
 *
 * @throws RangeError naming the quorum, the approvers and what to do
 */
export function reachableBy(approvers: readonly string[], quorums: Record<'quorum' | 'restoreQuorum', number>): void {
  for (const [name, quorum] of Object.entries(quorums)) {
    const why = unreachableQuorum(quorum, approvers);
    if (why !== undefined) throw new RangeError(`DeletionWorkflow: ${name} ${why}`);
  }
}
