import {
  MEMBER_ROLE_OF,
  MEMBER_ROLE_OPERATIONS,
  memberRoleArn,
  type MemberActingFunction,
  type MemberRole,
} from '../../core/organisation';
import type { RoleRecord } from '../state/organization';
import { hubRoleArn } from './internal-access';

/**
 * The member roles of `account`: each trusts its hub functions' roles by ARN, on the condition that the caller is in
 * the organisation (`aws:PrincipalOrgID`), as the member stack's trust policies do.
 */
export const memberRoles = (account: string, organizationId: string): RoleRecord[] =>
  (Object.keys(MEMBER_ROLE_OPERATIONS) as MemberRole[]).map((role) => ({
    arn: memberRoleArn('aws', account, role),
    trust: (Object.keys(MEMBER_ROLE_OF) as MemberActingFunction[])
      .filter((fn) => MEMBER_ROLE_OF[fn] === role)
      .map(hubRoleArn),
    principalOrgId: organizationId,
    kmsOperations: [...MEMBER_ROLE_OPERATIONS[role]],
  }));
