import { MEMBER_DELETE_ROLE, MEMBER_READ_ROLE, memberRoleArn, type MemberRole } from '../../core/organisation';
import type { RoleRecord } from '../state/organization';
import { hubRoleArn, type HubIdentity } from './internal-access';

/** The KMS calls the member read role allows: what validating, verifying and scanning a key need. */
const READ_OPERATIONS = [
  'DescribeKey',
  'ListKeyRotations',
  'ListAliases',
  'GetKeyLastUsage',
  'ListResourceTags',
  'ListKeys',
] as const;

/**
 * keymat's two roles in every member account, as the member stack makes them: which hub functions each trusts, and
 * which KMS calls each allows. Only DeleteMaterial may assume the delete role, and only it allows
 * DeleteImportedKeyMaterial.
 */
export const MEMBER_ROLES: {
  readonly [R in MemberRole]: { trust: readonly HubIdentity[]; kmsOperations: readonly string[] };
} = {
  [MEMBER_READ_ROLE]: {
    trust: ['ValidateOrigin', 'VerifyPendingImport', 'ExpiryScan'],
    kmsOperations: READ_OPERATIONS,
  },
  [MEMBER_DELETE_ROLE]: {
    trust: ['DeleteMaterial'],
    kmsOperations: [...READ_OPERATIONS, 'DeleteImportedKeyMaterial'],
  },
};

/**
 * The member roles of `account`: each trusts its hub functions' roles by ARN, on the condition that the caller is in
 * the organisation (`aws:PrincipalOrgID`), as the member stack's trust policies do.
 */
export const memberRoles = (account: string, organizationId: string): RoleRecord[] =>
  (Object.keys(MEMBER_ROLES) as MemberRole[]).map((role) => ({
    arn: memberRoleArn('aws', account, role),
    trust: MEMBER_ROLES[role].trust.map(hubRoleArn),
    principalOrgId: organizationId,
    kmsOperations: [...MEMBER_ROLES[role].kmsOperations],
  }));
