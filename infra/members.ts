import { Aws, Resource, Stack, type StackProps } from 'aws-cdk-lib';
import {
  ArnPrincipal,
  CompositePrincipal,
  Grant,
  PolicyStatement,
  PrincipalWithConditions,
  type PolicyDocument,
} from 'aws-cdk-lib/aws-iam';
import { Capability, DeploymentType, StackSet, StackSetStack, StackSetTarget, StackSetTemplate } from 'cdk-stacksets';
import { Construct } from 'constructs';
import { ConfigurationError } from '../core/errors';
import { IAM_ROLE_NAME } from '../core/naming';
import {
  ACCOUNT_ID,
  MEMBER_DELETE_ROLE,
  MEMBER_RECOVERY_ROLE,
  MEMBER_READ_ROLE,
  MEMBER_ROLE_OF,
  MEMBER_ROLE_OPERATIONS,
  membersSchema,
  memberRoleArn,
  SOURCE_IDENTITY_PREFIX,
  type MemberActingFunction,
  type MemberRole,
  type Members,
} from '../core/organisation';
import { AcknowledgingRole } from '../workflows/nag';
import { DEFAULT_KEY_TAG } from './config';
import { KeyScopeGrants, type KeyScope } from './key-scope';
import type { KeymatFunction } from './keymat-function';
import { PROOF_CONDITIONS } from './proof-conditions';
import { parsedProp, refuse } from './refusals';

/**
 * keymat across an organisation, in CDK: the hub's side (its task roles' fixed names, their grants to assume the
 * member roles, ValidateOrigin's Organizations reads) and the members' side (the two roles every member account
 * holds, deployed by a service-managed StackSet and, for the management account, a plain stack).
 */

/** The KMS operations that support no resource scoping: granted on `*`. */
const UNSCOPED_OPERATIONS = new Set(['ListKeys', 'ListAliases']);

/**
 * A member role's KMS actions: on the keys in scope, on the keys in scope under the recovery proof's conditions, and
 * those KMS cannot scope to a key (`Resource: *`).
 */
const memberRoleActions = (role: MemberRole): { keys: string[]; proof: string[]; unscoped: string[] } => {
  const actions = (operations: readonly string[]) => operations.map((op) => `kms:${op}`);
  const operations = MEMBER_ROLE_OPERATIONS[role];
  const proof = (op: string) => op in PROOF_CONDITIONS;
  return {
    keys: actions(operations.filter((op) => !UNSCOPED_OPERATIONS.has(op) && !proof(op))),
    proof: operations.filter(proof),
    unscoped: actions(operations.filter((op) => UNSCOPED_OPERATIONS.has(op))),
  };
};

/** The longest hub stack name whose task roles' names fit IAM's 64 characters. */
const MAX_HUB_STACK_NAME = 64 - 'keymat-'.length - '-VerifyPendingImport'.length;

/**
 * The fixed name of a hub function's role, `keymat-<hub stack name>-<function>`: the member roles trust it by ARN, so
 * the members' template must know it before the hub's roles exist anywhere but in the hub.
 *
 * @throws ConfigurationError naming the stack name when the role name would not be a valid IAM role name
 */
export function hubRoleName(hubStackName: string, fn: MemberActingFunction): string {
  const name = `keymat-${hubStackName}-${fn}`;
  if (hubStackName.length > MAX_HUB_STACK_NAME || !IAM_ROLE_NAME.test(name)) {
    throw new ConfigurationError(
      `keymat: the hub stack name must be at most ${MAX_HUB_STACK_NAME} characters of letters, digits and +=,.@_- with members, since it names the hub's task roles (${name}); got '${hubStackName}'`,
    );
  }
  return name;
}

/**
 * The hub's access to its member accounts: its acting functions' role names, and their grants to assume the member
 * roles and to read the organisation.
 */
export class MemberAccess {
  /**
   * @param members the hub's members, checked (the stack's `resolveProps` parses them)
   * @param hubStackName the hub stack's name, which names the acting functions' roles
   */
  constructor(
    readonly members: Members,
    private readonly hubStackName: string,
  ) {
    for (const fn of Object.keys(MEMBER_ROLE_OF) as MemberActingFunction[]) hubRoleName(hubStackName, fn);
  }

  /** The fixed name of an acting function's role. */
  roleName(fn: MemberActingFunction): string {
    return hubRoleName(this.hubStackName, fn);
  }

  /**
   * Lets the function assume its member role, and set the SourceIdentity its trust requires, in the organisation's
   * accounts only: the role's name is fixed, its account is whichever member holds the key, and `aws:ResourceOrgID`
   * (which STS sets from the role's account) bounds that account to the organisation.
   */
  grantAssumeMemberRole(fn: KeymatFunction<MemberActingFunction>): Grant {
    const role = MEMBER_ROLE_OF[fn.node.id as MemberActingFunction];
    return fn.grant(
      (grantee) =>
        Grant.addToPrincipal({
          grantee,
          actions: ['sts:AssumeRole', 'sts:SetSourceIdentity'],
          resourceArns: [memberRoleArn(Aws.PARTITION, '*', role)],
          conditions: { StringEquals: { 'aws:ResourceOrgID': this.members.organizationId } },
        }),
      `the member accounts are the organisation's, not known when the hub deploys: the role name ${role} is fixed, and the condition aws:ResourceOrgID=${this.members.organizationId} limits the account to the organisation`,
    );
  }

  /**
   * Lets ValidateOrigin (and the fleet doctor) name a key's account and OU path: DescribeAccount, ListParents and DescribeOrganizationalUnit
   * on this organisation's accounts and OUs. Their ARNs hold the management account's id, which the hub does not
   * know (https://docs.aws.amazon.com/service-authorization/latest/reference/list_awsorganizations.html), so they are
   * bounded by the organisation's id instead.
   */
  grantOrganizationRead(fn: KeymatFunction<'ValidateOrigin' | 'OrgDoctor'>): Grant {
    const organizations = `arn:${Aws.PARTITION}:organizations::*`;
    const { organizationId } = this.members;
    const accounts = `${organizations}:account/${organizationId}/*`;
    const units = `${organizations}:ou/${organizationId}/*`;
    return fn.grant(
      (grantee) =>
        Grant.addToPrincipal({
          grantee,
          actions: ['organizations:DescribeAccount', 'organizations:ListParents'],
          resourceArns: [accounts],
        }).combine(
          Grant.addToPrincipal({
            grantee,
            actions: ['organizations:DescribeOrganizationalUnit', 'organizations:ListParents'],
            resourceArns: [units],
          }),
        ),
      `Organizations ARNs hold the management account's id, unknown to the hub: the accounts and OUs of organisation ${organizationId} only`,
    );
  }

  /**
   * Lets the fleet doctor (OrgDoctor) do what it checks, and nothing else: assume the member read role (as the reading
   * tasks do), read the organisation and list its accounts (DescribeOrganization and ListAccounts support no resource
   * scoping), and place each account in it (`grantOrganizationRead`).
   */
  grantFleetDoctor(fn: KeymatFunction<'OrgDoctor'>): Grant {
    return this.grantAssumeMemberRole(fn)
      .combine(
        fn.grantUnscoped(
          ['organizations:DescribeOrganization', 'organizations:ListAccounts'],
          'organizations:DescribeOrganization and organizations:ListAccounts support no resource scoping',
        ),
      )
      .combine(this.grantOrganizationRead(fn));
  }

  /**
   * Lets the fleet scan list the members' accounts: ListAccounts (which supports no resource scoping), and
   * ListAccountsForParent and ListOrganizationalUnitsForParent on this organisation's root and OUs, to walk the
   * member OUs down.
   */
  grantOrganizationList(fn: KeymatFunction<'ExpiryScan'>): Grant {
    const { organizationId } = this.members;
    const organizations = `arn:${Aws.PARTITION}:organizations::*`;
    return fn
      .grantUnscoped(['organizations:ListAccounts'], 'organizations:ListAccounts supports no resource scoping')
      .combine(
        fn.grant(
          (grantee) =>
            Grant.addToPrincipal({
              grantee,
              actions: ['organizations:ListAccountsForParent', 'organizations:ListOrganizationalUnitsForParent'],
              resourceArns: [`${organizations}:root/${organizationId}/*`, `${organizations}:ou/${organizationId}/*`],
            }),
          `Organizations ARNs hold the management account's id, unknown to the hub: the root and OUs of organisation ${organizationId} only`,
        ),
      );
  }
}

/** Who the member roles trust and what they may touch: the hub, and the keys in scope in the members' Regions. */
export interface KeymatMemberRolesProps {
  /** The hub's account, whose task roles alone may assume the member roles. */
  readonly hubAccount: string;
  /**
   * The hub stack's name, which names its task roles (`hubRoleName`).
   * @default 'Keymat'
   */
  readonly hubStackName?: string;
  /** The organisation and the Regions of its keys, as the hub's `members` prop gives them. */
  readonly members: Members;
  /**
   * The keys the roles may read and delete material from, as the hub's `keyScope`.
   * @default { tag: { key: 'keymat:managed', value: 'true' } }
   */
  readonly keyScope?: KeyScope;
}

/** The hub stack's name when the member props name none: the id of this repository's hub stack. */
export const DEFAULT_HUB_STACK_NAME = 'Keymat';

/**
 * Trusts the hub's task roles by ARN, only from within the organisation and only with a SourceIdentity keymat set:
 * one statement allowing `sts:AssumeRole` and `sts:SetSourceIdentity` (STS asks the trust policy for both when the
 * caller sets a SourceIdentity).
 */
class HubTaskRoles extends PrincipalWithConditions {
  constructor(roleArns: readonly string[], organizationId: string) {
    super(new CompositePrincipal(...roleArns.map((arn) => new ArnPrincipal(arn))), {
      StringEquals: { 'aws:PrincipalOrgID': organizationId },
      StringLike: { 'sts:SourceIdentity': `${SOURCE_IDENTITY_PREFIX}*` },
    });
  }

  override addToAssumeRolePolicy(document: PolicyDocument): void {
    document.addStatements(
      new PolicyStatement({
        actions: ['sts:AssumeRole', 'sts:SetSourceIdentity'],
        principals: [this.wrapped],
        conditions: this.conditions,
      }),
    );
  }
}

/** The member props, checked: messages name the prop and the value. */
function checkMemberProps(props: KeymatMemberRolesProps): Required<KeymatMemberRolesProps> {
  if (!ACCOUNT_ID.test(props.hubAccount)) {
    refuse('hubAccount', 'a 12-digit account id', props.hubAccount, 'KeymatMemberRoles');
  }
  const members = parsedProp('members', membersSchema, props.members, 'KeymatMemberRoles');
  const hubStackName = props.hubStackName ?? DEFAULT_HUB_STACK_NAME;
  new MemberAccess(members, hubStackName);
  const keyScope = props.keyScope ?? { tag: DEFAULT_KEY_TAG };
  // KeyScopeGrants checks the scope.
  new KeyScopeGrants(keyScope);
  return { hubAccount: props.hubAccount, hubStackName, members, keyScope };
}

/**
 * The three roles of a member account, with fixed names (core/organisation.ts) so that the hub finds them in every
 * account: `keymat-member-read`, which ValidateOrigin, VerifyPendingImport and the expiry scan assume to read keys,
 * `keymat-member-delete`, which only DeleteMaterial assumes, to delete imported material, and
 * `keymat-member-recovery`, which only the proving function assumes, to reimport a material the key holds. Each trusts
 * only those hub roles, by ARN, from within the organisation (`aws:PrincipalOrgID`) and with a SourceIdentity that begins `keymat-`,
 * so that the account's CloudTrail ties each call to its change; each reaches only the keys in scope.
 */
export class KeymatMemberRoles extends Construct {
  readonly readRole: AcknowledgingRole;
  readonly deleteRole: AcknowledgingRole;
  readonly recoveryRole: AcknowledgingRole;

  constructor(scope: Construct, id: string, props: KeymatMemberRolesProps) {
    const { hubAccount, hubStackName, members, keyScope } = checkMemberProps(props);
    super(scope, id);
    const keys = new KeyScopeGrants(keyScope, members.regions);
    const hubRole = (fn: MemberActingFunction) =>
      `arn:${Aws.PARTITION}:iam::${hubAccount}:role/${hubRoleName(hubStackName, fn)}`;
    const trusted = (role: MemberRole) =>
      (Object.keys(MEMBER_ROLE_OF) as MemberActingFunction[]).filter((fn) => MEMBER_ROLE_OF[fn] === role).map(hubRole);

    const memberRole = (roleId: string, roleName: MemberRole, description: string): AcknowledgingRole => {
      const role = new AcknowledgingRole(this, roleId, {
        roleName,
        description,
        assumedBy: new HubTaskRoles(trusted(roleName), members.organizationId),
      });
      const { keys: keyActions, proof, unscoped } = memberRoleActions(roleName);
      role.allow((grantee) => keys.grant(grantee, ...keyActions), keys.wildcardReason);
      for (const op of proof) {
        role.allow((grantee) => keys.grantWhere(grantee, PROOF_CONDITIONS[op] ?? {}, `kms:${op}`), keys.wildcardReason);
      }
      if (unscoped.length > 0) {
        role.allow(
          (grantee) => Grant.addToPrincipal({ grantee, actions: unscoped, resourceArns: ['*'] }),
          `${unscoped.join(' and ')} support no resource scoping (https://docs.aws.amazon.com/kms/latest/developerguide/kms-api-permissions-reference.html)`,
        );
      }
      return role;
    };
    this.readRole = memberRole(
      'ReadRole',
      MEMBER_READ_ROLE,
      `keymat: the hub ${hubStackName} (${hubAccount}) reads the keys in scope: validate, verify, scan`,
    );
    this.deleteRole = memberRole(
      'DeleteRole',
      MEMBER_DELETE_ROLE,
      `keymat: the hub ${hubStackName} (${hubAccount}) deletes imported key material of the keys in scope, for an approved change`,
    );
    this.recoveryRole = memberRole(
      'RecoveryRole',
      MEMBER_RECOVERY_ROLE,
      `keymat: the hub ${hubStackName} (${hubAccount}) proves that key material of the keys in scope can be reimported, before a deletion`,
    );
  }
}

/** A plain stack of the member roles: for the organisation's management account, which StackSets never deploy to. */
export class KeymatMemberRolesStack extends Stack {
  readonly roles: KeymatMemberRoles;

  constructor(scope: Construct, id: string, props: StackProps & KeymatMemberRolesProps) {
    // Before super: a refused value leaves nothing in the tree.
    checkMemberProps(props);
    super(scope, id, props);
    this.roles = new KeymatMemberRoles(this, 'MemberRoles', props);
  }
}

/** An organisation root id (`r-` and 4 to 32 lower-case letters or digits). */
const ROOT_ID = /^r-[0-9a-z]{4,32}$/;

/** The StackSet's name, one per organisation: its stack instances hold the member roles, whose names are fixed too. */
export const MEMBER_STACK_SET_NAME = 'keymat-member-roles';

export interface KeymatMembersStackProps extends StackProps, KeymatMemberRolesProps {
  /**
   * The organisation's root (`r-…`), which the StackSet targets when `members` names no OUs: every account.
   * @default none: `members.organizationalUnits` must be set
   */
  readonly organizationRootId?: string;
  /**
   * Deploys the StackSet from a delegated administrator of CloudFormation StackSets rather than from the management
   * account.
   * @default false
   */
  readonly delegatedAdmin?: boolean;
}

/**
 * The member roles in every account of the organisation, or of its chosen OUs: a CloudFormation StackSet with
 * service-managed permissions (cdk-stacksets' `StackSet` over a `StackSetStack` of `KeymatMemberRoles`), deployed
 * automatically to accounts that join the targets and removed from those that leave. One Region is enough, this
 * stack's own: IAM roles are global. Service-managed StackSets skip the management account: deploy
 * `KeymatMemberRolesStack` there.
 */
export class KeymatMembersStack extends Stack {
  // Typed as aws-cdk-lib's own classes: the construct library's typings name no package its users would not have.
  /** The StackSet (cdk-stacksets' `StackSet`). */
  readonly stackSet: Resource;
  /** The template of every stack instance (cdk-stacksets' `StackSetStack`). */
  readonly template: Stack;

  constructor(scope: Construct, id: string, props: KeymatMembersStackProps) {
    // Before super: a refused value leaves nothing in the tree.
    const { members } = checkMemberProps(props);
    const units = members.organizationalUnits ?? [];
    const { organizationRootId } = props;
    if (organizationRootId !== undefined && !ROOT_ID.test(organizationRootId)) {
      refuse('organizationRootId', 'a root id such as r-ab12', organizationRootId, 'KeymatMembersStack');
    }
    const targets = units.length > 0 ? units : organizationRootId === undefined ? [] : [organizationRootId];
    if (targets.length === 0) {
      throw new ConfigurationError(
        'KeymatMembersStack: organizationRootId must be set when members names no organizationalUnits: the StackSet then targets the root (every account)',
      );
    }
    super(scope, id, props);
    const template = new StackSetStack(this, 'MemberRolesTemplate');
    this.template = template;
    new KeymatMemberRoles(template, 'MemberRoles', props);
    this.stackSet = new StackSet(this, 'MemberRoles', {
      stackSetName: MEMBER_STACK_SET_NAME,
      description: `keymat: the member roles the hub ${props.hubStackName ?? DEFAULT_HUB_STACK_NAME} (${props.hubAccount}) assumes`,
      template: StackSetTemplate.fromStackSetStack(template),
      target: StackSetTarget.fromOrganizationalUnits({
        regions: [this.region],
        organizationalUnits: targets,
        ...(units.length > 0 && members.accounts && { additionalAccounts: members.accounts }),
      }),
      deploymentType: DeploymentType.serviceManaged({
        autoDeployEnabled: true,
        // An account that leaves the targets loses the roles: nothing outside the members should trust the hub.
        autoDeployRetainStacks: false,
        delegatedAdmin: props.delegatedAdmin ?? false,
      }),
      capabilities: [Capability.NAMED_IAM],
    });
  }
}
