import { runSimulation, type Simulation } from '@cloud-copilot/iam-simulate';
import { Template } from 'aws-cdk-lib/assertions';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  MEMBER_DELETE_ROLE,
  MEMBER_READ_ROLE,
  MEMBER_RECOVERY_ROLE,
  sourceIdentity,
  type Members,
} from '../../../core/organisation';
import { FLEET_RESULTS_PREFIX } from '../../../core/naming';
import { KeymatMembersStack } from '../../../infra/members';
import { keymatStack, testApp } from '../../helpers/cdk-stacks';

/**
 * The organisation's permission model, proven by simulating IAM's evaluation across accounts: the hub's roles
 * (identity policies, from the hub synthesized with members) against the member roles' trust policies (from the
 * StackSet's template), and the member roles' own policies against a member account's keys. Only the acting task
 * roles reach a member role, DeleteMaterial's alone the delete role, each only with a keymat SourceIdentity; nothing
 * outside the hub does; and each member role may make exactly the calls its tasks make. The fleet doctor's role may
 * assume the read role alone, and the operators' policies may invoke the doctor and read the fleet scan's runs, and
 * nothing new besides (they start no fleet scan).
 */

const HUB = '111122223333';
const MEMBER = '444455556666';
const OUTSIDER = '999988887777';
const ORG = 'o-a1b2c3d4e5';
const REGION = 'eu-west-1';
const MEMBERS: Members = { organizationId: ORG, organizationalUnits: ['ou-ab12-cd34ef56'], regions: [REGION] };

type PolicyDocument = { Version?: string; Statement: Record<string, unknown>[] };
type Resource = { Type: string; Properties: Record<string, any> };

/** Resolves the pseudo parameters and joins of a template value, in an account of the `aws` partition. */
function resolveIn(account: string, node: unknown): unknown {
  if (Array.isArray(node)) return node.map((n) => resolveIn(account, n));
  if (node === null || typeof node !== 'object') return node;
  const o = node as Record<string, unknown>;
  if ('Ref' in o) {
    const pseudo: Record<string, string> = {
      'AWS::Partition': 'aws',
      'AWS::AccountId': account,
      'AWS::Region': REGION,
      'AWS::StackId': `arn:aws:cloudformation:${REGION}:${account}:stack/Keymat/0a1b2c3d-1234-5678-9abc-0123456789ab`,
    };
    const value = pseudo[o.Ref as string];
    if (value === undefined) throw new Error(`no value for Ref ${String(o.Ref)}`);
    return value;
  }
  if ('Fn::Join' in o) {
    const [delimiter, items] = o['Fn::Join'] as [string, unknown[]];
    return (resolveIn(account, items) as string[]).join(delimiter);
  }
  return Object.fromEntries(Object.entries(o).map(([k, v]) => [k, resolveIn(account, v)]));
}

// The hub with members: its roles' statements about STS and Organizations (the only ones that can reach another
// account's role), by function.
const hub = keymatStack({ members: JSON.stringify(MEMBERS) }).template.toJSON().Resources as Record<string, Resource>;
function hubRole(fn: string): { arn: string; policy: PolicyDocument } {
  const [, lambda] = Object.entries(hub).find(([id, r]) => r.Type === 'AWS::Lambda::Function' && id.startsWith(fn))!;
  const roleId = lambda.Properties.Role['Fn::GetAtt'][0] as string;
  const name = (hub[roleId]!.Properties.RoleName as string | undefined) ?? roleId;
  const statements = Object.values(hub)
    .filter((r) => r.Type === 'AWS::IAM::Policy' && r.Properties.Roles.some((x: { Ref: string }) => x.Ref === roleId))
    .flatMap((r) => r.Properties.PolicyDocument.Statement as Record<string, unknown>[])
    .filter((s) => /"(sts|organizations):/.test(JSON.stringify(s.Action)));
  return {
    arn: `arn:aws:sts::${HUB}:assumed-role/${name}/keymat-CHG-1`,
    policy: { Version: '2012-10-17', Statement: resolveIn(HUB, statements) as Record<string, unknown>[] },
  };
}

// The StackSet's template: the member roles as a member account holds them.
const app = testApp();
const membersStack = new KeymatMembersStack(app, 'KeymatMembers', { hubAccount: HUB, members: MEMBERS });
Template.fromStack(membersStack);
const memberTemplate = JSON.parse(readFileSync(join(app.outdir, membersStack.template.templateFile), 'utf8')) as {
  Resources: Record<string, Resource>;
};
function memberRole(name: string): { arn: string; trust: PolicyDocument; policy: PolicyDocument } {
  const [roleId, role] = Object.entries(memberTemplate.Resources).find(
    ([, r]) => r.Type === 'AWS::IAM::Role' && r.Properties.RoleName === name,
  )!;
  const statements = Object.values(memberTemplate.Resources)
    .filter((r) => r.Type === 'AWS::IAM::Policy' && r.Properties.Roles.some((x: { Ref: string }) => x.Ref === roleId))
    .flatMap((r) => r.Properties.PolicyDocument.Statement as Record<string, unknown>[]);
  return {
    arn: `arn:aws:sts::${MEMBER}:assumed-role/${name}/keymat-CHG-1`,
    trust: resolveIn(MEMBER, role.Properties.AssumeRolePolicyDocument) as PolicyDocument,
    policy: { Version: '2012-10-17', Statement: resolveIn(MEMBER, statements) as Record<string, unknown>[] },
  };
}
const readRole = memberRole(MEMBER_READ_ROLE);
const deleteRole = memberRole(MEMBER_DELETE_ROLE);
const recoveryRole = memberRole(MEMBER_RECOVERY_ROLE);

interface Probe {
  action: string;
  resource: string;
  account: string;
  context: Record<string, string>;
  resourcePolicy?: PolicyDocument;
}

const SOURCE_IDENTITY = { 'sts:SourceIdentity': sourceIdentity('CHG-1') };
const assume = (
  action: string,
  role: { trust: PolicyDocument },
  name: string,
  account = MEMBER,
  context: Record<string, string> = SOURCE_IDENTITY,
): Probe => ({
  action,
  resource: `arn:aws:iam::${account}:role/${name}`,
  account,
  context: { 'aws:ResourceOrgID': account === OUTSIDER ? 'o-zz9y8x7w6v' : ORG, ...context },
  resourcePolicy: role.trust,
});

/** The calls across accounts probed, by label. */
const ASSUME_PROBES = {
  'sts:AssumeRole (read role)': assume('sts:AssumeRole', readRole, MEMBER_READ_ROLE),
  'sts:SetSourceIdentity (read role)': assume('sts:SetSourceIdentity', readRole, MEMBER_READ_ROLE),
  'sts:AssumeRole (read role, no SourceIdentity)': assume('sts:AssumeRole', readRole, MEMBER_READ_ROLE, MEMBER, {}),
  'sts:AssumeRole (read role, SourceIdentity not keymat-)': assume(
    'sts:AssumeRole',
    readRole,
    MEMBER_READ_ROLE,
    MEMBER,
    {
      'sts:SourceIdentity': 'alice',
    },
  ),
  'sts:AssumeRole (delete role)': assume('sts:AssumeRole', deleteRole, MEMBER_DELETE_ROLE),
  'sts:SetSourceIdentity (delete role)': assume('sts:SetSourceIdentity', deleteRole, MEMBER_DELETE_ROLE),
  'sts:AssumeRole (recovery role)': assume('sts:AssumeRole', recoveryRole, MEMBER_RECOVERY_ROLE),
  'sts:SetSourceIdentity (recovery role)': assume('sts:SetSourceIdentity', recoveryRole, MEMBER_RECOVERY_ROLE),
  'sts:AssumeRole (delete role, outside the organisation)': assume(
    'sts:AssumeRole',
    deleteRole,
    MEMBER_DELETE_ROLE,
    OUTSIDER,
  ),
} satisfies Record<string, Probe>;
type AssumeProbe = keyof typeof ASSUME_PROBES;

interface Caller {
  principal: string;
  orgId: string;
  policy: PolicyDocument;
  allowed: readonly AssumeProbe[];
}
const ADMIN: PolicyDocument = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }] };
const READS: AssumeProbe[] = ['sts:AssumeRole (read role)', 'sts:SetSourceIdentity (read role)'];
const caller = (fn: string, allowed: readonly AssumeProbe[]): Caller => {
  const { arn, policy } = hubRole(fn);
  return { principal: arn, orgId: ORG, policy, allowed };
};
const CALLERS: Record<string, Caller> = {
  ValidateOrigin: caller('ValidateOrigin', READS),
  VerifyPendingImport: caller('VerifyPendingImport', READS),
  ExpiryScan: caller('ExpiryScan', READS),
  OrgDoctor: caller('OrgDoctor', READS),
  DeleteMaterial: caller('DeleteMaterial', ['sts:AssumeRole (delete role)', 'sts:SetSourceIdentity (delete role)']),
  ProveRecovery: caller('ProveRecovery', ['sts:AssumeRole (recovery role)', 'sts:SetSourceIdentity (recovery role)']),
  'Gateway (a hub role of no acting task)': caller('Gateway', []),
  'NotifyOutcome (a hub role of no acting task)': caller('NotifyOutcome', []),
  // Everything IAM can give, and still not trusted: the trust names the task roles.
  'an administrator of the hub account': {
    principal: `arn:aws:sts::${HUB}:assumed-role/Administrator/alice`,
    orgId: ORG,
    policy: ADMIN,
    allowed: [],
  },
  "another account's role named as DeleteMaterial's": {
    principal: `arn:aws:sts::${OUTSIDER}:assumed-role/keymat-Keymat-DeleteMaterial/keymat-CHG-1`,
    orgId: 'o-zz9y8x7w6v',
    policy: ADMIN,
    allowed: [],
  },
};

const MEMBER_KEY = `arn:aws:kms:${REGION}:${MEMBER}:key/1234abcd-12ab-34cd-56ef-1234567890ab`;
const TAGGED = { 'aws:ResourceTag/keymat:managed': 'true' };
const DEFAULT_KEY_POLICY: PolicyDocument = {
  Version: '2012-10-17',
  Statement: [{ Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${MEMBER}:root` }, Action: 'kms:*', Resource: '*' }],
};
const onKey = (action: string, context: Record<string, string> = TAGGED): Probe => ({
  action,
  resource: MEMBER_KEY,
  account: MEMBER,
  context,
  resourcePolicy: DEFAULT_KEY_POLICY,
});
/** The calls in a member account probed, by label: what the tasks make, and what no member role may make. */
const KMS_PROBES = {
  'kms:DescribeKey': onKey('kms:DescribeKey'),
  'kms:ListKeyRotations': onKey('kms:ListKeyRotations'),
  'kms:GetKeyLastUsage': onKey('kms:GetKeyLastUsage'),
  'kms:ListResourceTags': onKey('kms:ListResourceTags'),
  'kms:ListKeys': { action: 'kms:ListKeys', resource: '*', account: MEMBER, context: {} },
  'kms:ListAliases': { action: 'kms:ListAliases', resource: '*', account: MEMBER, context: {} },
  'kms:DeleteImportedKeyMaterial': onKey('kms:DeleteImportedKeyMaterial'),
  'kms:DeleteImportedKeyMaterial (untagged key)': onKey('kms:DeleteImportedKeyMaterial', {}),
  'kms:DescribeKey (untagged key)': onKey('kms:DescribeKey', {}),
  'kms:ImportKeyMaterial': onKey('kms:ImportKeyMaterial'),
  'kms:ImportKeyMaterial (proof)': onKey('kms:ImportKeyMaterial', {
    ...TAGGED,
    'kms:KeyOrigin': 'EXTERNAL',
    'kms:ExpirationModel': 'KEY_MATERIAL_DOES_NOT_EXPIRE',
  }),
  'kms:GetParametersForImport (proof)': onKey('kms:GetParametersForImport', {
    ...TAGGED,
    'kms:KeyOrigin': 'EXTERNAL',
    'kms:WrappingKeySpec': 'RSA_4096',
    'kms:WrappingAlgorithm': 'RSAES_OAEP_SHA_256',
  }),
  'kms:GetParametersForImport (RSA_2048)': onKey('kms:GetParametersForImport', {
    ...TAGGED,
    'kms:KeyOrigin': 'EXTERNAL',
    'kms:WrappingKeySpec': 'RSA_2048',
    'kms:WrappingAlgorithm': 'RSAES_OAEP_SHA_256',
  }),
  'kms:ScheduleKeyDeletion': onKey('kms:ScheduleKeyDeletion'),
  'kms:DisableKey': onKey('kms:DisableKey'),
  'kms:PutKeyPolicy': onKey('kms:PutKeyPolicy'),
  'kms:Decrypt': onKey('kms:Decrypt'),
} satisfies Record<string, Probe>;
type KmsProbe = keyof typeof KMS_PROBES;

const MEMBER_ROLES: Record<string, { role: typeof readRole; allowed: readonly KmsProbe[] }> = {
  [MEMBER_READ_ROLE]: {
    role: readRole,
    allowed: [
      'kms:DescribeKey',
      'kms:ListKeyRotations',
      'kms:GetKeyLastUsage',
      'kms:ListResourceTags',
      'kms:ListKeys',
      'kms:ListAliases',
    ],
  },
  [MEMBER_DELETE_ROLE]: {
    role: deleteRole,
    allowed: ['kms:DescribeKey', 'kms:ListKeyRotations', 'kms:DeleteImportedKeyMaterial'],
  },
  [MEMBER_RECOVERY_ROLE]: {
    role: recoveryRole,
    allowed: [
      'kms:DescribeKey',
      'kms:ListKeyRotations',
      'kms:GetParametersForImport (proof)',
      'kms:ImportKeyMaterial (proof)',
    ],
  },
};

async function simulate(principal: string, policy: PolicyDocument, probe: Probe, orgId: string): Promise<boolean> {
  const simulation: Simulation = {
    request: {
      principal,
      action: probe.action,
      resource: { resource: probe.resource, accountId: probe.account },
      contextVariables: { 'aws:PrincipalOrgID': orgId, ...probe.context },
    },
    identityPolicies: [{ name: 'policy', policy }],
    serviceControlPolicies: [],
    resourceControlPolicies: [],
    ...(probe.resourcePolicy && { resourcePolicy: probe.resourcePolicy }),
  };
  const response = await runSimulation(simulation, {});
  if (response.resultType === 'error') {
    throw new Error(`simulating ${probe.action} on ${probe.resource}: ${JSON.stringify(response.errors)}`);
  }
  return response.overallResult === 'Allowed';
}

// The fleet scan's calls in the hub: the scan function lists the organisation's accounts and reads each run's results,
// and the fleet state machine starts, reads and stops its Distributed Map's children and writes their results.
const MANAGEMENT = '777788889999';
const FLEET_MACHINE = `arn:aws:states:${REGION}:${HUB}:stateMachine:Keymat-fleet-scan`;
const DELETION_MACHINE = `arn:aws:states:${REGION}:${HUB}:stateMachine:Keymat-deletion`;
/** A run of the fleet scan: what `keymat scan --org` lists and reads the summary of. */
const FLEET_RUN = `arn:aws:states:${REGION}:${HUB}:execution:Keymat-fleet-scan:0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d`;
/** The hub's resources by logical id, as ARNs: the state machines by their names, the rest by their ids. */
const HUB_RESOURCES: Record<string, string> = Object.fromEntries(
  Object.entries(hub).map(([id, r]) => [
    id,
    r.Type === 'AWS::StepFunctions::StateMachine'
      ? id.startsWith('ExpiryScanJobFleetScan')
        ? FLEET_MACHINE
        : DELETION_MACHINE
      : r.Type === 'AWS::Lambda::Function'
        ? `arn:aws:lambda:${REGION}:${HUB}:function:${id}`
        : `arn:aws:${r.Type.split('::')[1]!.toLowerCase()}:${REGION}:${HUB}:${id}`,
  ]),
);
/** The fleet scan's results bucket: its logical id, which stands for its name. */
const RESULTS_BUCKET = Object.keys(hub).find((id) => hub[id]!.Type === 'AWS::S3::Bucket')!;
/** Resolves a hub template value, its resources' ARNs (the fleet state machine's by its name) included. */
function resolveHub(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(resolveHub);
  if (node === null || typeof node !== 'object') return node;
  const o = node as Record<string, unknown>;
  // A bucket's Ref is its name, and its ARN has neither Region nor account.
  if (o.Ref === RESULTS_BUCKET) return RESULTS_BUCKET;
  if (Array.isArray(o['Fn::GetAtt']) && o['Fn::GetAtt'][0] === RESULTS_BUCKET) return `arn:aws:s3:::${RESULTS_BUCKET}`;
  if (typeof o.Ref === 'string' && HUB_RESOURCES[o.Ref]) return HUB_RESOURCES[o.Ref];
  if (Array.isArray(o['Fn::GetAtt'])) return HUB_RESOURCES[(o['Fn::GetAtt'] as string[])[0]!];
  if ('Fn::Select' in o) {
    const [index, list] = o['Fn::Select'] as [number, unknown];
    return (resolveHub(list) as string[])[index];
  }
  if ('Fn::Split' in o) {
    const [delimiter, text] = o['Fn::Split'] as [string, unknown];
    return (resolveHub(text) as string).split(delimiter);
  }
  if ('Fn::Join' in o) {
    const [delimiter, items] = o['Fn::Join'] as [string, unknown[]];
    return (resolveHub(items) as string[]).join(delimiter);
  }
  if ('Ref' in o) return resolveIn(HUB, o);
  return Object.fromEntries(Object.entries(o).map(([k, v]) => [k, resolveHub(v)]));
}
/** A hub role's whole identity policy, by the id its logical id starts with. */
function hubRolePolicy(roleIdPrefix: string): PolicyDocument {
  const [roleId] = Object.entries(hub).find(([id, r]) => r.Type === 'AWS::IAM::Role' && id.startsWith(roleIdPrefix))!;
  const statements = Object.values(hub)
    .filter((r) => r.Type === 'AWS::IAM::Policy' && r.Properties.Roles.some((x: { Ref: string }) => x.Ref === roleId))
    .flatMap((r) => r.Properties.PolicyDocument.Statement as Record<string, unknown>[]);
  return { Version: '2012-10-17', Statement: resolveHub(statements) as Record<string, unknown>[] };
}
/** An operators' managed policy's document, by the id its logical id starts with. */
function managedPolicy(idPrefix: string): PolicyDocument {
  const [, policy] = Object.entries(hub).find(
    ([id, r]) => r.Type === 'AWS::IAM::ManagedPolicy' && id.startsWith(idPrefix),
  )!;
  return resolveHub(policy.Properties.PolicyDocument) as PolicyDocument;
}
const functionRoleId = (fn: string): string => {
  const [, lambda] = Object.entries(hub).find(([id, r]) => r.Type === 'AWS::Lambda::Function' && id.startsWith(fn))!;
  return lambda.Properties.Role['Fn::GetAtt'][0] as string;
};
const inHub = (action: string, resource: string): Probe => ({ action, resource, account: HUB, context: {} });
const organizations = (resource: string) => `arn:aws:organizations::${MANAGEMENT}:${resource}`;
const ORG_DOCTOR_FUNCTION =
  HUB_RESOURCES[
    Object.keys(hub).find((id) => id.startsWith('OrgDoctor') && hub[id]!.Type === 'AWS::Lambda::Function')!
  ]!;
const GATEWAY_FUNCTION =
  HUB_RESOURCES[Object.keys(hub).find((id) => id.startsWith('Gateway') && hub[id]!.Type === 'AWS::Lambda::Function')!]!;
const FLEET_PROBES = {
  "s3:GetObject (a fleet scan run's results)": inHub(
    's3:GetObject',
    `arn:aws:s3:::${RESULTS_BUCKET}/${FLEET_RESULTS_PREFIX}/0a1b2c3d/manifest.json`,
  ),
  "s3:PutObject (a fleet scan run's results)": inHub(
    's3:PutObject',
    `arn:aws:s3:::${RESULTS_BUCKET}/${FLEET_RESULTS_PREFIX}/0a1b2c3d/SUCCEEDED_0.json`,
  ),
  's3:GetObject (the results bucket, outside the results prefix)': inHub(
    's3:GetObject',
    `arn:aws:s3:::${RESULTS_BUCKET}/elsewhere.json`,
  ),
  'organizations:DescribeOrganization': inHub('organizations:DescribeOrganization', '*'),
  'organizations:ListAccounts': inHub('organizations:ListAccounts', '*'),
  'organizations:DescribeAccount (an account of the organisation)': inHub(
    'organizations:DescribeAccount',
    organizations(`account/${ORG}/${MEMBER}`),
  ),
  'organizations:DescribeAccount (an account of another organisation)': inHub(
    'organizations:DescribeAccount',
    organizations(`account/o-zz9y8x7w6v/${OUTSIDER}`),
  ),
  'organizations:ListAccountsForParent (an OU of the organisation)': inHub(
    'organizations:ListAccountsForParent',
    organizations(`ou/${ORG}/ou-ab12-cd34ef56`),
  ),
  'organizations:ListAccountsForParent (an OU of another organisation)': inHub(
    'organizations:ListAccountsForParent',
    organizations('ou/o-zz9y8x7w6v/ou-ab12-cd34ef56'),
  ),
  'organizations:ListOrganizationalUnitsForParent (the root)': inHub(
    'organizations:ListOrganizationalUnitsForParent',
    organizations(`root/${ORG}/r-ab12`),
  ),
  'states:StartExecution (the fleet scan)': inHub('states:StartExecution', FLEET_MACHINE),
  'states:DescribeExecution (a fleet scan child)': inHub(
    'states:DescribeExecution',
    `arn:aws:states:${REGION}:${HUB}:execution:Keymat-fleet-scan/0a1b2c3d:4e5f6a7b`,
  ),
  'states:StopExecution (a fleet scan child)': inHub(
    'states:StopExecution',
    `arn:aws:states:${REGION}:${HUB}:execution:Keymat-fleet-scan/0a1b2c3d:4e5f6a7b`,
  ),
  'states:ListExecutions (the fleet scan)': inHub('states:ListExecutions', FLEET_MACHINE),
  'states:DescribeExecution (a fleet scan run)': inHub('states:DescribeExecution', FLEET_RUN),
  'states:GetExecutionHistory (a fleet scan run)': inHub('states:GetExecutionHistory', FLEET_RUN),
  'states:StartExecution (the deletion workflow)': inHub('states:StartExecution', DELETION_MACHINE),
  'lambda:InvokeFunction (the fleet doctor)': inHub('lambda:InvokeFunction', ORG_DOCTOR_FUNCTION),
  'lambda:InvokeFunction (the gateway, not through its URL)': inHub('lambda:InvokeFunction', GATEWAY_FUNCTION),
} satisfies Record<string, Probe>;
type FleetProbe = keyof typeof FLEET_PROBES;
/** What people may do with the fleet: invoke the doctor, and read the fleet scan's runs (`keymat scan --org`). */
const OPERATOR_FLEET_CALLS: readonly FleetProbe[] = [
  'lambda:InvokeFunction (the fleet doctor)',
  'states:ListExecutions (the fleet scan)',
  'states:DescribeExecution (a fleet scan run)',
];
const FLEET_SUBJECTS: Record<string, { policy: PolicyDocument; allowed: readonly FleetProbe[] }> = {
  ExpiryScan: {
    policy: hubRolePolicy(functionRoleId('ExpiryScan')),
    allowed: [
      'organizations:ListAccounts',
      'organizations:ListAccountsForParent (an OU of the organisation)',
      'organizations:ListOrganizationalUnitsForParent (the root)',
      'states:StartExecution (the deletion workflow)',
      "s3:GetObject (a fleet scan run's results)",
    ],
  },
  'the fleet scan state machine': {
    policy: hubRolePolicy('ExpiryScanJobFleetScanStateMachineRole'),
    allowed: [
      'states:StartExecution (the fleet scan)',
      'states:DescribeExecution (a fleet scan child)',
      'states:StopExecution (a fleet scan child)',
      'states:DescribeExecution (a fleet scan run)',
      // CDK's ResultWriter grant covers the results bucket whole, which holds nothing but the runs' results.
      "s3:GetObject (a fleet scan run's results)",
      "s3:PutObject (a fleet scan run's results)",
      's3:GetObject (the results bucket, outside the results prefix)',
    ],
  },
  ValidateOrigin: {
    policy: hubRolePolicy(functionRoleId('ValidateOrigin')),
    allowed: ['organizations:DescribeAccount (an account of the organisation)'],
  },
  OrgDoctor: {
    policy: hubRolePolicy(functionRoleId('OrgDoctor')),
    allowed: [
      'organizations:DescribeOrganization',
      'organizations:ListAccounts',
      'organizations:DescribeAccount (an account of the organisation)',
    ],
  },
  'the Requesters policy': { policy: managedPolicy('Requesters'), allowed: OPERATOR_FLEET_CALLS },
  'the Approvers policy': { policy: managedPolicy('Approvers'), allowed: OPERATOR_FLEET_CALLS },
  Gateway: {
    policy: hubRolePolicy(functionRoleId('Gateway')),
    allowed: ['states:StartExecution (the deletion workflow)'],
  },
};

const assumed = new Map<string, AssumeProbe[]>();
const memberCalls = new Map<string, KmsProbe[]>();
const fleetCalls = new Map<string, FleetProbe[]>();

beforeAll(async () => {
  for (const [name, c] of Object.entries(CALLERS)) {
    const allowed: AssumeProbe[] = [];
    for (const [label, probe] of Object.entries(ASSUME_PROBES) as [AssumeProbe, Probe][]) {
      if (await simulate(c.principal, c.policy, probe, c.orgId)) allowed.push(label);
    }
    assumed.set(name, allowed);
  }
  for (const [name, { role }] of Object.entries(MEMBER_ROLES)) {
    const allowed: KmsProbe[] = [];
    for (const [label, probe] of Object.entries(KMS_PROBES) as [KmsProbe, Probe][]) {
      if (await simulate(role.arn, role.policy, probe, ORG)) allowed.push(label);
    }
    memberCalls.set(name, allowed);
  }
  for (const [name, { policy }] of Object.entries(FLEET_SUBJECTS)) {
    const allowed: FleetProbe[] = [];
    for (const [label, probe] of Object.entries(FLEET_PROBES) as [FleetProbe, Probe][]) {
      if (await simulate(`arn:aws:sts::${HUB}:assumed-role/${name.replace(/ /g, '-')}/session`, policy, probe, ORG))
        allowed.push(label);
    }
    fleetCalls.set(name, allowed);
  }
}, 120_000);

afterAll(() => {
  const table = (title: string, rows: Map<string, string[]>, probes: string[]) => {
    const subjects = [...rows.keys()];
    const width = Math.max(...probes.map((p) => p.length));
    return [
      '',
      title,
      ...subjects.map((s, i) => `  [${String(i + 1).padStart(2)}] ${s}`),
      `${''.padEnd(width)}  ${subjects.map((_s, i) => String(i + 1).padStart(3)).join('')}`,
      ...probes.map(
        (p) =>
          `${p.padEnd(width)}  ${subjects.map((s) => (rows.get(s)!.includes(p) ? 'A' : '-').padStart(3)).join('')}`,
      ),
    ];
  };
  const lines = [
    ...table(
      'IAM simulation, organisation: caller × member role (A allowed, - denied)',
      assumed,
      Object.keys(ASSUME_PROBES),
    ),
    ...table('IAM simulation, member account: member role × call', memberCalls, Object.keys(KMS_PROBES)),
    ...table(
      'IAM simulation, hub: role or operators policy × call (fleet scan, fleet doctor)',
      fleetCalls,
      Object.keys(FLEET_PROBES),
    ),
    '',
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
});

describe('the organisation permission model, simulated', () => {
  it.each(Object.keys(CALLERS))('%s may assume exactly its member role, and none other', (name) => {
    expect(assumed.get(name)!.sort()).toEqual([...CALLERS[name]!.allowed].sort());
  });

  it('lets only DeleteMaterial assume the delete role, and nobody without a keymat SourceIdentity or outside the organisation', () => {
    const holders = [...assumed].filter(([, a]) => a.includes('sts:AssumeRole (delete role)')).map(([n]) => n);
    expect(holders).toEqual(['DeleteMaterial']);
    for (const [, allowed] of assumed) {
      expect(allowed).not.toContain('sts:AssumeRole (read role, no SourceIdentity)');
      expect(allowed).not.toContain('sts:AssumeRole (read role, SourceIdentity not keymat-)');
      expect(allowed).not.toContain('sts:AssumeRole (delete role, outside the organisation)');
    }
  });

  it.each(Object.keys(FLEET_SUBJECTS))(
    "%s may make exactly its calls in the hub: reading the organisation, running the fleet scan's children, invoking the fleet doctor",
    (name) => {
      expect(fleetCalls.get(name)!.sort()).toEqual([...FLEET_SUBJECTS[name]!.allowed].sort());
    },
  );

  it("lets the operators' policies read the fleet scan's runs but not start one, nor read a run's history or children", () => {
    for (const people of ['the Requesters policy', 'the Approvers policy']) {
      const allowed = fleetCalls.get(people)!;
      expect(allowed).toEqual(
        expect.arrayContaining([
          'states:ListExecutions (the fleet scan)',
          'states:DescribeExecution (a fleet scan run)',
        ]),
      );
      for (const denied of [
        'states:StartExecution (the fleet scan)',
        'states:GetExecutionHistory (a fleet scan run)',
        'states:DescribeExecution (a fleet scan child)',
        'states:StopExecution (a fleet scan child)',
      ] as const) {
        expect(allowed).not.toContain(denied);
      }
    }
  });

  it.each(Object.keys(MEMBER_ROLES))('the member role %s may make exactly the calls its tasks make', (name) => {
    expect(memberCalls.get(name)!.sort()).toEqual([...MEMBER_ROLES[name]!.allowed].sort());
  });
});
