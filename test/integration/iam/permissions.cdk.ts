import { runSimulation, type Simulation } from '@cloud-copilot/iam-simulate';
import { keymatStack } from '../../helpers/cdk-stacks';

/**
 * The permission model, proven by simulating IAM's evaluation (identity policies, and the key policy for the KMS
 * keys) on the synthesized template: each role may make exactly the calls its code makes, among a list of probes
 * that includes the destructive calls, and the policies people are given start and answer nothing directly.
 */

const ACCOUNT = '111122223333';
const REGION = 'us-east-1';

type Resource = { Type: string; Properties?: Record<string, unknown> };
type PolicyDocument = { Version?: string; Statement: Record<string, unknown>[] };

const { stack, template } = keymatStack();
const STACK_ID = `arn:aws:cloudformation:${REGION}:${ACCOUNT}:stack/${stack.stackName}/0a1b2c3d-1234-5678-9abc-0123456789ab`;
const resources = template.toJSON().Resources as Record<string, Resource>;

const typeOf = (id: string): string => {
  const resource = resources[id];
  if (!resource) throw new Error(`the template has no resource ${id}`);
  return resource.Type;
};

/** The value CloudFormation gives `Ref` of a resource, in account 111122223333, us-east-1. */
function ref(id: string): string {
  const pseudo: Record<string, string> = {
    'AWS::Partition': 'aws',
    'AWS::Region': REGION,
    'AWS::AccountId': ACCOUNT,
    'AWS::URLSuffix': 'amazonaws.com',
    'AWS::StackName': stack.stackName,
    'AWS::StackId': STACK_ID,
  };
  if (pseudo[id] !== undefined) return pseudo[id];
  switch (typeOf(id)) {
    case 'AWS::Lambda::Function':
    case 'AWS::IAM::Role':
    case 'AWS::Logs::LogGroup':
    case 'AWS::SSM::Document':
    case 'AWS::KMS::Key':
      return id;
    case 'AWS::SNS::Topic':
      return `arn:aws:sns:${REGION}:${ACCOUNT}:${id}`;
    case 'AWS::SecretsManager::Secret':
      return `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:${id}-AbCdEf`;
    case 'AWS::StepFunctions::StateMachine':
      return `arn:aws:states:${REGION}:${ACCOUNT}:stateMachine:${stateMachineName(id)}`;
    case 'AWS::IAM::ManagedPolicy':
      return `arn:aws:iam::${ACCOUNT}:policy/${id}`;
    default:
      throw new Error(`no Ref value for ${id} (${typeOf(id)}): add its type here`);
  }
}

function stateMachineName(id: string): string {
  const name = resources[id]?.Properties?.StateMachineName;
  return typeof name === 'string' ? name : id;
}

/** The value CloudFormation gives `Fn::GetAtt` of a resource. */
function getAtt(id: string, attribute: string): string {
  const type = typeOf(id);
  if (attribute === 'Arn') {
    switch (type) {
      case 'AWS::Lambda::Function':
        return `arn:aws:lambda:${REGION}:${ACCOUNT}:function:${id}`;
      case 'AWS::IAM::Role':
        return `arn:aws:iam::${ACCOUNT}:role/${id}`;
      case 'AWS::KMS::Key':
        return `arn:aws:kms:${REGION}:${ACCOUNT}:key/${id}`;
      case 'AWS::Logs::LogGroup':
        return `arn:aws:logs:${REGION}:${ACCOUNT}:log-group:${id}:*`;
      case 'AWS::StepFunctions::StateMachine':
        return ref(id);
    }
  }
  if (type === 'AWS::SNS::Topic' && attribute === 'TopicArn') return ref(id);
  if (type === 'AWS::StepFunctions::StateMachine' && attribute === 'Name') return stateMachineName(id);
  throw new Error(`no Fn::GetAtt value for ${id}.${attribute} (${type}): add it here`);
}

/** Resolves the intrinsic functions of a template value to concrete strings. */
function resolve(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(resolve);
  if (node === null || typeof node !== 'object') return node;
  const o = node as Record<string, unknown>;
  if ('Ref' in o) return ref(o.Ref as string);
  if ('Fn::GetAtt' in o) {
    const [id, attribute] = o['Fn::GetAtt'] as [string, string];
    return getAtt(id, attribute);
  }
  if ('Fn::Join' in o) {
    const [delimiter, items] = o['Fn::Join'] as [string, unknown[]];
    return (resolve(items) as string[]).join(delimiter);
  }
  if ('Fn::Select' in o) {
    const [index, list] = o['Fn::Select'] as [number | string, unknown];
    return (resolve(list) as unknown[])[Number(index)];
  }
  if ('Fn::Split' in o) {
    const [delimiter, text] = o['Fn::Split'] as [string, unknown];
    return String(resolve(text)).split(delimiter);
  }
  return Object.fromEntries(Object.entries(o).map(([k, v]) => [k, resolve(v)]));
}

const idsOf = (type: string, where: (r: Resource, id: string) => boolean = () => true): string[] =>
  Object.entries(resources)
    .filter(([id, r]) => r.Type === type && where(r, id))
    .map(([id]) => id);
const only = (ids: string[], what: string): string => {
  if (ids.length !== 1) throw new Error(`expected one ${what}; found ${ids.length} (${ids.join(', ')})`);
  return ids[0]!;
};

/** The identity policies of a role: its own policies, and the `AWS::IAM::Policy` resources attached to it. */
function identityPoliciesOf(roleId: string): { name: string; policy: PolicyDocument }[] {
  const role = resources[roleId]!;
  const inline = ((role.Properties?.Policies as { PolicyName: string; PolicyDocument: unknown }[]) ?? []).map((p) => ({
    name: p.PolicyName,
    policy: resolve(p.PolicyDocument) as PolicyDocument,
  }));
  const attached = idsOf('AWS::IAM::Policy', (r) =>
    ((r.Properties?.Roles as { Ref: string }[]) ?? []).some((x) => x.Ref === roleId),
  ).map((id) => ({ name: id, policy: resolve(resources[id]!.Properties!.PolicyDocument) as PolicyDocument }));
  if (role.Properties?.ManagedPolicyArns) throw new Error(`role ${roleId} has managed policies: simulate them too`);
  return [...inline, ...attached];
}

const functionRole = (name: string): string => {
  const fn = only(
    idsOf('AWS::Lambda::Function', (_r, id) => id.startsWith(name)),
    `function ${name}`,
  );
  return (resources[fn]!.Properties!.Role as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0];
};
const serviceRole = (service: string): string =>
  only(
    idsOf('AWS::IAM::Role', (r) => JSON.stringify(r.Properties?.AssumeRolePolicyDocument).includes(`"${service}"`)),
    `role assumed by ${service}`,
  );
const functionArn = (name: string): string =>
  getAtt(
    only(
      idsOf('AWS::Lambda::Function', (_r, id) => id.startsWith(name)),
      `function ${name}`,
    ),
    'Arn',
  );
const keyPolicyOf = (id: string): PolicyDocument => resolve(resources[id]!.Properties!.KeyPolicy) as PolicyDocument;

const attestationKeyId = only(
  idsOf('AWS::KMS::Key', (r) => r.Properties?.KeySpec === 'HMAC_256'),
  'attestation key',
);
const topicKeyId = only(
  idsOf('AWS::KMS::Key', (_r, id) => id !== attestationKeyId),
  'topic key',
);
const topicArn = (prefix: string) =>
  ref(
    only(
      idsOf('AWS::SNS::Topic', (_r, id) => id.startsWith(prefix)),
      `${prefix} topic`,
    ),
  );
const stateMachineId = only(idsOf('AWS::StepFunctions::StateMachine'), 'state machine');
const secretArn = ref(only(idsOf('AWS::SecretsManager::Secret'), 'secret'));

/** A key of the configured scope (tag keymat:managed=true), outside the stack: its policy is KMS's default. */
const TAGGED_KEY = `arn:aws:kms:${REGION}:${ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab`;
const UNTAGGED_KEY = `arn:aws:kms:${REGION}:${ACCOUNT}:key/0000abcd-12ab-34cd-56ef-1234567890ab`;
const DEFAULT_KEY_POLICY: PolicyDocument = {
  Version: '2012-10-17',
  Statement: [{ Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` }, Action: 'kms:*', Resource: '*' }],
};
const TAGGED = { 'aws:ResourceTag/keymat:managed': 'true' };
const MAC = { 'kms:MacAlgorithm': 'HMAC_SHA_256' };
/** What a recovery proof's GetParametersForImport sends, on a key in scope. */
const PROOF_PARAMETERS = {
  ...TAGGED,
  'kms:KeyOrigin': 'EXTERNAL',
  'kms:WrappingKeySpec': 'RSA_4096',
  'kms:WrappingAlgorithm': 'RSA_AES_KEY_WRAP_SHA_256',
};
const EXECUTION = `arn:aws:states:${REGION}:${ACCOUNT}:execution:${stateMachineName(stateMachineId)}:keymat-CHG-1`;

interface Probe {
  action: string;
  resource: string;
  context?: Record<string, string>;
  /** The resource's policy: for KMS keys, the key policy that decides whether IAM policies count at all. */
  resourcePolicy?: PolicyDocument;
}

const attestationKey = {
  resource: getAtt(attestationKeyId, 'Arn'),
  resourcePolicy: keyPolicyOf(attestationKeyId),
};
const taggedKey = { resource: TAGGED_KEY, context: TAGGED, resourcePolicy: DEFAULT_KEY_POLICY };
const topicKey = { resource: getAtt(topicKeyId, 'Arn'), resourcePolicy: keyPolicyOf(topicKeyId) };

/** The calls probed, by label: what the code makes, and what no one but its holder may make. */
const PROBES = {
  'kms:DescribeKey': { action: 'kms:DescribeKey', ...taggedKey },
  'kms:ListKeyRotations': { action: 'kms:ListKeyRotations', ...taggedKey },
  'kms:GetKeyLastUsage': { action: 'kms:GetKeyLastUsage', ...taggedKey },
  'kms:ListResourceTags': { action: 'kms:ListResourceTags', ...taggedKey },
  'kms:ListAliases': { action: 'kms:ListAliases', resource: '*' },
  'kms:ListKeys': { action: 'kms:ListKeys', resource: '*' },
  'kms:DeleteImportedKeyMaterial': { action: 'kms:DeleteImportedKeyMaterial', ...taggedKey },
  'kms:DeleteImportedKeyMaterial (untagged key)': {
    action: 'kms:DeleteImportedKeyMaterial',
    resource: UNTAGGED_KEY,
    resourcePolicy: DEFAULT_KEY_POLICY,
  },
  'kms:ImportKeyMaterial': { action: 'kms:ImportKeyMaterial', ...taggedKey },
  'kms:GetParametersForImport (proof)': {
    action: 'kms:GetParametersForImport',
    ...taggedKey,
    context: PROOF_PARAMETERS,
  },
  'kms:GetParametersForImport (RSA_2048)': {
    action: 'kms:GetParametersForImport',
    ...taggedKey,
    context: { ...PROOF_PARAMETERS, 'kms:WrappingKeySpec': 'RSA_2048' },
  },
  'kms:ImportKeyMaterial (proof)': {
    action: 'kms:ImportKeyMaterial',
    ...taggedKey,
    context: { ...TAGGED, 'kms:KeyOrigin': 'EXTERNAL', 'kms:ExpirationModel': 'KEY_MATERIAL_EXPIRES' },
  },
  'kms:ImportKeyMaterial (untagged key)': {
    action: 'kms:ImportKeyMaterial',
    resource: UNTAGGED_KEY,
    resourcePolicy: DEFAULT_KEY_POLICY,
    context: { 'kms:KeyOrigin': 'EXTERNAL', 'kms:ExpirationModel': 'KEY_MATERIAL_EXPIRES' },
  },
  'kms:ScheduleKeyDeletion': { action: 'kms:ScheduleKeyDeletion', ...taggedKey },
  'kms:DisableKey': { action: 'kms:DisableKey', ...taggedKey },
  'kms:PutKeyPolicy': { action: 'kms:PutKeyPolicy', ...taggedKey },
  'kms:GenerateMac (attestation)': { action: 'kms:GenerateMac', ...attestationKey, context: MAC },
  'kms:VerifyMac (attestation)': { action: 'kms:VerifyMac', ...attestationKey, context: MAC },
  'kms:GenerateMac (attestation, HMAC_SHA_512)': {
    action: 'kms:GenerateMac',
    ...attestationKey,
    context: { 'kms:MacAlgorithm': 'HMAC_SHA_512' },
  },
  'kms:CreateGrant (attestation)': { action: 'kms:CreateGrant', ...attestationKey },
  'kms:PutKeyPolicy (attestation)': { action: 'kms:PutKeyPolicy', ...attestationKey },
  'kms:ScheduleKeyDeletion (attestation)': { action: 'kms:ScheduleKeyDeletion', ...attestationKey },
  'kms:GenerateDataKey (topic key)': { action: 'kms:GenerateDataKey', ...topicKey },
  'kms:Decrypt (topic key)': { action: 'kms:Decrypt', ...topicKey },
  'sns:Publish (approval topic)': { action: 'sns:Publish', resource: topicArn('ApprovalTopic') },
  'sns:Publish (outcome topic)': { action: 'sns:Publish', resource: topicArn('OutcomeTopic') },
  'secretsmanager:GetSecretValue': { action: 'secretsmanager:GetSecretValue', resource: secretArn },
  'states:StartExecution': { action: 'states:StartExecution', resource: ref(stateMachineId) },
  'states:ListExecutions': { action: 'states:ListExecutions', resource: ref(stateMachineId) },
  'states:DescribeExecution': { action: 'states:DescribeExecution', resource: EXECUTION },
  'states:GetExecutionHistory': { action: 'states:GetExecutionHistory', resource: EXECUTION },
  'states:StopExecution': { action: 'states:StopExecution', resource: EXECUTION },
  'states:SendTaskSuccess': { action: 'states:SendTaskSuccess', resource: '*' },
  'states:SendTaskFailure': { action: 'states:SendTaskFailure', resource: '*' },
  'ssm:GetAutomationExecution': {
    action: 'ssm:GetAutomationExecution',
    resource: `arn:aws:ssm:${REGION}:${ACCOUNT}:automation-execution/0a1b2c3d-1234-5678-9abc-0123456789ab`,
  },
  'cloudformation:DescribeStacks (this stack)': { action: 'cloudformation:DescribeStacks', resource: STACK_ID },
  'cloudformation:DescribeStacks (another stack)': {
    action: 'cloudformation:DescribeStacks',
    resource: `arn:aws:cloudformation:${REGION}:${ACCOUNT}:stack/Payroll/9f8e7d6c-1234-5678-9abc-0123456789ab`,
  },
  'lambda:InvokeFunctionUrl (gateway, IAM auth)': {
    action: 'lambda:InvokeFunctionUrl',
    resource: functionArn('Gateway'),
    context: { 'lambda:FunctionUrlAuthType': 'AWS_IAM' },
  },
  'lambda:InvokeFunction (gateway, via its URL)': {
    action: 'lambda:InvokeFunction',
    resource: functionArn('Gateway'),
    context: { 'lambda:InvokedViaFunctionUrl': 'true' },
  },
  'lambda:InvokeFunction (gateway)': { action: 'lambda:InvokeFunction', resource: functionArn('Gateway') },
  'lambda:InvokeFunction (DeleteMaterial)': {
    action: 'lambda:InvokeFunction',
    resource: functionArn('DeleteMaterial'),
  },
} satisfies Record<string, Probe>;
type ProbeName = keyof typeof PROBES;

const PUBLISH_ENCRYPTED = ['kms:GenerateDataKey (topic key)', 'kms:Decrypt (topic key)'] as const;
const OPERATOR: ProbeName[] = [
  'lambda:InvokeFunctionUrl (gateway, IAM auth)',
  'lambda:InvokeFunction (gateway, via its URL)',
  'states:DescribeExecution',
  'states:GetExecutionHistory',
  'states:ListExecutions',
  'cloudformation:DescribeStacks (this stack)',
];

interface Subject {
  principal: string;
  identityPolicies: { name: string; policy: PolicyDocument }[];
  /** Exactly the probes allowed; every other probe must be denied. */
  allowed: readonly ProbeName[];
}

const role = (roleId: string, allowed: readonly ProbeName[]): Subject => ({
  // The caller as KMS and the other services see it: a session of the role.
  principal: `arn:aws:sts::${ACCOUNT}:assumed-role/${roleId}/session`,
  identityPolicies: identityPoliciesOf(roleId),
  allowed,
});
const person = (name: string, policyPrefix: string, allowed: readonly ProbeName[]): Subject => {
  const policyId = only(
    idsOf('AWS::IAM::ManagedPolicy', (_r, id) => id.startsWith(policyPrefix)),
    `${policyPrefix} policy`,
  );
  return {
    principal: `arn:aws:iam::${ACCOUNT}:user/${name}`,
    identityPolicies: [
      { name: policyId, policy: resolve(resources[policyId]!.Properties!.PolicyDocument) as PolicyDocument },
    ],
    allowed,
  };
};

const SUBJECTS: Record<string, Subject> = {
  ValidateOrigin: role(functionRole('ValidateOrigin'), [
    'kms:DescribeKey',
    'kms:ListKeyRotations',
    'kms:GetKeyLastUsage',
    'kms:ListAliases',
    'kms:VerifyMac (attestation)',
  ]),
  CheckState: role(functionRole('CheckState'), []),
  RequestApproval: role(functionRole('RequestApproval'), [
    'sns:Publish (approval topic)',
    ...PUBLISH_ENCRYPTED,
    'secretsmanager:GetSecretValue',
  ]),
  DeleteMaterial: role(functionRole('DeleteMaterial'), [
    'kms:DescribeKey',
    'kms:ListKeyRotations',
    'kms:DeleteImportedKeyMaterial',
    'kms:VerifyMac (attestation)',
    'sns:Publish (outcome topic)',
    ...PUBLISH_ENCRYPTED,
  ]),
  VerifyPendingImport: role(functionRole('VerifyPendingImport'), ['kms:DescribeKey', 'kms:ListKeyRotations']),
  ProveRecovery: role(functionRole('ProveRecovery'), [
    'kms:DescribeKey',
    'kms:ListKeyRotations',
    'kms:GetParametersForImport (proof)',
    'kms:ImportKeyMaterial (proof)',
    'kms:VerifyMac (attestation)',
    'sns:Publish (approval topic)',
    ...PUBLISH_ENCRYPTED,
  ]),
  NotifyOutcome: role(functionRole('NotifyOutcome'), ['sns:Publish (outcome topic)', ...PUBLISH_ENCRYPTED]),
  ApprovalPage: role(functionRole('ApprovalPage'), [
    'secretsmanager:GetSecretValue',
    'states:GetExecutionHistory',
    'states:SendTaskSuccess',
    'states:SendTaskFailure',
    'kms:GenerateMac (attestation)',
  ]),
  ExpiryScan: role(functionRole('ExpiryScan'), [
    'kms:ListKeys',
    'kms:DescribeKey',
    'kms:ListKeyRotations',
    'kms:ListResourceTags',
    'states:StartExecution',
    'states:DescribeExecution',
    'sns:Publish (outcome topic)',
    ...PUBLISH_ENCRYPTED,
    'kms:GenerateMac (attestation)',
  ]),
  Gateway: role(functionRole('Gateway'), [
    'states:StartExecution',
    'states:DescribeExecution',
    'states:GetExecutionHistory',
    'states:SendTaskSuccess',
    'states:SendTaskFailure',
    'kms:GenerateMac (attestation)',
    'ssm:GetAutomationExecution',
  ]),
  'Runbook (automation role)': role(serviceRole('ssm.amazonaws.com'), [
    'lambda:InvokeFunction (gateway)',
    'lambda:InvokeFunction (gateway, via its URL)',
    'states:DescribeExecution',
  ]),
  'Workflow (state machine role)': role(serviceRole('states.amazonaws.com'), [
    'lambda:InvokeFunction (DeleteMaterial)',
  ]),
  'Requesters policy': person('alice', 'Requesters', OPERATOR),
  'Approvers policy': person('bob', 'Approvers', OPERATOR),
  // An account administrator: IAM allows it everything, and still the attestation key's policy refuses it the MAC
  // (and grants). It can rewrite the key policy: that is what remains, and CloudTrail records it.
  'IAM administrator (*:*)': {
    principal: `arn:aws:iam::${ACCOUNT}:role/Administrator`,
    identityPolicies: [
      {
        name: 'AdministratorAccess',
        policy: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }] },
      },
    ],
    allowed: (Object.keys(PROBES) as ProbeName[]).filter(
      (p) =>
        ![
          'kms:GenerateMac (attestation)',
          'kms:GenerateMac (attestation, HMAC_SHA_512)',
          'kms:VerifyMac (attestation)',
          'kms:CreateGrant (attestation)',
        ].includes(p),
    ),
  },
};

type Outcome = 'allowed' | 'denied';
const results = new Map<string, Map<ProbeName, Outcome>>();

async function simulate(subject: Subject, probe: Probe): Promise<Outcome> {
  const simulation: Simulation = {
    request: {
      principal: subject.principal,
      action: probe.action,
      resource: { resource: probe.resource, accountId: ACCOUNT },
      contextVariables: probe.context ?? {},
    },
    identityPolicies: subject.identityPolicies,
    serviceControlPolicies: [],
    resourceControlPolicies: [],
    ...(probe.resourcePolicy && { resourcePolicy: probe.resourcePolicy }),
  };
  const response = await runSimulation(simulation, {});
  if (response.resultType === 'error') {
    throw new Error(`simulating ${probe.action} on ${probe.resource}: ${JSON.stringify(response.errors)}`);
  }
  return response.overallResult === 'Allowed' ? 'allowed' : 'denied';
}

beforeAll(async () => {
  for (const [name, subject] of Object.entries(SUBJECTS)) {
    const row = new Map<ProbeName, Outcome>();
    for (const [probeName, probe] of Object.entries(PROBES) as [ProbeName, Probe][]) {
      row.set(probeName, await simulate(subject, probe));
    }
    results.set(name, row);
  }
}, 120_000);

afterAll(() => {
  const subjects = [...results.keys()];
  const width = Math.max(...Object.keys(PROBES).map((p) => p.length));
  const lines = [
    '',
    'IAM simulation: principal × call (A allowed, - denied)',
    ...subjects.map((s, i) => `  [${String(i + 1).padStart(2)}] ${s}`),
    `${''.padEnd(width)}  ${subjects.map((_s, i) => String(i + 1).padStart(3)).join('')}`,
    ...(Object.keys(PROBES) as ProbeName[]).map(
      (p) =>
        `${p.padEnd(width)}  ${subjects.map((s) => (results.get(s)?.get(p) === 'allowed' ? 'A' : '-').padStart(3)).join('')}`,
    ),
    '',
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
});

describe('the permission model, simulated', () => {
  it.each(Object.keys(SUBJECTS))('%s may make exactly its calls, and none of the others', (name) => {
    const subject = SUBJECTS[name]!;
    const row = results.get(name)!;
    const allowed = (Object.keys(PROBES) as ProbeName[]).filter((p) => row.get(p) === 'allowed');
    expect(allowed.sort()).toEqual([...subject.allowed].sort());
  });

  it('lets only DeleteMaterial delete key material, and only from keys in scope', () => {
    const deleters = [...results].filter(
      ([name, row]) => row.get('kms:DeleteImportedKeyMaterial') === 'allowed' && !name.startsWith('IAM'),
    );
    expect(deleters.map(([name]) => name)).toEqual(['DeleteMaterial']);
    expect(results.get('DeleteMaterial')!.get('kms:DeleteImportedKeyMaterial (untagged key)')).toBe('denied');
  });

  it('lets only the proving function get import parameters and reimport, only as a proof does, on keys in scope', () => {
    const importers = [...results].filter(
      ([name, row]) =>
        !name.startsWith('IAM') &&
        (row.get('kms:ImportKeyMaterial (proof)') === 'allowed' ||
          row.get('kms:GetParametersForImport (proof)') === 'allowed'),
    );
    expect(importers.map(([name]) => name)).toEqual(['ProveRecovery']);
    const prover = results.get('ProveRecovery')!;
    for (const probe of [
      'kms:ImportKeyMaterial',
      'kms:ImportKeyMaterial (untagged key)',
      'kms:GetParametersForImport (RSA_2048)',
    ] as const) {
      expect([probe, prover.get(probe)]).toEqual([probe, 'denied']);
    }
  });

  it('lets only the gateway, the approval page and the expiry scan attest, whatever IAM allows', () => {
    const signers = [...results].filter(([, row]) => row.get('kms:GenerateMac (attestation)') === 'allowed');
    expect(signers.map(([name]) => name).sort()).toEqual(['ApprovalPage', 'ExpiryScan', 'Gateway']);
    for (const [, row] of results) expect(row.get('kms:GenerateMac (attestation, HMAC_SHA_512)')).toBe('denied');
  });

  it('lets only the gateway and the approval page answer approval tasks, and people neither start nor answer', () => {
    for (const action of ['states:SendTaskSuccess', 'states:SendTaskFailure'] as const) {
      const holders = [...results].filter(([name, row]) => row.get(action) === 'allowed' && !name.startsWith('IAM'));
      expect(holders.map(([name]) => name).sort()).toEqual(['ApprovalPage', 'Gateway']);
    }
    for (const people of ['Requesters policy', 'Approvers policy']) {
      for (const probe of [
        'states:StartExecution',
        'states:SendTaskSuccess',
        'states:SendTaskFailure',
        'kms:GenerateMac (attestation)',
        'lambda:InvokeFunction (gateway)',
      ] as const) {
        expect(results.get(people)!.get(probe)).toBe('denied');
      }
      expect(results.get(people)!.get('lambda:InvokeFunctionUrl (gateway, IAM auth)')).toBe('allowed');
    }
  });
});
