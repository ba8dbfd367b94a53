import { Match, type Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks, ServerlessChecks } from 'cdk-nag';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigurationError, LAMBDA_SERVICE_ERRORS, RETRYABLE_KMS_ERRORS, TERMINAL_ERRORS } from '../../../core/errors';
import { CHANGE_ID, KEY_ID_OR_ARN } from '../../../core/naming';
import { KEY_ADMIN_ACTIONS } from '../../../infra/attestation-key';
import { synthesizeDefinition } from '../../../infra/definition';
import { TASK_STATES } from '../../../workflows/states';
import { keymatStack as synth, propsOf, stackArn, statementsOf } from '../../helpers/cdk-stacks';
import { run } from '../../helpers/run-cli';

const aslValidator = require('asl-validator') as (definition: unknown) => {
  isValid: boolean;
  errorsText: () => string;
};

/** The CDK CLI the package pins, started as `npx cdk` would start it, without npx's own start-up. */
const CDK = require.resolve('aws-cdk/bin/cdk');

const KEY_ARN = 'arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab';
const outdirs: string[] = [];
afterAll(() => outdirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

const { template } = synth();
type Resource = { Type: string; Properties: Record<string, any> };

const actionsOf = (t: Template, state: string): string[] =>
  statementsOf(t, state).flatMap((s) => (Array.isArray(s.Action) ? s.Action : [s.Action]));

describe('functions', () => {
  it('has one arm64 function per task, the expiry scan, the approval page and the gateway, on the current Node runtime, untraced, with source maps and its own log group', () => {
    template.resourceCountIs('AWS::Lambda::Function', TASK_STATES.length + 3);
    template.allResourcesProperties('AWS::Lambda::Function', {
      Runtime: 'nodejs24.x',
      Architectures: ['arm64'],
      TracingConfig: Match.absent(),
      Environment: { Variables: Match.objectLike({ NODE_OPTIONS: '--enable-source-maps' }) },
      LoggingConfig: { LogGroup: Match.anyValue() },
    });
    template.resourceCountIs('AWS::Logs::LogGroup', TASK_STATES.length + 4);
  });

  it('uses no managed policy: each role is its own', () => {
    for (const role of Object.values(template.findResources('AWS::IAM::Role')) as Resource[]) {
      expect(role.Properties.ManagedPolicyArns).toBeUndefined();
    }
  });

  it('lets only DeleteMaterial delete key material, on tagged keys only by default', () => {
    for (const state of TASK_STATES) {
      expect(actionsOf(template, state).includes('kms:DeleteImportedKeyMaterial')).toBe(state === 'DeleteMaterial');
    }
    const kmsStatement = statementsOf(template, 'DeleteMaterial').find((s) =>
      (s.Action as string[]).includes('kms:DeleteImportedKeyMaterial'),
    );
    expect(kmsStatement).toMatchObject({
      Action: ['kms:DescribeKey', 'kms:ListKeyRotations', 'kms:DeleteImportedKeyMaterial'],
      Condition: { StringEquals: { 'aws:ResourceTag/keymat:managed': 'true' } },
    });
  });

  it('holds exactly the KMS actions each task needs', () => {
    const kmsActions = (state: string) =>
      actionsOf(template, state).filter(
        (a) => a.startsWith('kms:') && !a.includes('GenerateDataKey') && a !== 'kms:Decrypt',
      );
    expect(kmsActions('ValidateOrigin').sort()).toEqual(
      ['kms:DescribeKey', 'kms:GetKeyLastUsage', 'kms:ListAliases', 'kms:ListKeyRotations'].sort(),
    );
    expect(kmsActions('CheckState')).toEqual([]);
    expect(kmsActions('VerifyPendingImport').sort()).toEqual(['kms:DescribeKey', 'kms:ListKeyRotations']);
    expect(kmsActions('RequestApproval')).toEqual([]);
    expect(kmsActions('NotifyOutcome')).toEqual([]);
    expect(actionsOf(template, 'CheckState').some((a) => a.startsWith('sns:'))).toBe(false);
    expect(actionsOf(template, 'RequestApproval')).toContain('sns:Publish');
    expect(kmsActions('ProveRecovery').sort()).toEqual(
      ['kms:DescribeKey', 'kms:GetParametersForImport', 'kms:ImportKeyMaterial', 'kms:ListKeyRotations'].sort(),
    );
  });

  it('lets only the proving function get import parameters and reimport, each pinned to what a proof does', () => {
    for (const state of TASK_STATES) {
      const actions = actionsOf(template, state);
      for (const action of ['kms:GetParametersForImport', 'kms:ImportKeyMaterial']) {
        expect(actions.includes(action)).toBe(state === 'ProveRecovery');
      }
    }
    const tag = { 'aws:ResourceTag/keymat:managed': 'true' };
    expect(statementsOf(template, 'ProveRecovery')).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          Action: 'kms:GetParametersForImport',
          Condition: {
            StringEquals: {
              ...tag,
              'kms:KeyOrigin': 'EXTERNAL',
              'kms:WrappingKeySpec': 'RSA_4096',
              'kms:WrappingAlgorithm': ['RSAES_OAEP_SHA_256', 'RSA_AES_KEY_WRAP_SHA_256'],
            },
          },
        }),
        expect.objectContaining({
          Action: 'kms:ImportKeyMaterial',
          Condition: {
            StringEquals: {
              ...tag,
              'kms:KeyOrigin': 'EXTERNAL',
              'kms:ExpirationModel': ['KEY_MATERIAL_EXPIRES', 'KEY_MATERIAL_DOES_NOT_EXPIRE'],
            },
          },
        }),
      ]),
    );
  });

  it('scopes KMS permissions to listed key ARNs when configured', () => {
    const scoped = synth({ keyArns: KEY_ARN }).template;
    const statement = statementsOf(scoped, 'DeleteMaterial').find((s) =>
      (s.Action as string[]).includes('kms:DeleteImportedKeyMaterial'),
    );
    expect(statement).toMatchObject({ Resource: KEY_ARN });
    expect(statement?.Condition).toBeUndefined();
  });
});

describe('the approval page', () => {
  it('is, with the gateway, the only function that may send task decisions, and reads the link secret', () => {
    for (const name of [...TASK_STATES, 'ExpiryScan']) {
      expect(actionsOf(template, name).filter((a) => a.startsWith('states:SendTask'))).toEqual([]);
    }
    expect(actionsOf(template, 'ApprovalPage')).toEqual(
      expect.arrayContaining([
        'states:SendTaskSuccess',
        'states:SendTaskFailure',
        'states:GetExecutionHistory',
        'secretsmanager:GetSecretValue',
      ]),
    );
    expect(actionsOf(template, 'ApprovalPage').some((a) => a.startsWith('kms:') && a !== 'kms:Decrypt')).toBe(false);
  });

  it('has a Function URL (the signed link admits a request) and a generated secret', () => {
    template.hasResourceProperties('AWS::Lambda::Url', { AuthType: 'NONE' });
    template.resourceCountIs('AWS::SecretsManager::Secret', 1);
    template.hasOutput('ApprovalPageUrl', {});
  });
});

describe('the gateway', () => {
  it('has a Function URL that takes only SigV4-signed requests', () => {
    template.hasResourceProperties('AWS::Lambda::Url', {
      AuthType: 'AWS_IAM',
      TargetFunctionArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^Gateway'), 'Arn'] },
    });
  });

  it('starts and reads executions, answers approval tasks, and reads automation executions', () => {
    expect(actionsOf(template, 'Gateway').sort()).toEqual(
      expect.arrayContaining([
        'states:StartExecution',
        'states:DescribeExecution',
        'states:GetExecutionHistory',
        'states:SendTaskSuccess',
        'states:SendTaskFailure',
        'ssm:GetAutomationExecution',
      ]),
    );
    expect(statementsOf(template, 'Gateway')).toContainEqual(
      expect.objectContaining({
        Action: 'ssm:GetAutomationExecution',
        Resource: stackArn('ssm', 'automation-execution/*'),
      }),
    );
  });

  it('is configured with the state machine, the attestation key and the session-bound roles', () => {
    const gateway = (t: Template) =>
      (
        Object.entries(t.findResources('AWS::Lambda::Function')).find(([id]) =>
          id.startsWith('Gateway'),
        )![1] as Resource
      ).Properties.Environment.Variables;
    expect(gateway(template)).toMatchObject({
      STATE_MACHINE_ARN: { Ref: expect.stringMatching(/StateMachine/) },
      ATTESTATION_KEY_ARN: { 'Fn::GetAtt': [expect.stringMatching(/^AttestationKey/), 'Arn'] },
    });
    expect(gateway(template)).not.toHaveProperty('SESSION_BOUND_ROLES');
    expect(gateway(synth({ sessionBoundRoles: 'KeyOps, Breakglass' }).template).SESSION_BOUND_ROLES).toBe(
      'KeyOps,Breakglass',
    );
    expect(gateway(template)).not.toHaveProperty('KEYMAT_CUSTODIANS');
    expect(
      JSON.parse(gateway(synth({ custodians: 'arn:aws:iam::111122223333:role/Escrow' }).template).KEYMAT_CUSTODIANS),
    ).toEqual(['arn:aws:iam::111122223333:role/Escrow']);
  });
});

describe('the attestation key', () => {
  const keyId = Object.keys(template.findResources('AWS::KMS::Key', { Properties: { KeySpec: 'HMAC_256' } }))[0]!;
  const keyPolicy = () =>
    (template.findResources('AWS::KMS::Key')[keyId] as Resource).Properties.KeyPolicy.Statement as {
      Action: string | string[];
      Principal: { AWS: unknown };
      Condition?: unknown;
    }[];
  /** The role of a function, as the key policy names it. */
  const roleOf = (name: string) => {
    const fn = Object.entries(template.findResources('AWS::Lambda::Function')).find(([id]) => id.startsWith(name))!;
    return { 'Fn::GetAtt': [(fn[1] as Resource).Properties.Role['Fn::GetAtt'][0], 'Arn'] };
  };

  it('is an HMAC_256 key, retained and unrotated', () => {
    template.hasResource('AWS::KMS::Key', {
      DeletionPolicy: 'Retain',
      Properties: { KeySpec: 'HMAC_256', KeyUsage: 'GENERATE_VERIFY_MAC', EnableKeyRotation: false },
    });
  });

  it('has exactly the administration statement for the account and one statement per signer and verifier', () => {
    const statements = keyPolicy();
    const mac = { StringEquals: { 'kms:MacAlgorithm': 'HMAC_SHA_256' } };
    expect(statements).toEqual([
      expect.objectContaining({ Sid: 'AccountAdministersNotUses', Action: KEY_ADMIN_ACTIONS }),
      ...['ApprovalPage', 'ValidateOrigin', 'DeleteMaterial', 'ProveRecovery', 'ExpiryScan', 'Gateway'].map((name) => ({
        Effect: 'Allow',
        Action: ['ApprovalPage', 'ExpiryScan', 'Gateway'].includes(name) ? 'kms:GenerateMac' : 'kms:VerifyMac',
        Principal: { AWS: roleOf(name) },
        Resource: '*',
        Condition: mac,
      })),
    ]);
  });

  it('lets no IAM policy grant its use: the account statement has no kms:*, MAC or grant action', () => {
    const root = keyPolicy()[0]!;
    expect(root.Principal.AWS).toEqual({
      'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':iam::', { Ref: 'AWS::AccountId' }, ':root']],
    });
    for (const action of ['kms:*', 'kms:GenerateMac', 'kms:VerifyMac', 'kms:CreateGrant']) {
      expect(root.Action).not.toContain(action);
    }
    for (const name of ['ApprovalPage', 'ValidateOrigin', 'DeleteMaterial', 'ProveRecovery', 'ExpiryScan', 'Gateway']) {
      expect(actionsOf(template, name).filter((a) => a.endsWith('Mac'))).toEqual([]);
    }
  });
});

describe('operator policies', () => {
  const policies = () => Object.entries(template.findResources('AWS::IAM::ManagedPolicy')) as [string, Resource][];

  it('are two, Requesters and Approvers, with their ARNs as outputs', () => {
    expect(
      policies()
        .map(([id]) => id.replace(/[A-F0-9]{8}$/, ''))
        .sort(),
    ).toEqual(['Approvers', 'Requesters']);
  });

  it("allow the gateway URL with IAM auth, reading executions and this stack's outputs, and nothing that starts or answers", () => {
    for (const [, policy] of policies()) {
      const statements = policy.Properties.PolicyDocument.Statement as {
        Action: string | string[];
        Condition?: unknown;
      }[];
      const actions = statements.flatMap((st) => (Array.isArray(st.Action) ? st.Action : [st.Action]));
      expect(actions.sort()).toEqual(
        [
          'cloudformation:DescribeStacks',
          'lambda:InvokeFunction',
          'lambda:InvokeFunctionUrl',
          'states:DescribeExecution',
          'states:GetExecutionHistory',
          'states:ListExecutions',
        ].sort(),
      );
      expect(statements).toContainEqual(
        expect.objectContaining({
          Action: 'lambda:InvokeFunctionUrl',
          Condition: { StringEquals: { 'lambda:FunctionUrlAuthType': 'AWS_IAM' } },
        }),
      );
      expect(statements).toContainEqual(
        expect.objectContaining({
          Action: 'lambda:InvokeFunction',
          Condition: { Bool: { 'lambda:InvokedViaFunctionUrl': 'true' } },
        }),
      );
      expect(statements).toContainEqual(
        expect.objectContaining({ Action: 'cloudformation:DescribeStacks', Resource: { Ref: 'AWS::StackId' } }),
      );
    }
  });
});

describe('the expiry scan', () => {
  it('may list keys, read the scoped keys, start and describe executions, and nothing that deletes', () => {
    const actions = actionsOf(template, 'ExpiryScan');
    expect(actions).toEqual(
      expect.arrayContaining([
        'kms:ListKeys',
        'kms:DescribeKey',
        'kms:ListKeyRotations',
        'kms:ListResourceTags',
        'states:StartExecution',
        'states:DescribeExecution',
        'sns:Publish',
      ]),
    );
    expect(actions).not.toContain('kms:DeleteImportedKeyMaterial');
  });

  it('carries the policy and limits in its environment', () => {
    const fn = Object.entries(template.findResources('AWS::Lambda::Function')).find(([id]) =>
      id.startsWith('ExpiryScan'),
    )![1];
    const env = fn.Properties.Environment.Variables;
    expect(JSON.parse(env.SCAN_POLICY)).toEqual({ expiresWithinDays: 30, retireTag: 'keymat:retire-on' });
    expect(JSON.parse(env.SCAN_LIMITS)).toMatchObject({
      maxChanges: 10,
      rates: { DescribeKey: 1000, ListKeyRotations: 50 },
    });
  });

  it('is not scheduled by default', () => {
    template.resourceCountIs('AWS::Scheduler::Schedule', 0);
  });

  it('is scheduled by EventBridge Scheduler when configured', () => {
    const scheduled = synth({ scanSchedule: 'cron(0 6 * * ? *)', scanMaxChanges: '3' }).template;
    scheduled.hasResourceProperties('AWS::Scheduler::Schedule', {
      ScheduleExpression: 'cron(0 6 * * ? *)',
      Target: { Arn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^ExpiryScan'), 'Arn'] }, Input: '{"dryRun":false}' },
    });
  });
});

describe('the runbook document', () => {
  const doc = () => (Object.values(template.findResources('AWS::SSM::Document'))[0] as Resource).Properties;

  it('is an Automation document whose parameters are validated with the CLI patterns', () => {
    const { DocumentType, Content } = doc();
    expect(DocumentType).toBe('Automation');
    expect(Content.parameters.KeyId.allowedPattern).toBe(KEY_ID_OR_ARN.source);
    expect(Content.parameters.ChangeId.allowedPattern).toBe(CHANGE_ID.source);
    expect(new RegExp(Content.parameters.KeyMaterialId.allowedPattern).test('')).toBe(true);
    expect(new RegExp(Content.parameters.KeyMaterialId.allowedPattern).test('a'.repeat(64))).toBe(true);
    expect(new RegExp(Content.parameters.KeyMaterialId.allowedPattern).test('A'.repeat(64))).toBe(false);
    expect(new RegExp(Content.parameters.Reason.allowedPattern).test('retire "x"')).toBe(false);
    expect(new RegExp(KEY_ID_OR_ARN.source).test('alias/payroll')).toBe(false);
  });

  it('asks the gateway to start the change, waits for the outcome of the execution it names and fails unless it SUCCEEDED', () => {
    const steps = doc().Content.mainSteps as {
      name: string;
      action: string;
      inputs: Record<string, any>;
      outputs?: unknown;
    }[];
    expect(steps.map((s) => [s.name, s.action])).toEqual([
      ['StartChange', 'aws:invokeLambdaFunction'],
      ['WaitForOutcome', 'aws:waitForAwsResourceProperty'],
      ['AssertSucceeded', 'aws:assertAwsResourceProperty'],
    ]);
    expect(steps[0]!.inputs).toEqual({
      FunctionName: { Ref: expect.stringMatching(/^Gateway/) },
      InvocationType: 'RequestResponse',
      Payload: '{"runbook":{"automationExecutionId":"{{automation:EXECUTION_ID}}"}}',
    });
    expect(steps[0]!.outputs).toEqual([{ Name: 'ExecutionArn', Selector: '$.Payload.executionArn', Type: 'String' }]);
    expect(steps[1]!.inputs.executionArn).toBe('{{ StartChange.ExecutionArn }}');
    expect(steps[2]!.inputs).toMatchObject({
      executionArn: '{{ StartChange.ExecutionArn }}',
      DesiredValues: ['SUCCEEDED'],
    });
  });

  it('has no requester parameter: the gateway takes who ran the automation from SSM', () => {
    expect(Object.keys(doc().Content.parameters)).not.toContain('RequestedBy');
  });

  it('runs as a role that may invoke the gateway and describe executions, and start none', () => {
    const roles = template.findResources('AWS::IAM::Role', {
      Properties: { AssumeRolePolicyDocument: { Statement: [{ Principal: { Service: 'ssm.amazonaws.com' } }] } },
    });
    const [roleId] = Object.keys(roles);
    const actions = (Object.values(template.findResources('AWS::IAM::Policy')) as Resource[])
      .filter((p) => p.Properties.Roles.some((r: { Ref: string }) => r.Ref === roleId))
      .flatMap((p) => p.Properties.PolicyDocument.Statement)
      .flatMap((st: { Action: string | string[] }) => (Array.isArray(st.Action) ? st.Action : [st.Action]));
    expect(actions.sort()).toEqual(['lambda:InvokeFunction', 'states:DescribeExecution']);
  });
});

describe('topics', () => {
  it('encrypts both topics and refuses publishing without TLS', () => {
    template.resourceCountIs('AWS::SNS::Topic', 2);
    template.allResourcesProperties('AWS::SNS::Topic', { KmsMasterKeyId: Match.anyValue() });
    template.resourceCountIs('AWS::SNS::TopicPolicy', 2);
    template.allResourcesProperties('AWS::SNS::TopicPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        ]),
      },
    });
  });

  it('sends notification emails the general approval and recovery proof requests, never the personal links', () => {
    const withEmails = synth({ notificationEmails: 'secops@example.com' }).template;
    withEmails.hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'email',
      Endpoint: 'secops@example.com',
      FilterPolicy: { event: ['ApprovalRequested', 'RecoveryProofRequested'] },
    });
  });

  it("keeps undelivered notifications in one encrypted dead-letter queue that only keymat's topics may send to", () => {
    const withEmails = synth({ notificationEmails: 'secops@example.com,oncall@example.com' }).template;
    const queues = withEmails.findResources('AWS::SQS::Queue');
    expect(Object.values(queues)).toEqual([
      expect.objectContaining({
        Properties: { SqsManagedSseEnabled: true, MessageRetentionPeriod: 14 * 24 * 60 * 60 },
      }),
    ]);
    const [queueId] = Object.keys(queues);
    const subscriptions = Object.values(withEmails.findResources('AWS::SNS::Subscription'));
    expect(subscriptions).toHaveLength(4);
    for (const subscription of subscriptions) {
      expect(subscription.Properties.RedrivePolicy).toEqual({
        deadLetterTargetArn: { 'Fn::GetAtt': [queueId, 'Arn'] },
      });
    }
    const [policy] = Object.values(withEmails.findResources('AWS::SQS::QueuePolicy'));
    const statements = policy!.Properties.PolicyDocument.Statement as Record<string, any>[];
    expect(statements).toContainEqual(
      expect.objectContaining({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
    );
    const senders = statements.filter((s) => s.Effect === 'Allow');
    for (const sender of senders) {
      expect(sender).toMatchObject({ Action: 'sqs:SendMessage', Principal: { Service: 'sns.amazonaws.com' } });
    }
    const topics = Object.keys(withEmails.findResources('AWS::SNS::Topic')).map((id) => ({ Ref: id }));
    expect(topics).toHaveLength(2);
    expect(senders.map((s) => s.Condition.ArnEquals['aws:SourceArn'])).toEqual(expect.arrayContaining(topics));
    expect(senders).toHaveLength(topics.length);
  });

  it('creates no dead-letter queue without notification emails', () => {
    template.resourceCountIs('AWS::SQS::Queue', 0);
  });

  it('outputs the state machine and topic ARNs', () => {
    for (const name of [
      'StateMachineArn',
      'ApprovalTopicArn',
      'OutcomeTopicArn',
      'RunbookDocumentName',
      'GatewayUrl',
      'RequesterPolicyArn',
      'ApproverPolicyArn',
    ]) {
      template.hasOutput(name, {});
    }
  });
});

describe('the state machine', () => {
  const definition = synthesizeDefinition({}, { account: '111122223333', region: 'us-east-1' }) as {
    States: Record<string, Record<string, any>>;
  };
  const states = definition.States;

  it('is a Standard state machine logging ALL (without execution data) with X-Ray tracing', () => {
    template.hasResourceProperties('AWS::StepFunctions::StateMachine', {
      StateMachineType: 'STANDARD',
      TracingConfiguration: { Enabled: true },
      LoggingConfiguration: { Level: 'ALL', IncludeExecutionData: false },
    });
  });

  it('passes asl-validator', () => {
    const result = aslValidator(structuredClone(definition));
    expect(result.errorsText()).toBe('');
    expect(result.isValid).toBe(true);
  });

  it.each(['ValidateOrigin', 'CheckState', 'DeleteMaterial', 'VerifyPendingImport', 'NotifyOutcome'])(
    '%s retries transient errors with backoff, jitter and a bound, and never a terminal error',
    (name) => {
      const retriers = states[name]!.Retry as {
        ErrorEquals: string[];
        MaxAttempts: number;
        JitterStrategy: string;
        MaxDelaySeconds: number;
        BackoffRate: number;
      }[];
      const transient = retriers.find((r) => r.ErrorEquals.includes('KMSInternalException'))!;
      expect(transient.ErrorEquals).toEqual(
        expect.arrayContaining([...RETRYABLE_KMS_ERRORS, ...LAMBDA_SERVICE_ERRORS]),
      );
      expect(transient).toMatchObject({ MaxAttempts: 4, BackoffRate: 2, JitterStrategy: 'FULL', MaxDelaySeconds: 30 });
      for (const r of retriers) {
        expect(r.ErrorEquals).not.toContain('States.ALL');
        for (const terminal of TERMINAL_ERRORS) expect(r.ErrorEquals).not.toContain(terminal);
      }
      expect(states[name]!.TimeoutSeconds).toBe(60);
    },
  );

  it.each(['ValidateOrigin', 'CheckState', 'RequestApproval', 'DeleteMaterial', 'VerifyPendingImport'])(
    '%s sends every other error to NotifyOutcome',
    (name) => {
      expect(states[name]!.Catch).toContainEqual({
        ErrorEquals: ['States.ALL'],
        ResultPath: '$.error',
        Next: 'NotifyOutcome',
      });
    },
  );

  it('waits for the approval on a task token, with a timeout that has its own outcome and no retry', () => {
    const approval = states.RequestApproval!;
    expect(approval.Resource).toBe('arn:aws:states:::lambda:invoke.waitForTaskToken');
    expect(approval.Parameters.Payload['taskToken.$']).toBe('$$.Task.Token');
    expect(approval.TimeoutSeconds).toBe(86_400);
    expect(approval.Retry).toBeUndefined();
    expect(approval.Catch[0]).toEqual({
      ErrorEquals: ['States.Timeout', 'States.HeartbeatTimeout'],
      ResultPath: '$.error',
      Next: 'MarkApprovalTimedOut',
    });
    expect(states.MarkApprovalTimedOut!.Parameters.Error).toBe('ApprovalTimedOut');
  });

  it('retries VerificationPending within a bound, then ends VerificationFailed', () => {
    const verify = states.VerifyPendingImport!;
    expect(verify.Retry[0]).toMatchObject({ ErrorEquals: ['VerificationPending'], MaxAttempts: 7 });
    expect(verify.Catch[0]).toMatchObject({ ErrorEquals: ['VerificationPending'], Next: 'MarkVerificationFailed' });
    expect(states.MarkVerificationFailed!.Parameters.Error).toBe('VerificationFailed');
  });

  it('takes the wait from the input and fails under the error own name', () => {
    expect(states.WaitForPropagation).toMatchObject({ Type: 'Wait', SecondsPath: '$.input.waitSeconds' });
    expect(states.Failed).toEqual({ Type: 'Fail', ErrorPath: '$.error.Error', CausePath: '$.error.Cause' });
  });
});

describe('security checks', () => {
  it.each([
    ['the default tag scope', {}],
    ['a key ARN scope and a scan schedule', { keyArns: KEY_ARN, scanSchedule: 'rate(1 day)' }],
    ['a key tag and notification emails', { keyTag: 'keymat:managed=true', notificationEmails: 'secops@example.com' }],
  ])('cdk-nag AwsSolutions and Serverless find nothing unacknowledged with %s', (_scope, context) => {
    const target = synth(context).stack;
    for (const pack of [new AwsSolutionsChecks(target.node.root), new ServerlessChecks(target.node.root)]) {
      const report = pack.validateScope(target);
      expect(report.violations.map((v) => v.ruleName)).toEqual([]);
    }
  });
});

describe('configuration', () => {
  it.each([
    [{ approvalTimeoutSeconds: 'soon' }, "context approvalTimeoutSeconds must be a whole number; got 'soon'"],
    [
      { approvalTimeoutSeconds: '604801' },
      'context approvalTimeoutSeconds must be whole seconds from 1 minute to 7 days; got 604801',
    ],
    [
      { approvalTimeoutSeconds: '59' },
      'context approvalTimeoutSeconds must be whole seconds from 1 minute to 7 days; got 59',
    ],
    [{ keyArns: `${KEY_ARN},alias/payroll` }, "context keyArns must list KMS keys or key ARNs; got 'alias/payroll'"],
    [{ keyTag: 'novalue' }, "context keyTag must be key=value; got 'novalue'"],
    [{ keyArns: KEY_ARN, keyTag: 'a=b' }, 'context keyArns and keyTag are exclusive'],
    [
      { notificationEmails: 'not-an-email' },
      "notificationEmails must be a list of email addresses; got 'not-an-email'",
    ],
    [
      { logRetentionDays: '100' },
      'context logRetentionDays must be a CloudWatch Logs retention (RetentionDays); got 100',
    ],
    [{ recentUseDays: '3651' }, 'context recentUseDays must be whole days from 0 to 3650; got 3651'],
    [{ scanSchedule: 'daily' }, "context scanSchedule must be a cron(...) or rate(...) expression; got 'daily'"],
    [{ scanMaxChanges: '-1' }, 'context scanMaxChanges: '],
    [
      { members: JSON.stringify({ organizationId: 'o-a1b2c3d4e5', regions: ['eu-west-1', 'mars-1'] }) },
      "KeymatStack: members.regions[1]: a Region such as eu-west-1; got 'mars-1'",
    ],
    [{ approvers: 'arn:aws:iam::111122223333:user/alice,bob' }, '"bob" must be a principal ARN'],
    [{ custodians: 'carol' }, '"carol" must be a principal ARN'],
    [
      { sessionBoundRoles: 'arn:aws:iam::111122223333:role/KeyOps' },
      "KeymatStack: sessionBoundRoles must be a list of IAM role names (not ARNs); got 'arn:aws:iam::111122223333:role/KeyOps'",
    ],
    [{ fips: 'yes' }, "context fips must be true or false; got 'yes'"],
  ])('refuses %j naming the context value as typed, and the value', (context, message) => {
    expect(() => propsOf(context)).toThrow(message);
    expect(() => propsOf(context)).toThrow(ConfigurationError);
  });
});

describe('approvers', () => {
  it('takes principal ARNs and ARN patterns', () => {
    const approvers = [
      'arn:aws:iam::111122223333:user/alice',
      'arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_KeyApprovers_*/*',
    ];
    expect(propsOf({ approvers: approvers.join(',') }).approvers).toEqual(approvers);
  });

  it('fails the synth on a plain name, naming it', async () => {
    const out = mkdtempSync(join(tmpdir(), 'keymat-synth-'));
    outdirs.push(out);
    const result = await run(
      process.execPath,
      [CDK, 'synth', '--no-notices', '-q', '--output', out, '-c', 'approvers=bob'],
      {
        CDK_DISABLE_CLI_TELEMETRY: 'true',
      },
    );
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain('"bob" must be a principal ARN or ARN pattern');
  }, 180_000);
});

describe('a refused setting in cdk synth', () => {
  it.each([
    ['quorum=0', 'KeymatStack: quorum must be a whole number from 1 to 10; got 0'],
    [
      `members=${JSON.stringify({ organizationId: 'o-a1b2c3d4e5', regions: ['eu-west-1', 'mars-1'] })}`,
      "KeymatStack: members.regions[1]: a Region such as eu-west-1; got 'mars-1'",
    ],
  ])(
    '-c %s fails the synth with the one-line refusal and no stack trace',
    async (context, message) => {
      const out = mkdtempSync(join(tmpdir(), 'keymat-synth-'));
      outdirs.push(out);
      const result = await run(process.execPath, [CDK, 'synth', '--no-notices', '-q', '--output', out, '-c', context], {
        CDK_DISABLE_CLI_TELEMETRY: 'true',
      });
      expect(result.code).not.toBe(0);
      // The app's one line, then the CDK CLI's own line naming the app's exit.
      expect(result.stderr.split('\n')[0]).toBe(message);
      expect(result.stderr).not.toMatch(/^\s+at /m);
      expect(result.stderr).not.toContain('ConfigurationError');
    },
    180_000,
  );
});

describe('cdk synth', () => {
  it('synthesizes offline with no credentials, with no cdk-nag or CloudFormation validation finding', async () => {
    const out = mkdtempSync(join(tmpdir(), 'keymat-synth-'));
    outdirs.push(out);
    const env: NodeJS.ProcessEnv = {
      CDK_DISABLE_CLI_TELEMETRY: 'true',
      AWS_CONFIG_FILE: '/dev/null',
      AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
    };
    for (const name of ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN', 'AWS_PROFILE'])
      env[name] = '';
    const result = await run(process.execPath, [CDK, 'synth', '--no-notices', '-q', '--output', out], env);
    expect(result.stderr).not.toMatch(/AwsSolutions-|Serverless-/);
    expect(result.code).toBe(0);
    // aws-cdk-lib's built-in template validation (CloudFormation's schema rules) only warns: its report must be empty.
    // The in-process test stacks leave it out (test/helpers/cdk-stacks.ts); this is where it runs.
    const report = JSON.parse(readFileSync(join(out, 'validation-report.json'), 'utf8')) as {
      pluginReports: { pluginName: string; violations: { ruleName: string; description: string }[] }[];
    };
    const findings = report.pluginReports.flatMap((r) =>
      r.violations.map((v) => `${r.pluginName} ${v.ruleName}: ${v.description}`),
    );
    expect(findings).toEqual([]);
  }, 180_000);
});
