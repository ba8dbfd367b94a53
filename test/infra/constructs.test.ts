import { App, Duration, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { Key } from 'aws-cdk-lib/aws-kms';
import { Function as LambdaFunction, type IFunction } from 'aws-cdk-lib/aws-lambda';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { AwsSolutionsChecks } from 'cdk-nag';
import { environmentOf } from '../../core/config';
import { DEFAULT_SCAN_LIMITS } from '../../infra/config';
import { ExpiryScan, type ExpiryScanProps } from '../../infra/expiry-scan';
import { KeyScopeGrants } from '../../infra/key-scope';
import { KeymatFunction } from '../../infra/keymat-function';
import { DeletionWorkflow } from '../../workflows/deletion-workflow';
import { TASK_STATES, type TaskState } from '../../workflows/states';

const KEY_ARN = 'arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab';
const TAG_SCOPE = { tag: { key: 'team', value: 'payments' } };

/** A stack whose functions are not bundled: these tests read the template, not the code. */
function bareStack(): Stack {
  return new Stack(new App({ context: { 'aws:cdk:bundling-stacks': [] } }), 'Bare');
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
  it('sets its environment from its configuration only through environmentOf', () => {
    const stack = bareStack();
    const config = { outcomeTopicArn: 'arn:aws:sns:us-east-1:111122223333:outcome' };
    new KeymatFunction(stack, 'NotifyOutcome', { config });
    Template.fromStack(stack).hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: { ...environmentOf('NotifyOutcome', config), NODE_OPTIONS: '--enable-source-maps' } },
    });
  });

  it('owns its role and log group, and its grants leave no unacknowledged finding', () => {
    const stack = bareStack();
    const fn = new KeymatFunction(stack, 'ValidateOrigin', {
      config: { account: '111122223333', defaultWaitSeconds: 30, recentUseDays: 30 },
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
    const keys = new KeyScopeGrants({ keyArns: [KEY_ARN] });
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
      keys: new KeyScopeGrants(TAG_SCOPE),
      policy: { expiresWithinDays: 30 },
      limits: DEFAULT_SCAN_LIMITS,
    };
    return { stack, props };
  }

  it('creates and owns its function, with a 15-minute timeout and its grants acknowledged', () => {
    const { stack, props } = setting();
    const scan = new ExpiryScan(stack, 'Scan', { ...props, schedule: 'rate(1 day)' });
    expect(scan.function.node.scope).toBe(scan);
    Template.fromStack(stack).hasResourceProperties('AWS::Lambda::Function', { Timeout: 900 });
    Template.fromStack(stack).resourceCountIs('AWS::Scheduler::Schedule', 1);
    expect(wildcardFindings(stack)).toEqual([]);
  });

  it('refuses a schedule that is not a cron or rate expression, naming it, before building anything', () => {
    const { stack, props } = setting();
    expect(() => new ExpiryScan(stack, 'Scan', { ...props, schedule: 'daily' })).toThrow(
      new RangeError("ExpiryScan: schedule must be a cron(...) or rate(...) expression; got 'daily'"),
    );
    expect(stack.node.tryFindChild('Scan')).toBeUndefined();
  });
});
