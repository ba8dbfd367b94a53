import { createHash } from 'node:crypto';
import { LOCAL_ACCOUNT_ID } from '../constants';

/**
 * Who a local request acts as, as IAM would authenticate it from its signature: an IAM user named by the access key
 * id, one of keymat's own roles, or a role session made by AssumeRole. The router works it out once per request
 * (local/services/identities.ts); the services read it from the request.
 */
export interface Caller {
  /** The access key id the request was signed with. */
  accessKeyId: string;
  /** The caller's ARN, as GetCallerIdentity answers it and AccessDenied messages name it. */
  arn: string;
  /** GetCallerIdentity's `UserId`. */
  userId: string;
  /** The account the caller acts in: its keys, its quotas, its request log entries. */
  account: string;
  /** The principal a role's trust names to let this caller in: a user's ARN, or the role ARN of a role session. */
  principalArn: string;
  /** Set for the temporary credentials AssumeRole gave out. */
  session?: RoleSession;
}

/** What a role session carries from its AssumeRole to every call made with its credentials. */
export interface RoleSession {
  roleArn: string;
  sessionName: string;
  /** Set at AssumeRole and kept on every call (CloudTrail's `sourceIdentity`). */
  sourceIdentity?: string;
  /** The KMS operations the role's permissions allow, read when the call is made. */
  kmsOperations: readonly string[];
}

/** Characters IAM does not allow in a user name become `_`. */
const userName = (accessKeyId: string): string => accessKeyId.replace(/[^\w+=,.@-]/g, '_');

/** The IAM user named by an access key id, in `account`. */
export function userCaller(accessKeyId: string, account: string = LOCAL_ACCOUNT_ID): Caller {
  const arn = `arn:aws:iam::${account}:user/${userName(accessKeyId)}`;
  return { accessKeyId, arn, userId: userName(accessKeyId), account, principalArn: arn };
}

/** A role's ARN in `account`. */
export const roleArn = (account: string, roleName: string): string => `arn:aws:iam::${account}:role/${roleName}`;

/** A session of the role `roleName` in `account`, as STS names it: `arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION`. */
export function roleCaller(
  accessKeyId: string,
  account: string,
  roleName: string,
  sessionName: string,
  session?: RoleSession,
): Caller {
  return {
    accessKeyId,
    arn: `arn:aws:sts::${account}:assumed-role/${roleName}/${sessionName}`,
    userId: `${roleId(account, roleName)}:${sessionName}`,
    account,
    principalArn: roleArn(account, roleName),
    ...(session && { session }),
  };
}

/** A role's unique id (`AROA…`), stable for its ARN as IAM's is for the role's life. */
export const roleId = (account: string, roleName: string): string =>
  `AROA${createHash('sha256').update(roleArn(account, roleName)).digest('hex').slice(0, 17).toUpperCase()}`;
