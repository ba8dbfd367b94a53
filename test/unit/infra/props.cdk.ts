import { App, Duration, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { EventBus } from 'aws-cdk-lib/aws-events';
import { Key } from 'aws-cdk-lib/aws-kms';
import { Code, Function as LambdaFunction, Runtime } from 'aws-cdk-lib/aws-lambda';
import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { AwsSolutionsChecks, ServerlessChecks } from 'cdk-nag';
import { UNTRACED_REASON } from '../../../infra/keymat-function';
import { KeymatStack, type KeymatStackProps } from '../../../infra/keymat-stack';
import { grantsOf, keymatStack as synth, propsOf, testApp } from '../../helpers/cdk-stacks';

/**
 * The stack's flat props: what a CDK user writes in one line, typed references, defaults resolved and every value
 * checked before anything is built; FIPS endpoints; and the partitions of GovCloud and China.
 */
const ALICE = 'arn:aws:iam::111122223333:user/alice';
const BOB = 'arn:aws:iam::111122223333:user/bob';

type Resource = { Properties: Record<string, any> };
const functionsOf = (t: Template) => Object.entries(t.findResources('AWS::Lambda::Function')) as [string, Resource][];
const variablesOf = (t: Template, name: string): Record<string, unknown> =>
  functionsOf(t).find(([id]) => id.startsWith(name))![1].Properties.Environment.Variables;

/** A stack in a fresh test app, built from props. */
function stackWith(props: KeymatStackProps): { app: App; stack: KeymatStack; template: Template } {
  const app = testApp();
  const stack = new KeymatStack(app, 'Keymat', props);
  return { app, stack, template: Template.fromStack(stack) };
}

describe('a stack written in one line', () => {
  const { stack, template } = stackWith({ approvers: [ALICE, BOB], quorum: 2 });

  it('builds with approvers alone, every other prop at its default', () => {
    const machine = Object.values(template.findResources('AWS::StepFunctions::StateMachine'))[0] as Resource;
    expect(JSON.stringify(machine.Properties.DefinitionString)).toContain(
      `\\"allowedApprovers\\":[\\"${ALICE}\\",\\"${BOB}\\"]`,
    );
    expect(variablesOf(template, 'ValidateOrigin')).toMatchObject({ KEYMAT_ACCOUNT_ID: { Ref: 'AWS::AccountId' } });
    template.allResourcesProperties('AWS::Logs::LogGroup', { RetentionInDays: 365 });
    expect(grantsOf(template, 'DeleteMaterial', 'kms:DeleteImportedKeyMaterial')).toEqual([
      expect.objectContaining({ Condition: { StringEquals: { 'aws:ResourceTag/keymat:managed': 'true' } } }),
    ]);
  });

  it('leaves cdk-nag AwsSolutions and Serverless nothing unacknowledged', () => {
    for (const pack of [new AwsSolutionsChecks(stack.node.root), new ServerlessChecks(stack.node.root)]) {
      expect(pack.validateScope(stack).violations.map((v) => v.ruleName)).toEqual([]);
    }
  });
});

describe('typed references', () => {
  const app = testApp();
  const shared = new Stack(app, 'Shared');
  const key = new Key(shared, 'Payroll');
  const bus = new EventBus(shared, 'Audit');
  const check = new LambdaFunction(shared, 'TicketCheck', {
    code: Code.fromInline('exports.handler = async () => ({ valid: true })'),
    handler: 'index.handler',
    runtime: Runtime.NODEJS_24_X,
  });
  const stack = new KeymatStack(app, 'Keymat', {
    keyScope: { keys: [key] },
    eventBus: bus,
    changeTicketCheck: check,
    defaultWait: Duration.minutes(2),
    recentUse: Duration.days(7),
    logRetention: RetentionDays.THREE_MONTHS,
  });
  const template = Template.fromStack(stack);
  const imported = (value: string) => ({ 'Fn::ImportValue': expect.stringMatching(`^Shared:ExportsOutput${value}`) });

  it('grants on the keys given, by their ARNs', () => {
    expect(grantsOf(template, 'DeleteMaterial', 'kms:DeleteImportedKeyMaterial')).toEqual([
      expect.objectContaining({ Resource: imported('FnGetAttPayroll') }),
    ]);
  });

  it('names the bus and the ticket check given, and grants on them alone', () => {
    expect(variablesOf(template, 'ValidateOrigin')).toMatchObject({
      EVENT_BUS_NAME: imported('FnGetAttAudit'),
      CHANGE_TICKET_FUNCTION_ARN: imported('FnGetAttTicketCheck'),
      DEFAULT_WAIT_SECONDS: '120',
      RECENT_USE_DAYS: '7',
    });
    expect(grantsOf(template, 'DeleteMaterial', 'events:PutEvents')).toEqual([
      expect.objectContaining({ Resource: imported('FnGetAttAudit') }),
    ]);
    expect(grantsOf(template, 'ValidateOrigin', 'lambda:InvokeFunction')).toEqual([
      expect.objectContaining({ Resource: imported('FnGetAttTicketCheck') }),
    ]);
    template.allResourcesProperties('AWS::Logs::LogGroup', { RetentionInDays: 90 });
  });
});

describe('checks before anything is built', () => {
  it.each<[string, KeymatStackProps, string]>([
    ['a quorum of 0', { quorum: 0 }, 'KeymatStack: quorum must be a whole number from 1 to 10; got 0'],
    ['a fractional quorum', { quorum: 1.5 }, 'KeymatStack: quorum must be a whole number from 1 to 10; got 1.5'],
    [
      'a quorum the approvers cannot reach',
      { approvers: [ALICE], quorum: 2 },
      'KeymatStack: quorum 2 cannot be reached by the 1 approver listed',
    ],
    [
      'a wait in fractions of a second',
      { defaultWait: Duration.millis(1500) },
      'KeymatStack: defaultWait must be whole seconds from 0 seconds to 1 hour; got 1 second 500 millis',
    ],
    [
      'a task timeout beyond Lambda',
      { taskTimeout: Duration.minutes(16) },
      'KeymatStack: taskTimeout must be whole seconds from 1 second to 15 minutes; got 16 minutes',
    ],
    ['no keys', { keyScope: { keys: [] } }, 'KeymatStack: keyScope lists no keys'],
    [
      'an empty tag',
      { keyScope: { tag: { key: 'team', value: '' } } },
      'KeymatStack: keyScope.tag must have a key and a value',
    ],
    [
      'a recent use in hours',
      { recentUse: Duration.hours(36) },
      'KeymatStack: recentUse must be whole days from 0 to 3650',
    ],
    [
      'a scan policy out of range',
      { scanPolicy: { expiresWithinDays: 400 } },
      'KeymatStack: scanPolicy.expiresWithinDays',
    ],
    [
      'a page identity without an audience',
      { approvalPageIdentity: { issuer: 'https://idp.example.com', audience: [] } },
      'KeymatStack: approvalPageIdentity.audience must be a non-empty list',
    ],
  ])('refuses %s, naming the prop and the value, and builds no stack', (_label, props, message) => {
    const app = testApp();
    expect(() => new KeymatStack(app, 'Keymat', props)).toThrow(message);
    expect(app.node.tryFindChild('Keymat')).toBeUndefined();
  });
});

describe('approvers in canonical form', () => {
  it('refuses two entries that differ only in case, naming both', () => {
    expect(() => stackWith({ approvers: [ALICE, ALICE.replace('alice', 'Alice')] })).toThrow(
      `KeymatStack: approvers: "${ALICE}" and "${ALICE.replace('alice', 'Alice')}" are the same principal, "${ALICE.replace('alice', 'Alice')}"`,
    );
  });

  it('refuses a role and a session of it unless the role is session-bound', () => {
    const role = 'arn:aws:iam::111122223333:role/KeyOps';
    const session = 'arn:aws:sts::111122223333:assumed-role/KeyOps/alice';
    expect(() => propsOf({ custodians: `${role},${session}` })).toThrow(
      `KeymatStack: custodians: "${role}" and "${session}" are the same principal, "${role}"`,
    );
    expect(propsOf({ custodians: `${role},${session}`, sessionBoundRoles: 'KeyOps' }).custodians).toEqual([
      role,
      session,
    ]);
  });

  it("builds a stack whose approvers are a session-bound role and a session of it, as the workflow's own", () => {
    const approvers = ['arn:aws:iam::111122223333:role/KeyOps', 'arn:aws:sts::111122223333:assumed-role/KeyOps/alice'];
    const { template } = stackWith({ approvers, quorum: 2, sessionBoundRoles: ['KeyOps'] });
    const machines = Object.values(template.findResources('AWS::StepFunctions::StateMachine'));
    const deletion = machines.filter((m) => approvers.every((a) => JSON.stringify(m).includes(a)));
    expect(deletion).toHaveLength(1);
  });

  it('refuses two sessions of one role that is not session-bound: both are the role', () => {
    const session = (name: string) => `arn:aws:sts::111122223333:assumed-role/KeyOps/${name}`;
    expect(() => propsOf({ approvers: `${session('alice')},${session('bob')}` })).toThrow(
      `KeymatStack: approvers: "${session('alice')}" and "${session('bob')}" are the same principal, "arn:aws:iam::111122223333:role/KeyOps"`,
    );
    expect(
      propsOf({ approvers: `${session('alice')},${session('bob')}`, sessionBoundRoles: 'KeyOps' }).approvers,
    ).toEqual([session('alice'), session('bob')]);
  });

  it('refuses a pattern listed twice in different case', () => {
    expect(() =>
      propsOf({ approvers: 'arn:aws:iam::111122223333:role/Key*,arn:aws:iam::111122223333:role/key*' }),
    ).toThrow(
      'KeymatStack: approvers: "arn:aws:iam::111122223333:role/Key*" and "arn:aws:iam::111122223333:role/key*" are the same principal',
    );
  });
});

describe('FIPS', () => {
  it('sets AWS_USE_FIPS_ENDPOINT=true on every function with fips: true', () => {
    const { template } = stackWith({ fips: true });
    const functions = functionsOf(template);
    expect(functions.length).toBeGreaterThan(0);
    for (const [id, fn] of functions) {
      expect([id, fn.Properties.Environment.Variables.AWS_USE_FIPS_ENDPOINT]).toEqual([id, 'true']);
    }
  });

  it('takes fips=true from the context', () => {
    const { template } = synth({ fips: 'true' });
    template.allResourcesProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ AWS_USE_FIPS_ENDPOINT: 'true' }) },
    });
  });

  it('sets nothing without fips, or with fips false', () => {
    for (const template of [synth().template, synth({ fips: 'false' }).template]) {
      for (const [, fn] of functionsOf(template)) {
        expect(fn.Properties.Environment.Variables).not.toHaveProperty('AWS_USE_FIPS_ENDPOINT');
      }
    }
  });
});

describe('tracing', () => {
  const { stack, template } = synth();

  it('leaves the functions untraced and the state machine traced', () => {
    for (const [, fn] of functionsOf(template)) expect(fn.Properties.TracingConfig).toBeUndefined();
    template.hasResourceProperties('AWS::StepFunctions::StateMachine', { TracingConfiguration: { Enabled: true } });
    const xray = Object.values(template.findResources('AWS::IAM::Policy')).filter((p) =>
      JSON.stringify(p).includes('xray:PutTraceSegments'),
    );
    // Only the state machine's role may send traces.
    expect(xray).toHaveLength(1);
  });

  it("acknowledges cdk-nag's Serverless-LambdaTracing on each function, with the reason", () => {
    const findings = new ServerlessChecks(stack.node.root).validateScope(stack);
    expect(findings.violations.filter((v) => v.ruleName === 'Serverless-LambdaTracing')).toEqual([]);
    expect(UNTRACED_REASON).toContain('CloudTrail');
  });
});

describe.each([
  ['GovCloud', 'us-gov-west-1', 'aws-us-gov'],
  ['China', 'cn-north-1', 'aws-cn'],
])('a stack in %s (%s)', (_name, region, partition) => {
  const app = testApp();
  const stack = new KeymatStack(app, 'Keymat', {
    env: { account: '111122223333', region },
    keyScope: { keys: [`arn:${partition}:kms:${region}:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab`] },
    changeCalendars: ['freeze'],
    approvers: [`arn:${partition}:iam::111122223333:role/KeyApprovers`],
  });
  const template = Template.fromStack(stack);
  const text = JSON.stringify(template.toJSON());

  it('holds no arn:aws: literal', () => {
    expect(text).not.toMatch(/arn:aws:/);
  });

  it(`writes each ARN in the ${partition} partition, or in the deployment's own (AWS::Partition)`, () => {
    const literal = [...text.matchAll(/arn:([a-z-]*):/g)].map((m) => m[1]);
    expect(new Set(literal)).toEqual(new Set([partition]));
    const fromDeployment = text.match(/"arn:",\{"Ref":"AWS::Partition"\}/g) ?? [];
    expect(fromDeployment.length).toBeGreaterThan(0);
    // Every other "arn:" starts an ARN whose partition CloudFormation fills in.
    expect(text.match(/"arn:"/g)?.length).toBe(fromDeployment.length);
  });

  it('trusts the Lambda and Step Functions service principals of its partition', () => {
    const principals = Object.values(template.findResources('AWS::IAM::Role')).flatMap((r) =>
      (r as Resource).Properties.AssumeRolePolicyDocument.Statement.map((s: any) => s.Principal.Service),
    );
    expect(principals).toEqual(expect.arrayContaining(['lambda.amazonaws.com', 'states.amazonaws.com']));
  });
});
