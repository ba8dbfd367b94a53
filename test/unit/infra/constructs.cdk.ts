import { Duration, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { Key } from 'aws-cdk-lib/aws-kms';
import { Function as LambdaFunction, type IFunction } from 'aws-cdk-lib/aws-lambda';
import { ScheduleExpression } from 'aws-cdk-lib/aws-scheduler';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { AwsSolutionsChecks } from 'cdk-nag';
import { environmentOf } from '../../../core/config';
import { AttestationKey, KEY_ADMIN_ACTIONS } from '../../../infra/attestation-key';
import { DEFAULT_SCAN_LIMITS } from '../../../infra/config';
import { ExpiryScan, type ExpiryScanProps } from '../../../infra/expiry-scan';
import { KeyScopeGrants } from '../../../infra/key-scope';
import { KeymatFunction } from '../../../infra/keymat-function';
import { DeletionWorkflow } from '../../../workflows/deletion-workflow';
import { TASK_STATES, type TaskState } from '../../../workflows/states';
import { testApp } from '../../helpers/cdk-stacks';

const KEY_ARN = 'arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab';
const TAG_SCOPE = { tag: { key: 'team', value: 'payments' } };
const MAC_KEY_ARN = 'arn:aws:kms:us-east-1:111122223333:key/mac';

/** A stack of its own in a test app (test/helpers/cdk-stacks.ts). */
function bareStack(): Stack {
  return new Stack(testApp(), 'Bare');
}

type Statement = { Action: string | string[]; Resource: unknown; Condition?: unknown };
function statementsOf(stack: Stack): Statement[] {
  return (
    Object.values(Template.fromStack(stack).findResources('AWS::IAM::Policy')) as {
      Properties: { PolicyDocument: { Statement: Statement[] } };
    }[]
  ).flatMap((p) => p.Properties.PolicyDocument.Statement);
}
/** The IAM5 (wildcard permission) findings cdk-nag has not seen acknowledged. */
const wildcardFindings = (stack: Stack) =>
  new AwsSolutionsChecks()
    .validateScope(stack)
    .violations.map((v) => v.ruleName)
    .filter((rule) => rule.startsWith('AwsSolutions-IAM5'));

describe('KeymatFunction', () => {
  it('sets its environment from its configuration through environmentOf, with source maps on and no tracing', () => {
    const stack = bareStack();
    const config = { outcomeTopicArn: 'arn:aws:sns:us-east-1:111122223333:outcome', eventBusName: 'default' };
    new KeymatFunction(stack, 'NotifyOutcome', { config });
    Template.fromStack(stack).hasResourceProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: Match.objectEquals({
          ...environmentOf('NotifyOutcome', config),
          NODE_OPTIONS: '--enable-source-maps',
        }),
      },
      Handler: 'index.handler',
      TracingConfig: Match.absent(),
    });
  });

  it('adds AWS_USE_FIPS_ENDPOINT=true with fips, and nothing else', () => {
    const stack = bareStack();
    new KeymatFunction(stack, 'CheckState', { config: {}, fips: true });
    Template.fromStack(stack).hasResourceProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: Match.objectEquals({ NODE_OPTIONS: '--enable-source-maps', AWS_USE_FIPS_ENDPOINT: 'true' }),
      },
    });
  });

  it('owns its role and log group, and its grants leave no unacknowledged finding', () => {
    const stack = bareStack();
    const fn = new KeymatFunction(stack, 'ValidateOrigin', {
      config: {
        scope: { account: '111122223333' },
        defaultWaitSeconds: 30,
        recentUseDays: 30,
        attestationKeyArn: MAC_KEY_ARN,
        eventBusName: 'default',
        changeCalendars: [],
      },
    });
    fn.grantKeys(new KeyScopeGrants(TAG_SCOPE), 'kms:DescribeKey');
    fn.grantUnscoped(['kms:ListAliases'], 'kms:ListAliases supports no resource scoping');
    fn.grantPublish(new Topic(stack, 'Topic', { masterKey: new Key(stack, 'TopicKey') }));
    expect(fn.role.node.scope).toBe(fn);
    expect(fn.logGroup.node.scope).toBe(fn);
    expect(wildcardFindings(stack)).toEqual([]);
  });

  it('refuses a timeout beyond Lambda bounds, naming it, before building anything', () => {
    const stack = bareStack();
    expect(() => new KeymatFunction(stack, 'CheckState', { config: {}, timeout: Duration.minutes(16) })).toThrow(
      new RangeError('CheckState: timeout must be from 1 to 900 seconds; got 16 minutes'),
    );
    expect(stack.node.tryFindChild('CheckState')).toBeUndefined();
  });
});

describe('KeyScopeGrants', () => {
  it('grants on tagged keys with an aws:ResourceTag condition and returns the Grant', () => {
    const stack = bareStack();
    const fn = new KeymatFunction(stack, 'CheckState', { config: {} });
    const grant = new KeyScopeGrants(TAG_SCOPE).grant(fn, 'kms:DescribeKey');
    expect(grant.success).toBe(true);
    expect(statementsOf(stack)).toContainEqual(
      expect.objectContaining({
        Action: 'kms:DescribeKey',
        Condition: { StringEquals: { 'aws:ResourceTag/team': 'payments' } },
      }),
    );
  });

  it('grants on listed keys with no condition and no wildcard to acknowledge', () => {
    const stack = bareStack();
    const fn = new KeymatFunction(stack, 'CheckState', { config: {} });
    const keys = new KeyScopeGrants({ keys: [KEY_ARN] });
    expect(keys.wildcardReason).toBeUndefined();
    fn.grantKeys(keys, 'kms:DescribeKey');
    expect(statementsOf(stack)).toContainEqual({ Action: 'kms:DescribeKey', Effect: 'Allow', Resource: KEY_ARN });
  });

  it('refuses a grant with no action', () => {
    const stack = bareStack();
    const fn = new KeymatFunction(stack, 'CheckState', { config: {} });
    expect(() => new KeyScopeGrants(TAG_SCOPE).grant(fn)).toThrow(
      new RangeError('a key scope grant needs at least one action; got none'),
    );
  });
});

describe('ExpiryScan', () => {
  /** A stack with a workflow of imported functions, and what an ExpiryScan in it needs. */
  function setting() {
    const stack = bareStack();
    const functions = Object.fromEntries(
      TASK_STATES.map((s) => [
        s,
        LambdaFunction.fromFunctionArn(stack, s, `arn:aws:lambda:us-east-1:111122223333:function:${s}`),
      ]),
    ) as Record<TaskState, IFunction>;
    const props: ExpiryScanProps = {
      workflow: new DeletionWorkflow(stack, 'Workflow', { functions, approvalTimeout: Duration.hours(1) }),
      outcomeTopic: new Topic(stack, 'Outcome'),
      attestation: new AttestationKey(stack, 'Attestation'),
      keys: new KeyScopeGrants(TAG_SCOPE),
      policy: { expiresWithinDays: 30 },
      limits: DEFAULT_SCAN_LIMITS,
    };
    return { stack, props };
  }

  it('creates and owns its function, with a 15-minute timeout and its grants acknowledged', () => {
    const { stack, props } = setting();
    const scan = new ExpiryScan(stack, 'Scan', { ...props, schedule: ScheduleExpression.rate(Duration.days(1)) });
    expect(scan.function.node.scope).toBe(scan);
    Template.fromStack(stack).hasResourceProperties('AWS::Lambda::Function', { Timeout: 900 });
    Template.fromStack(stack).resourceCountIs('AWS::Scheduler::Schedule', 1);
    expect(wildcardFindings(stack)).toEqual([]);
  });

  it('attests the changes it starts: its role may generate MACs with the attestation key', () => {
    const { stack, props } = setting();
    const scan = new ExpiryScan(stack, 'Scan', props);
    const template = Template.fromStack(stack);
    const [key] = Object.values(template.findResources('AWS::KMS::Key')) as {
      Properties: { KeyPolicy: { Statement: { Action: string; Principal: unknown }[] } };
    }[];
    const generate = key!.Properties.KeyPolicy.Statement.filter((s) => s.Action === 'kms:GenerateMac');
    expect(generate).toEqual([
      expect.objectContaining({
        Principal: { AWS: stack.resolve(scan.function.role.roleArn) },
      }),
    ]);
    const env = (
      Object.values(template.findResources('AWS::Lambda::Function'))[0] as {
        Properties: { Environment: { Variables: Record<string, unknown> } };
      }
    ).Properties.Environment.Variables;
    expect(env.ATTESTATION_KEY_ARN).toEqual(stack.resolve(props.attestation.keyArn));
  });
});

describe('AttestationKey', () => {
  it('is an HMAC_256 key, retained, not rotated, whose policy lets the account administer it and nothing more', () => {
    const stack = bareStack();
    new AttestationKey(stack, 'Attestation');
    const template = Template.fromStack(stack);
    template.hasResource('AWS::KMS::Key', {
      DeletionPolicy: 'Retain',
      Properties: { KeySpec: 'HMAC_256', KeyUsage: 'GENERATE_VERIFY_MAC', EnableKeyRotation: false },
    });
    const [key] = Object.values(template.findResources('AWS::KMS::Key')) as {
      Properties: { KeyPolicy: { Statement: { Action: string[] }[] } };
    }[];
    const statements = key!.Properties.KeyPolicy.Statement;
    expect(statements).toHaveLength(1);
    expect(statements[0]!.Action).toEqual(KEY_ADMIN_ACTIONS);
    for (const action of ['kms:*', 'kms:GenerateMac', 'kms:VerifyMac', 'kms:CreateGrant']) {
      expect(statements[0]!.Action).not.toContain(action);
    }
  });

  it('names each grantee in the key policy with the MAC algorithm, and adds nothing to its IAM policy', () => {
    const stack = bareStack();
    const key = new AttestationKey(stack, 'Attestation');
    const signer = new KeymatFunction(stack, 'CheckState', { config: {} });
    const grant = key.grantGenerateMac(signer);
    expect(grant.success).toBe(true);
    const [resource] = Object.values(Template.fromStack(stack).findResources('AWS::KMS::Key')) as {
      Properties: { KeyPolicy: { Statement: unknown[] } };
    }[];
    expect(resource!.Properties.KeyPolicy.Statement[1]).toEqual({
      Action: 'kms:GenerateMac',
      Condition: { StringEquals: { 'kms:MacAlgorithm': 'HMAC_SHA_256' } },
      Effect: 'Allow',
      Principal: { AWS: stack.resolve(signer.role.roleArn) },
      Resource: '*',
    });
    expect(statementsOf(stack).some((s) => JSON.stringify(s.Action).includes('Mac'))).toBe(false);
  });
});
