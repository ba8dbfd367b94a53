import { Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks, ServerlessChecks } from 'cdk-nag';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FLEET_SCAN_STATE_MACHINE_OUTPUT } from '../../../core/naming';
import {
  MEMBER_DELETE_ROLE,
  MEMBER_READ_ROLE,
  MEMBER_RECOVERY_ROLE,
  type ApprovalRule,
  type Members,
} from '../../../core/organisation';
import { KeymatStack, type KeymatStackProps } from '../../../infra/keymat-stack';
import {
  KeymatMemberRolesStack,
  KeymatMembersStack,
  MEMBER_STACK_SET_NAME,
  type KeymatMembersStackProps,
} from '../../../infra/members';
import { grantsOf, keymatStack as synth, propsOf, statementsOf, testApp } from '../../helpers/cdk-stacks';

/**
 * keymat across an organisation, in CDK: the hub with members (its acting functions' fixed role names, their grants to
 * assume the member roles within the organisation, ValidateOrigin's Organizations reads and environment), and the
 * member roles' stacks (the StackSet and the management account's plain stack): roles, trust, conditions, partitions.
 */
const HUB = '111122223333';
const ORG = 'o-a1b2c3d4e5';
const OU = 'ou-ab12-cd34ef56';
const MEMBERS: Members = { organizationId: ORG, organizationalUnits: [OU], regions: ['eu-west-1', 'us-east-1'] };
const PRODUCTION: ApprovalRule = {
  name: 'production',
  match: { organizationalUnit: OU },
  quorum: 2,
  approvers: [`arn:aws:iam::${HUB}:role/SecOps-*`, `arn:aws:iam::${HUB}:user/carol`],
};
const ACTING = ['ValidateOrigin', 'VerifyPendingImport', 'ExpiryScan', 'OrgDoctor', 'DeleteMaterial'] as const;

type Resource = { Properties: Record<string, any> };
const functionOf = (t: Template, name: string): Resource =>
  (
    Object.entries(t.findResources('AWS::Lambda::Function')).find(([id]) => id.startsWith(name)) as [string, Resource]
  )[1];
const roleOf = (t: Template, name: string): Resource =>
  t.findResources('AWS::IAM::Role')[functionOf(t, name).Properties.Role['Fn::GetAtt'][0]] as Resource;
const memberRoleArn = (role: string) => ({
  'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, `:iam::*:role/${role}`]],
});

describe('a hub with members', () => {
  /** The organisation's accounts or OUs (`account`, `ou`) as the hub's grants name them. */
  const organizations = (resource: string) => ({
    'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, `:organizations::*:${resource}/${ORG}/*`]],
  });
  const { stack, template } = synth({ members: JSON.stringify(MEMBERS), approvalRules: JSON.stringify([PRODUCTION]) });

  it("names each acting function's role keymat-<stack>-<function>, and no other role", () => {
    for (const name of ACTING) expect(roleOf(template, name).Properties.RoleName).toBe(`keymat-Keymat-${name}`);
    for (const name of ['CheckState', 'RequestApproval', 'NotifyOutcome', 'Gateway', 'ApprovalPage']) {
      expect(roleOf(template, name).Properties.RoleName).toBeUndefined();
    }
  });

  it("lets the hub's functions call its own tagged keys in its Region and in every member Region", () => {
    const keysIn = (region: unknown) => ({
      'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':kms:', region, ':', { Ref: 'AWS::AccountId' }, ':key/*']],
    });
    const [deletion] = grantsOf(template, 'DeleteMaterial', 'kms:DeleteImportedKeyMaterial');
    expect(deletion?.Resource).toEqual([
      keysIn({ Ref: 'AWS::Region' }),
      ...MEMBERS.regions.map((region) =>
        expect.objectContaining({
          'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, `:kms:${region}:`, { Ref: 'AWS::AccountId' }, ':key/*']],
        }),
      ),
    ]);
  });

  it('lets the reading functions assume the member read role, and DeleteMaterial the delete role, in the organisation only', () => {
    const assume = (role: string) => [
      {
        Action: ['sts:AssumeRole', 'sts:SetSourceIdentity'],
        Effect: 'Allow',
        Resource: memberRoleArn(role),
        Condition: { StringEquals: { 'aws:ResourceOrgID': ORG } },
      },
    ];
    for (const name of ['ValidateOrigin', 'VerifyPendingImport', 'ExpiryScan', 'OrgDoctor']) {
      expect(grantsOf(template, name, 'sts:AssumeRole')).toEqual(assume(MEMBER_READ_ROLE));
    }
    expect(grantsOf(template, 'DeleteMaterial', 'sts:AssumeRole')).toEqual(assume(MEMBER_DELETE_ROLE));
    for (const name of ['CheckState', 'RequestApproval', 'NotifyOutcome', 'Gateway', 'ApprovalPage']) {
      expect(statementsOf(template, name).filter((s) => JSON.stringify(s.Action).includes('sts:'))).toEqual([]);
    }
  });

  it("lets ValidateOrigin, of the tasks, alone describe the organisation's accounts and OUs, by the organisation's id", () => {
    expect(
      statementsOf(template, 'ValidateOrigin').filter((s) => JSON.stringify(s.Action).includes('organizations:')),
    ).toEqual([
      expect.objectContaining({
        Action: ['organizations:DescribeAccount', 'organizations:ListParents'],
        Resource: organizations('account'),
      }),
      expect.objectContaining({
        Action: ['organizations:DescribeOrganizationalUnit', 'organizations:ListParents'],
        Resource: organizations('ou'),
      }),
    ]);
    for (const name of ['VerifyPendingImport', 'DeleteMaterial', 'Gateway']) {
      expect(JSON.stringify(statementsOf(template, name))).not.toContain('organizations:');
    }
    // The scan lists the accounts (test/unit/infra/fleet-scan.cdk.ts), and describes none.
    expect(JSON.stringify(statementsOf(template, 'ExpiryScan'))).not.toMatch(/organizations:Describe|ListParents/);
  });

  it('gives the fleet doctor a role that may assume the member read role and read the organisation, and nothing else', () => {
    const statements = statementsOf(template, 'OrgDoctor').filter((s) => !JSON.stringify(s.Action).includes('logs:'));
    expect(statements).toEqual([
      expect.objectContaining({
        Action: ['sts:AssumeRole', 'sts:SetSourceIdentity'],
        Resource: memberRoleArn(MEMBER_READ_ROLE),
        Condition: { StringEquals: { 'aws:ResourceOrgID': ORG } },
      }),
      expect.objectContaining({
        Action: ['organizations:DescribeOrganization', 'organizations:ListAccounts'],
        Resource: '*',
      }),
      expect.objectContaining({
        Action: ['organizations:DescribeAccount', 'organizations:ListParents'],
        Resource: organizations('account'),
      }),
      expect.objectContaining({
        Action: ['organizations:DescribeOrganizationalUnit', 'organizations:ListParents'],
        Resource: organizations('ou'),
      }),
    ]);
    const variables = functionOf(template, 'OrgDoctor').Properties.Environment.Variables;
    expect(JSON.parse(variables.KEYMAT_MEMBERS)).toEqual(MEMBERS);
    expect(variables).toMatchObject({
      KEYMAT_ACCOUNT_ID: { Ref: 'AWS::AccountId' },
      KEYMAT_PARTITION: { Ref: 'AWS::Partition' },
    });
  });

  it("lets the operators' policies invoke the fleet doctor, and names it in an output", () => {
    const doctorId = Object.keys(template.findResources('AWS::Lambda::Function')).find((id) =>
      id.startsWith('OrgDoctor'),
    );
    for (const policy of Object.values(template.findResources('AWS::IAM::ManagedPolicy'))) {
      expect(policy.Properties.PolicyDocument.Statement).toContainEqual({
        Action: 'lambda:InvokeFunction',
        Effect: 'Allow',
        Resource: { 'Fn::GetAtt': [doctorId, 'Arn'] },
      });
    }
    template.hasOutput('OrgDoctorFunctionName', { Value: { Ref: doctorId } });
  });

  it("lets the operators' policies list and describe the fleet scan's runs, nothing more of it, and names it in an output", () => {
    const [fleetId] = Object.keys(template.findResources('AWS::StepFunctions::StateMachine')).filter((id) =>
      id.includes('FleetScan'),
    );
    const runs = {
      'Fn::Join': [
        '',
        [
          'arn:',
          { Ref: 'AWS::Partition' },
          ':states:',
          { Ref: 'AWS::Region' },
          ':',
          { Ref: 'AWS::AccountId' },
          ':execution:',
          { 'Fn::Select': [6, { 'Fn::Split': [':', { Ref: fleetId }] }] },
          ':*',
        ],
      ],
    };
    for (const policy of Object.values(template.findResources('AWS::IAM::ManagedPolicy'))) {
      const fleetStatements = (policy.Properties.PolicyDocument.Statement as { Resource: unknown }[]).filter((s) =>
        JSON.stringify(s.Resource).includes(fleetId!),
      );
      expect(fleetStatements).toEqual([
        { Action: 'states:ListExecutions', Effect: 'Allow', Resource: { Ref: fleetId } },
        { Action: 'states:DescribeExecution', Effect: 'Allow', Resource: runs },
      ]);
    }
    template.hasOutput(FLEET_SCAN_STATE_MACHINE_OUTPUT, { Value: { Ref: fleetId } });
  });

  it("writes the members and the approval rules into ValidateOrigin's environment", () => {
    const variables = functionOf(template, 'ValidateOrigin').Properties.Environment.Variables;
    expect(JSON.parse(variables.KEYMAT_MEMBERS)).toEqual(MEMBERS);
    expect(JSON.parse(variables.KEYMAT_APPROVAL_RULES)).toEqual([PRODUCTION]);
  });

  it('leaves cdk-nag AwsSolutions and Serverless nothing unacknowledged', () => {
    for (const pack of [new AwsSolutionsChecks(stack.node.root), new ServerlessChecks(stack.node.root)]) {
      expect(pack.validateScope(stack).violations.map((v) => v.ruleName)).toEqual([]);
    }
  });
});

describe('a hub without members', () => {
  const { template } = synth();

  it('has no fleet doctor: no function, no output, nothing for the operators to invoke but the gateway', () => {
    expect(
      Object.keys(template.findResources('AWS::Lambda::Function')).filter((id) => id.startsWith('OrgDoctor')),
    ).toEqual([]);
    expect(Object.keys(template.findOutputs('*'))).not.toContain('OrgDoctorFunctionName');
    expect(JSON.stringify(template.findResources('AWS::IAM::ManagedPolicy'))).not.toContain('OrgDoctor');
  });

  it('has no fleet scan state machine, and so no output naming one', () => {
    expect(Object.keys(template.findOutputs('*'))).not.toContain(FLEET_SCAN_STATE_MACHINE_OUTPUT);
  });

  it('names no role, and grants no sts: or organizations: action', () => {
    for (const name of ACTING.filter((fn) => fn !== 'OrgDoctor')) {
      expect(roleOf(template, name).Properties.RoleName).toBeUndefined();
    }
    const text = JSON.stringify(template.findResources('AWS::IAM::Policy'));
    expect(text).not.toContain('sts:AssumeRole');
    expect(text).not.toContain('organizations:');
    expect(functionOf(template, 'ValidateOrigin').Properties.Environment.Variables).not.toHaveProperty(
      'KEYMAT_MEMBERS',
    );
  });
});

describe('the hub props of an organisation, checked before anything is built', () => {
  it.each<[string, KeymatStackProps, string]>([
    [
      'a malformed organisation id',
      { members: { ...MEMBERS, organizationId: 'org-1' } },
      'KeymatStack: members.organizationId: an organisation id such as o-a1b2c3d4e5; got',
    ],
    ['no Regions', { members: { ...MEMBERS, regions: [] } }, 'KeymatStack: members.regions'],
    [
      'approval rules without members',
      { approvalRules: [PRODUCTION] },
      'KeymatStack: approvalRules take effect only with members',
    ],
    [
      'a plain name among a rule’s approvers',
      { members: MEMBERS, approvalRules: [{ ...PRODUCTION, approvers: ['bob'] }] },
      'KeymatStack: approvalRules[0].approvers: "bob" must be a principal ARN or ARN pattern',
    ],
    [
      'one approver twice in a rule, in different case',
      {
        members: MEMBERS,
        approvalRules: [
          { ...PRODUCTION, approvers: [`arn:aws:iam::${HUB}:user/carol`, `arn:aws:iam::${HUB}:user/Carol`] },
        ],
      },
      `KeymatStack: approvalRules[0].approvers: "arn:aws:iam::${HUB}:user/carol" and "arn:aws:iam::${HUB}:user/Carol" are the same principal`,
    ],
    [
      'a rule quorum its approvers cannot reach',
      { members: MEMBERS, approvalRules: [{ ...PRODUCTION, quorum: 3 }] },
      'KeymatStack: approvalRules[0].quorum 3 cannot be reached by the 2 approvers listed',
    ],
    [
      'a malformed rule',
      { members: MEMBERS, approvalRules: [{ ...PRODUCTION, match: { organizationalUnit: 'production' } }] },
      'KeymatStack: approvalRules[0].match',
    ],
    [
      'two rules of one name',
      { members: MEMBERS, approvalRules: [PRODUCTION, { ...PRODUCTION, match: { account: HUB } }] },
      "KeymatStack: approvalRules[1].name 'production' names an earlier rule too",
    ],
  ])('refuses %s, naming the prop and the value, and builds no stack', (_label, props, message) => {
    const app = testApp();
    expect(() => new KeymatStack(app, 'Keymat', props)).toThrow(message);
    expect(app.node.tryFindChild('Keymat')).toBeUndefined();
  });

  it('refuses a hub stack name too long to name its task roles, naming it', () => {
    const name = 'KeymatHubForTheWholeOrganisationInEurope';
    expect(() => new KeymatStack(testApp(), name, { members: MEMBERS })).toThrow(
      `the hub stack name must be at most 37 characters of letters, digits and +=,.@_- with members, since it names the hub's task roles (keymat-${name}-ValidateOrigin); got '${name}'`,
    );
  });

  it('reads members and approval rules from JSON context, and refuses context that is not JSON', () => {
    const props = propsOf({ members: JSON.stringify(MEMBERS), approvalRules: JSON.stringify([PRODUCTION]) });
    expect(props.members).toEqual(MEMBERS);
    expect(props.approvalRules).toEqual([PRODUCTION]);
    expect(() => propsOf({ members: "{organizationId: 'o-a1b2c3d4e5'}" })).toThrow(
      "context members must be a JSON document; got '{organizationId: 'o-a1b2c3d4e5'}'",
    );
  });
});

/** The member roles' stacks in a fresh app, with the hub in account 111122223333. */
function memberStacks(props: Partial<KeymatMembersStackProps> = {}) {
  const app = testApp();
  const given = { hubAccount: HUB, members: MEMBERS, ...props };
  const members = new KeymatMembersStack(app, 'KeymatMembers', given);
  const management = new KeymatMemberRolesStack(app, 'KeymatManagementRoles', given);
  // The StackSet's template is an asset of its stack, not an artifact of its own: read from the synthesized output.
  Template.fromStack(members);
  const template = Template.fromJSON(
    JSON.parse(readFileSync(join(app.outdir, members.template.templateFile), 'utf8')) as Record<string, unknown>,
  );
  return { app, members, management, template };
}

describe('the member roles', () => {
  const { members, management, template } = memberStacks();
  const roles = Object.values(template.findResources('AWS::IAM::Role')) as Resource[];
  const role = (name: string) => roles.find((r) => r.Properties.RoleName === name)!;
  const policyOf = (name: string) => {
    const id = Object.entries(template.findResources('AWS::IAM::Role')).find(
      ([, r]) => (r as Resource).Properties.RoleName === name,
    )![0];
    return (Object.values(template.findResources('AWS::IAM::Policy')) as Resource[])
      .filter((p) => p.Properties.Roles.some((r: { Ref: string }) => r.Ref === id))
      .flatMap((p) => p.Properties.PolicyDocument.Statement);
  };
  const hubRole = (fn: string) => ({
    'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, `:iam::${HUB}:role/keymat-Keymat-${fn}`]],
  });
  const trust = (principals: unknown) => ({
    Version: '2012-10-17',
    Statement: [
      {
        Action: ['sts:AssumeRole', 'sts:SetSourceIdentity'],
        Effect: 'Allow',
        Principal: { AWS: principals },
        Condition: {
          StringEquals: { 'aws:PrincipalOrgID': ORG },
          StringLike: { 'sts:SourceIdentity': 'keymat-*' },
        },
      },
    ],
  });
  const taggedKeys = ['eu-west-1', 'us-east-1'].map((region) => ({
    'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, `:kms:${region}:`, { Ref: 'AWS::AccountId' }, ':key/*']],
  }));

  it('are three, with the fixed names the hub assumes', () => {
    expect(roles.map((r) => r.Properties.RoleName).sort()).toEqual([
      MEMBER_DELETE_ROLE,
      MEMBER_READ_ROLE,
      MEMBER_RECOVERY_ROLE,
    ]);
  });

  it("trust only the hub's reading task roles and its fleet doctor's (read) and DeleteMaterial's (delete), by ARN, within the organisation, with a keymat SourceIdentity", () => {
    expect(role(MEMBER_READ_ROLE).Properties.AssumeRolePolicyDocument).toEqual(
      trust([hubRole('ValidateOrigin'), hubRole('VerifyPendingImport'), hubRole('ExpiryScan'), hubRole('OrgDoctor')]),
    );
    expect(role(MEMBER_DELETE_ROLE).Properties.AssumeRolePolicyDocument).toEqual(trust(hubRole('DeleteMaterial')));
  });

  it('read the tagged keys in the members’ Regions, list keys and aliases, and nothing else', () => {
    expect(policyOf(MEMBER_READ_ROLE)).toEqual([
      {
        Action: ['kms:DescribeKey', 'kms:ListKeyRotations', 'kms:GetKeyLastUsage', 'kms:ListResourceTags'],
        Effect: 'Allow',
        Resource: taggedKeys,
        Condition: { StringEquals: { 'aws:ResourceTag/keymat:managed': 'true' } },
      },
      { Action: ['kms:ListKeys', 'kms:ListAliases'], Effect: 'Allow', Resource: '*' },
    ]);
  });

  it('delete imported material of the tagged keys only, reading what DeleteMaterial reads', () => {
    expect(policyOf(MEMBER_DELETE_ROLE)).toEqual([
      {
        Action: ['kms:DescribeKey', 'kms:ListKeyRotations', 'kms:DeleteImportedKeyMaterial'],
        Effect: 'Allow',
        Resource: taggedKeys,
        Condition: { StringEquals: { 'aws:ResourceTag/keymat:managed': 'true' } },
      },
    ]);
  });

  it('prove recovery of the tagged keys only, as a proof does, trusting only the proving function', () => {
    expect(role(MEMBER_RECOVERY_ROLE).Properties.AssumeRolePolicyDocument).toEqual(trust(hubRole('ProveRecovery')));
    const tag = { 'aws:ResourceTag/keymat:managed': 'true' };
    expect(policyOf(MEMBER_RECOVERY_ROLE)).toEqual([
      {
        Action: ['kms:DescribeKey', 'kms:ListKeyRotations'],
        Effect: 'Allow',
        Resource: taggedKeys,
        Condition: { StringEquals: tag },
      },
      {
        Action: 'kms:GetParametersForImport',
        Effect: 'Allow',
        Resource: taggedKeys,
        Condition: {
          StringEquals: {
            ...tag,
            'kms:KeyOrigin': 'EXTERNAL',
            'kms:WrappingKeySpec': 'RSA_4096',
            'kms:WrappingAlgorithm': ['RSAES_OAEP_SHA_256', 'RSA_AES_KEY_WRAP_SHA_256'],
          },
        },
      },
      {
        Action: 'kms:ImportKeyMaterial',
        Effect: 'Allow',
        Resource: taggedKeys,
        Condition: {
          StringEquals: {
            ...tag,
            'kms:KeyOrigin': 'EXTERNAL',
            'kms:ExpirationModel': ['KEY_MATERIAL_EXPIRES', 'KEY_MATERIAL_DOES_NOT_EXPIRE'],
          },
        },
      },
    ]);
  });

  it('take listed key ARNs as the scope', () => {
    const key = 'arn:aws:kms:eu-west-1:444455556666:key/1234abcd-12ab-34cd-56ef-1234567890ab';
    const scoped = memberStacks({ keyScope: { keys: [key] } }).template;
    scoped.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Action: Match.arrayWith(['kms:DeleteImportedKeyMaterial']), Resource: key }),
        ]),
      },
    });
  });

  it('are the same in the management account’s plain stack', () => {
    const plain = Template.fromStack(management);
    expect(plain.toJSON().Resources).toEqual(template.toJSON().Resources);
  });

  it('leave cdk-nag AwsSolutions and Serverless nothing unacknowledged, in the StackSet, its template and the plain stack', () => {
    for (const stack of [members, members.template, management] as Stack[]) {
      for (const pack of [new AwsSolutionsChecks(stack.node.root), new ServerlessChecks(stack.node.root)]) {
        expect([stack.node.id, pack.validateScope(stack).violations.map((v) => v.ruleName)]).toEqual([
          stack.node.id,
          [],
        ]);
      }
    }
  });
});

describe('the StackSet', () => {
  it('deploys the roles with service-managed permissions to the OUs, automatically to new accounts, in one Region', () => {
    const { members } = memberStacks({ members: { ...MEMBERS, accounts: ['444455556666'] } });
    Template.fromStack(members).hasResourceProperties('AWS::CloudFormation::StackSet', {
      StackSetName: MEMBER_STACK_SET_NAME,
      PermissionModel: 'SERVICE_MANAGED',
      CallAs: 'SELF',
      AutoDeployment: { Enabled: true, RetainStacksOnAccountRemoval: false },
      Capabilities: ['CAPABILITY_NAMED_IAM'],
      StackInstancesGroup: [
        {
          DeploymentTargets: { OrganizationalUnitIds: [OU], Accounts: ['444455556666'], AccountFilterType: 'UNION' },
          Regions: [{ Ref: 'AWS::Region' }],
        },
      ],
    });
  });

  it('targets the root when members names no OU', () => {
    const { members } = memberStacks({
      members: { organizationId: ORG, regions: ['eu-west-1'] },
      organizationRootId: 'r-ab12',
      delegatedAdmin: true,
    });
    Template.fromStack(members).hasResourceProperties('AWS::CloudFormation::StackSet', {
      CallAs: 'DELEGATED_ADMIN',
      StackInstancesGroup: [
        Match.objectLike({ DeploymentTargets: Match.objectLike({ OrganizationalUnitIds: ['r-ab12'] }) }),
      ],
    });
  });

  it.each<[string, Partial<KeymatMembersStackProps>, string]>([
    [
      'no OU and no root',
      { members: { organizationId: ORG, regions: ['eu-west-1'] } },
      'KeymatMembersStack: organizationRootId must be set when members names no organizationalUnits',
    ],
    [
      'a malformed root',
      { organizationRootId: 'root' },
      "organizationRootId must be a root id such as r-ab12; got 'root'",
    ],
    [
      'a malformed hub account',
      { hubAccount: '1111' },
      "KeymatMemberRoles: hubAccount must be a 12-digit account id; got '1111'",
    ],
    [
      'members without Regions',
      { members: { organizationId: ORG, organizationalUnits: [OU], regions: [] } },
      'KeymatMemberRoles: members.regions',
    ],
  ])('refuses %s, naming it, and builds no stack', (_label, props, message) => {
    const app = testApp();
    expect(() => new KeymatMembersStack(app, 'KeymatMembers', { hubAccount: HUB, members: MEMBERS, ...props })).toThrow(
      message,
    );
    expect(app.node.tryFindChild('KeymatMembers')).toBeUndefined();
  });
});

describe('the member roles in GovCloud', () => {
  const app = testApp();
  const stack = new KeymatMemberRolesStack(app, 'KeymatManagementRoles', {
    env: { account: '444455556666', region: 'us-gov-west-1' },
    hubAccount: HUB,
    members: { organizationId: ORG, regions: ['us-gov-west-1', 'us-gov-east-1'] },
  });
  const text = JSON.stringify(Template.fromStack(stack).toJSON());

  it("holds no arn:aws: literal: the hub's roles and the keys are in the deployment's partition", () => {
    expect(text).not.toMatch(/arn:aws:/);
    expect(text).toContain(`{"Ref":"AWS::Partition"},":iam::${HUB}:role/keymat-Keymat-DeleteMaterial"`);
    expect(text).toContain(':kms:us-gov-east-1:');
  });
});
