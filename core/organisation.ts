import { ARN } from './naming';
import * as z from './schema';

/**
 * keymat across an AWS Organization: one hub deployment (the workflow, the gateway, the approvals) acting on keys of
 * member accounts, in each key's own Region, through two roles every member account holds. This module holds the
 * names and shapes the hub's functions, its stack, the member roles' stack and the local stack share.
 */

/**
 * The member role the reading tasks assume (ValidateOrigin, VerifyPendingImport, the scan) and the fleet doctor: it
 * cannot delete.
 */
export const MEMBER_READ_ROLE = 'keymat-member-read';

/** The member role only DeleteMaterial's role may assume: it reads the key and deletes its imported material. */
export const MEMBER_DELETE_ROLE = 'keymat-member-delete';

/**
 * The member role only the proving function's role may assume (docs/recovery.md): it reads the key, gets import
 * parameters and reimports the material the key already holds. It cannot delete.
 */
export const MEMBER_RECOVERY_ROLE = 'keymat-member-recovery';

export type MemberRole = typeof MEMBER_READ_ROLE | typeof MEMBER_DELETE_ROLE | typeof MEMBER_RECOVERY_ROLE;

/**
 * The hub's functions that act in member accounts, each with the member role it assumes (and no other). The fleet
 * doctor (OrgDoctor) reads as the read role: it checks from the hub what the reading tasks would meet.
 */
export const MEMBER_ROLE_OF = {
  ValidateOrigin: MEMBER_READ_ROLE,
  VerifyPendingImport: MEMBER_READ_ROLE,
  ExpiryScan: MEMBER_READ_ROLE,
  OrgDoctor: MEMBER_READ_ROLE,
  DeleteMaterial: MEMBER_DELETE_ROLE,
  ProveRecovery: MEMBER_RECOVERY_ROLE,
} as const;

/** A hub function that acts in member accounts. */
export type MemberActingFunction = keyof typeof MEMBER_ROLE_OF;

/**
 * The KMS operations each member role allows: exactly those the functions that assume it call (validating,
 * verifying and scanning a key; DeleteMaterial's re-read and deletion; the proof's import parameters and reimport). The member stack's policies and the local
 * stack's roles are both made from this list.
 */
export const MEMBER_ROLE_OPERATIONS: Readonly<Record<MemberRole, readonly string[]>> = {
  [MEMBER_READ_ROLE]: [
    'DescribeKey',
    'ListKeyRotations',
    'GetKeyLastUsage',
    'ListResourceTags',
    'ListKeys',
    'ListAliases',
  ],
  [MEMBER_DELETE_ROLE]: ['DescribeKey', 'ListKeyRotations', 'DeleteImportedKeyMaterial'],
  [MEMBER_RECOVERY_ROLE]: ['DescribeKey', 'ListKeyRotations', 'GetParametersForImport', 'ImportKeyMaterial'],
};

/** A member role's ARN in one account of a partition. */
export const memberRoleArn = (partition: string, account: string, role: MemberRole): string =>
  `arn:${partition}:iam::${account}:role/${role}`;

/** An organisation id (`o-` and 10 to 32 lower-case letters or digits). */
export const ORGANIZATION_ID = /^o-[a-z0-9]{10,32}$/;

/** An organisational unit id (`ou-`, the root's 4-32 characters, `-`, 8-32 more). */
export const ORGANIZATIONAL_UNIT_ID = /^ou-[0-9a-z]{4,32}-[a-z0-9]{8,32}$/;

/** An AWS account id. */
export const ACCOUNT_ID = /^\d{12}$/;

/** A Region name (`us-east-1`, `us-gov-west-1`, `cn-north-1`, …). */
export const REGION = /^[a-z]{2}(-[a-z]+)+-\d$/;

/**
 * The member accounts keymat may act in, besides the hub's own account and Region. A key's account must belong to the
 * organisation and be listed in `accounts` or lie under one of `organizationalUnits` (at any depth); with neither
 * listed, every account of the organisation is a member. Its Region must be one of `regions`.
 */
export const membersSchema = z.lazy(() =>
  z.object({
    organizationId: z.string().check(z.regex(ORGANIZATION_ID, 'an organisation id such as o-a1b2c3d4e5')),
    organizationalUnits: z.optional(
      z.array(z.string().check(z.regex(ORGANIZATIONAL_UNIT_ID, 'an OU id such as ou-ab12-cd34ef56'))),
    ),
    accounts: z.optional(z.array(z.string().check(z.regex(ACCOUNT_ID, 'a 12-digit account id')))),
    regions: z.array(z.string().check(z.regex(REGION, 'a Region such as eu-west-1'))).check(z.minLength(1)),
  }),
);
export type Members = z.infer<typeof membersSchema>;

/**
 * One approval rule: which keys it covers (an account, or every account under an OU at any depth) and what their
 * changes need. The rules are an ordered list; the first that matches a key's account applies, and a key no rule
 * matches takes the deployment's own quorum and approvers.
 */
export const approvalRuleSchema = z.lazy(() =>
  z.object({
    /** A name people recognise in the plan, e.g. `production`. */
    name: z.string().check(z.regex(/^[\w .-]{1,64}$/, '1-64 letters, digits, spaces, _, . or -')),
    match: z.union([
      z.object({ account: z.string().check(z.regex(ACCOUNT_ID, 'a 12-digit account id')) }),
      z.object({
        organizationalUnit: z.string().check(z.regex(ORGANIZATIONAL_UNIT_ID, 'an OU id such as ou-ab12-cd34ef56')),
      }),
    ]),
    quorum: z.number().check(z.int(), z.minimum(1), z.maximum(10)),
    /** Principal ARNs or ARN patterns (as the deployment's approvers); none: anyone but the requester. */
    approvers: z.optional(z.array(z.string())),
  }),
);
export type ApprovalRule = z.infer<typeof approvalRuleSchema>;

/** Where a key lives, as the plan names it for its approvers (and binds it into its digest). */
export const keyLocationSchema = z.lazy(() =>
  z.object({
    account: z.string(),
    /** The account's name in Organizations; the hub's own account without Organizations: its id. */
    accountName: z.string(),
    /** The OUs from the root down to the account's parent, by name (empty: the account sits in the root). */
    ouPath: z.array(z.string()),
    region: z.string(),
  }),
);
export type KeyLocation = z.infer<typeof keyLocationSchema>;

/**
 * The role session name of a task acting for an execution: the execution's name, as IAM allows a session name
 * (2-64 of `\w+=,.@-`), so that the member's CloudTrail names the execution.
 */
export const roleSessionName = (executionName: string): string =>
  executionName
    .replace(/[^\w+=,.@-]/g, '-')
    .slice(0, 64)
    .padEnd(2, '-');

/** How every SourceIdentity keymat sets begins: the member roles' trust requires it. */
export const SOURCE_IDENTITY_PREFIX = 'keymat-';

/**
 * The SourceIdentity a task sets when it assumes a member role: `keymat-` and the change id, as STS allows it (2-64
 * of `\w+=,.@-`). It stays on the session and on every record the member's CloudTrail keeps of its calls, so a
 * `DeleteImportedKeyMaterial` there names the change it belongs to.
 */
export const sourceIdentity = (changeId: string): string =>
  `${SOURCE_IDENTITY_PREFIX}${changeId}`.replace(/[^\w+=,.@-]/g, '-').slice(0, 64);

/** Where a key lives as its id names it: a key ARN's partition, account and Region; a bare key id: the hub's. */
export interface KeyPlace {
  account: string;
  region: string;
  /** The key ARN's partition; absent for a bare key id, which names a key of the hub's own account. */
  partition?: string;
}

/** Where a key ARN (the plan's) says its key lives. */
export function placeOfKeyArn(keyArn: string): KeyPlace {
  const [, partition, service, region, account] = ARN.exec(keyArn) ?? [];
  if (service !== 'kms' || !partition || !region || !account) throw new Error(`'${keyArn}' is not a KMS key ARN`);
  return { partition, account, region };
}
