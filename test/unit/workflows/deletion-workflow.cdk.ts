import { Duration, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Function as LambdaFunction, type IFunction } from 'aws-cdk-lib/aws-lambda';
import { AwsSolutionsChecks } from 'cdk-nag';
import { DeletionWorkflow, type DeletionWorkflowProps } from '../../../workflows/deletion-workflow';
import { AcknowledgingRole } from '../../../workflows/nag';
import { TASK_STATES, type TaskState } from '../../../workflows/states';
import { testApp } from '../../helpers/cdk-stacks';

const ACCOUNT = '111122223333';
const ALICE = `arn:aws:iam::${ACCOUNT}:user/alice`;
const BOB = `arn:aws:iam::${ACCOUNT}:user/bob`;

/** A bare stack holding one imported function per task state: the workflow is tested without keymat's stack. */
function bareStack(): { stack: Stack; functions: Record<TaskState, IFunction> } {
  const stack = new Stack(testApp(), 'Bare', { env: { account: ACCOUNT, region: 'eu-west-1' } });
  const functions = Object.fromEntries(
    TASK_STATES.map((state) => [
      state,
      LambdaFunction.fromFunctionArn(stack, state, `arn:aws:lambda:eu-west-1:${ACCOUNT}:function:${state}`),
    ]),
  ) as Record<TaskState, IFunction>;
  return { stack, functions };
}

function workflowIn(overrides: Partial<DeletionWorkflowProps> = {}) {
  const { stack, functions } = bareStack();
  const workflow = new DeletionWorkflow(stack, 'Workflow', {
    functions,
    approvalTimeout: Duration.hours(1),
    ...overrides,
  });
  return { stack, workflow };
}

type Statement = { Action: string | string[]; Resource: unknown };
function statementsOf(stack: Stack, roleLogicalIdPrefix: string): Statement[] {
  const policies = Object.values(Template.fromStack(stack).findResources('AWS::IAM::Policy')) as {
    Properties: { Roles: { Ref: string }[]; PolicyDocument: { Statement: Statement[] } };
  }[];
  return policies
    .filter((p) => p.Properties.Roles.some((r) => r.Ref.startsWith(roleLogicalIdPrefix)))
    .flatMap((p) => p.Properties.PolicyDocument.Statement);
}

describe('DeletionWorkflow props', () => {
  it.each<[string, Partial<DeletionWorkflowProps>, string]>([
    ['quorum 0', { quorum: 0 }, 'DeletionWorkflow: quorum must be a whole number from 1 to 10; got 0'],
    ['a fractional quorum', { quorum: 1.5 }, 'quorum must be a whole number from 1 to 10; got 1.5'],
    [
      'fewer distinct approvers than the quorum',
      { quorum: 3, allowedApprovers: [ALICE, BOB] },
      `DeletionWorkflow: quorum 3 cannot be reached by the 2 approvers listed (${ALICE}, ${BOB})`,
    ],
    [
      'approvers that differ only in case',
      { quorum: 2, allowedApprovers: ['arn:aws:iam::111122223333:user/Bob', 'arn:aws:iam::111122223333:user/bob'] },
      'DeletionWorkflow: allowedApprovers: "arn:aws:iam::111122223333:user/Bob" and "arn:aws:iam::111122223333:user/bob" are the same principal, "arn:aws:iam::111122223333:user/bob"',
    ],
    [
      'a role and a session of it, the role not session-bound',
      {
        quorum: 2,
        allowedApprovers: [`arn:aws:iam::${ACCOUNT}:role/KeyOps`, `arn:aws:sts::${ACCOUNT}:assumed-role/KeyOps/alice`],
      },
      `DeletionWorkflow: allowedApprovers: "arn:aws:iam::${ACCOUNT}:role/KeyOps" and "arn:aws:sts::${ACCOUNT}:assumed-role/KeyOps/alice" are the same principal`,
    ],
    [
      'a plain name among the approvers',
      { allowedApprovers: ['bob'] },
      'DeletionWorkflow: allowedApprovers: "bob" must be a principal ARN or ARN pattern',
    ],
    ['verifyMaxAttempts 0', { verifyMaxAttempts: 0 }, 'verifyMaxAttempts must be a whole number from 1 to 20; got 0'],
    [
      'verifyMaxAttempts 21',
      { verifyMaxAttempts: 21 },
      'verifyMaxAttempts must be a whole number from 1 to 20; got 21',
    ],
    [
      'negative transientMaxAttempts',
      { transientMaxAttempts: -1 },
      'transientMaxAttempts must be a whole number from 0 to 10; got -1',
    ],
    ['a zero approvalTimeout', { approvalTimeout: Duration.seconds(0) }, 'approvalTimeout must be whole seconds'],
    ['a fractional taskTimeout', { taskTimeout: Duration.millis(1500) }, 'taskTimeout must be whole seconds'],
    ['an invalid stateMachineName', { stateMachineName: 'my machine' }, 'stateMachineName must be 1 to 80 letters'],
  ])('refuses %s, naming the prop and the value, and builds nothing', (_label, overrides, message) => {
    const { stack, functions } = bareStack();
    const before = stack.node.children.length;
    let thrown: unknown;
    try {
      new DeletionWorkflow(stack, 'Workflow', { functions, approvalTimeout: Duration.hours(1), ...overrides });
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(RangeError);
    expect((thrown as RangeError).name).toBe('RangeError');
    expect((thrown as RangeError).message).toContain(message);
    expect(stack.node.children).toHaveLength(before);
    expect(stack.node.tryFindChild('Workflow')).toBeUndefined();
  });

  it('refuses a missing task function, naming the state', () => {
    const { stack, functions } = bareStack();
    const rest: Partial<Record<TaskState, IFunction>> = { ...functions };
    delete rest.CheckState;
    expect(
      () =>
        new DeletionWorkflow(stack, 'Workflow', {
          functions: rest as Record<TaskState, IFunction>,
          approvalTimeout: Duration.hours(1),
        }),
    ).toThrow(new RangeError('DeletionWorkflow: functions must have one function per task state; missing CheckState'));
    expect(stack.node.tryFindChild('Workflow')).toBeUndefined();
  });
});

describe('DeletionWorkflow', () => {
  it('invokes the functions it receives and creates none', () => {
    const { stack } = workflowIn({ quorum: 2, allowedApprovers: [ALICE, BOB] });
    const template = Template.fromStack(stack);
    template.resourceCountIs('AWS::Lambda::Function', 0);
    template.resourceCountIs('AWS::StepFunctions::StateMachine', 1);
    const definition = JSON.stringify(
      (Object.values(template.findResources('AWS::StepFunctions::StateMachine'))[0] as { Properties: unknown })
        .Properties,
    );
    for (const state of TASK_STATES) expect(definition).toContain(`function:${state}`);
  });

  it('keeps a session-bound role and a session of it as two approvers', () => {
    const approvers = [`arn:aws:iam::${ACCOUNT}:role/KeyOps`, `arn:aws:sts::${ACCOUNT}:assumed-role/KeyOps/alice`];
    const { stack } = workflowIn({ quorum: 2, allowedApprovers: approvers, sessionBoundRoles: ['KeyOps'] });
    const machine = Object.values(Template.fromStack(stack).findResources('AWS::StepFunctions::StateMachine'))[0];
    for (const approver of approvers) expect(JSON.stringify(machine)).toContain(approver);
  });

  it("gives the deployment's approval rules to ValidateOrigin alone and counts approvals against the plan's quorum", () => {
    const { stack } = workflowIn({ quorum: 2, allowedApprovers: [ALICE, BOB] });
    const machine = Object.values(Template.fromStack(stack).findResources('AWS::StepFunctions::StateMachine'))[0] as {
      Properties: { DefinitionString: { 'Fn::Join': [string, unknown[]] } };
    };
    // The definition's text, with the partition's reference read as `aws`.
    const text = machine.Properties.DefinitionString['Fn::Join'][1]
      .map((part) => (typeof part === 'string' ? part : 'aws'))
      .join('');
    const states = (JSON.parse(text) as { States: Record<string, Record<string, unknown>> }).States;
    const withRules = Object.entries(states).filter(([, state]) => JSON.stringify(state).includes('"rules"'));
    expect(withRules.map(([name]) => name)).toEqual(['ValidateOrigin']);
    expect(states.ValidateOrigin?.Parameters).toMatchObject({
      rules: { quorum: 2, allowedApprovers: [ALICE, BOB] },
    });
    const quorumReached = { Variable: '$.approvalCount.given', NumericGreaterThanEqualsPath: '$.plan.rules.quorum' };
    expect(states.QuorumReached?.Choices).toEqual([
      {
        And: [{ Variable: '$.input.restore', BooleanEquals: true }, quorumReached],
        Next: 'GetImportParameters',
      },
      { ...quorumReached, Next: 'DeleteMaterial' },
    ]);
  });

  it('has every cdk-nag finding of its role acknowledged, for imported functions too', () => {
    const { stack } = workflowIn();
    const report = new AwsSolutionsChecks().validateScope(stack);
    expect(report.violations.map((v) => v.ruleName)).toEqual([]);
  });
});

function grantee(stack: Stack, id = 'Grantee'): AcknowledgingRole {
  return new AcknowledgingRole(stack, id, { assumedBy: new ServicePrincipal('lambda.amazonaws.com') });
}

describe('DeletionWorkflow grants', () => {
  it('grants starting executions on the state machine only', () => {
    const { stack, workflow } = workflowIn();
    const grant = workflow.grantStartExecution(grantee(stack, 'Starter'));
    expect(grant.success).toBe(true);
    expect(statementsOf(stack, 'Starter')).toEqual([
      expect.objectContaining({
        Action: 'states:StartExecution',
        Resource: { Ref: expect.stringMatching(/^Workflow/) },
      }),
    ]);
  });

  it('grants reading executions by name when the state machine is named, so an invoked function may hold it', () => {
    const { stack, workflow } = workflowIn({ stateMachineName: 'keymat-deletion' });
    const grant = workflow.grantRead(grantee(stack, 'Reader'));
    expect(grant.principalStatements).toHaveLength(1);
    const [statement] = statementsOf(stack, 'Reader');
    expect(statement!.Action).toEqual(['states:DescribeExecution', 'states:GetExecutionHistory']);
    expect(JSON.stringify(statement!.Resource)).toContain(':execution:keymat-deletion:*');
  });

  it('grants only the read actions asked for, on this workflow executions', () => {
    const { stack, workflow } = workflowIn();
    workflow.grantRead(grantee(stack, 'Describer'), ['states:DescribeExecution']);
    const [statement] = statementsOf(stack, 'Describer');
    expect(statement!.Action).toBe('states:DescribeExecution');
    expect(JSON.stringify(statement!.Resource)).toMatch(/:execution:.*Fn::Split.*:\*/);
  });

  it('grants listing executions on the state machine itself, beside the reads on its executions', () => {
    const { stack, workflow } = workflowIn({ stateMachineName: 'keymat-deletion' });
    const grant = workflow.grantRead(grantee(stack, 'Lister'), ['states:DescribeExecution', 'states:ListExecutions']);
    expect(grant.success).toBe(true);
    const [onExecutions, onMachine] = statementsOf(stack, 'Lister');
    expect(onExecutions!.Action).toBe('states:DescribeExecution');
    expect(JSON.stringify(onExecutions!.Resource)).toContain(':execution:keymat-deletion:*');
    expect(onMachine!.Action).toBe('states:ListExecutions');
    expect(JSON.stringify(onMachine!.Resource)).toContain(':stateMachine:keymat-deletion"');
  });

  it('gives the same read statements for a policy that is not a principal own', () => {
    const { workflow } = workflowIn();
    const statements = workflow.readStatements(['states:GetExecutionHistory', 'states:ListExecutions']);
    expect(statements.map((st) => st.actions)).toEqual([['states:GetExecutionHistory'], ['states:ListExecutions']]);
    expect(() => workflow.readStatements([])).toThrow(RangeError);
  });

  it('refuses a read grant with no action and grants nothing', () => {
    const { stack, workflow } = workflowIn();
    const role = grantee(stack, 'Nobody');
    expect(() => workflow.grantRead(role, [])).toThrow(
      new RangeError('DeletionWorkflow.grantRead: actions must name at least one action'),
    );
    expect(statementsOf(stack, 'Nobody')).toEqual([]);
  });

  it('grants to any grantee, not only an AcknowledgingRole', () => {
    const { stack, workflow } = workflowIn();
    const role = new Role(stack, 'Plain', { assumedBy: new ServicePrincipal('ssm.amazonaws.com') });
    expect(workflow.grantStartExecution(role).success).toBe(true);
  });

  it('grants task responses, which support no resource scoping, without the heartbeat', () => {
    const { stack, workflow } = workflowIn();
    workflow.grantTaskResponse(grantee(stack, 'Page'));
    expect(statementsOf(stack, 'Page')).toEqual([
      expect.objectContaining({ Action: ['states:SendTaskSuccess', 'states:SendTaskFailure'], Resource: '*' }),
    ]);
  });
});

describe('AcknowledgingRole', () => {
  it('acknowledges the wildcards a grant adds, so cdk-nag finds nothing', () => {
    const { stack, workflow } = workflowIn();
    const role = grantee(stack);
    role.allow((g) => workflow.grantTaskResponse(g), 'task tokens are not resources');
    role.allow((g) => workflow.grantRead(g), "this workflow's own executions");
    const report = new AwsSolutionsChecks().validateScope(stack);
    expect(report.violations.map((v) => v.ruleName)).toEqual([]);
  });

  it('refuses a grant that adds a wildcard with no reason, naming the finding', () => {
    const { stack, workflow } = workflowIn();
    const role = grantee(stack);
    let thrown: unknown;
    try {
      role.allow((g) => workflow.grantTaskResponse(g));
    } catch (err) {
      thrown = err;
    }
    expect((thrown as Error).name).toBe('Error');
    expect((thrown as Error).message).toMatch(/^Bare\/Grantee: a grant adds Resource::\* with no reason/);
    expect(new AwsSolutionsChecks().validateScope(stack).violations.map((v) => v.ruleName)).toEqual([
      'AwsSolutions-IAM5[Resource::*]',
    ]);
  });

  it('needs no reason for a grant without wildcards', () => {
    const { stack, workflow } = workflowIn();
    expect(grantee(stack).allow((g) => workflow.grantStartExecution(g)).success).toBe(true);
  });
});
