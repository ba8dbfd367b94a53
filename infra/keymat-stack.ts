import { Aws, CfnOutput, Duration, RemovalPolicy, Stack, Validations, type StackProps } from 'aws-cdk-lib';
import { Effect, PolicyStatement, Role, ServicePrincipal, type IGrantable, type IRole } from 'aws-cdk-lib/aws-iam';
import { Key } from 'aws-cdk-lib/aws-kms';
import { Architecture, FunctionUrlAuthType, Runtime, Tracing } from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup } from 'aws-cdk-lib/aws-logs';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { SubscriptionFilter, Topic } from 'aws-cdk-lib/aws-sns';
import { EmailSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import type { Construct } from 'constructs';
import { join } from 'node:path';
import { DeletionWorkflow } from '../workflows/deletion-workflow';
import { ExpiryScan } from './expiry-scan';
import { acknowledgeWildcards, executionsFinding } from './nag';
import { RunbookDocument } from './runbook';
import { TASK_STATES, type TaskState } from '../workflows/states';
import type { KeymatConfig, KeyScope } from './config';

export interface KeymatStackProps extends StackProps {
  readonly config: KeymatConfig;
}

/** The folder of a function: `DeleteMaterial` → `functions/delete-material`. */
type FunctionName = TaskState | 'ExpiryScan' | 'ApprovalPage';

export const functionFolder = (name: FunctionName): string =>
  join(__dirname, '..', 'functions', name.replace(/([a-z])([A-Z])/g, '$1-$2').toLowerCase());

/**
 * One keymat function: its own role writing only to its own log group (not the managed basic execution policy),
 * X-Ray tracing, arm64, the current Node runtime, and the pinned SDK bundled (the runtime's SDK may predate
 * KeyMaterialId and GetKeyLastUsage).
 */
function keymatFunction(
  scope: Construct,
  name: FunctionName,
  props: { environment: Record<string, string>; timeout: Duration; logRetention: KeymatConfig['logRetention'] },
): NodejsFunction {
  const role = new Role(scope, `${name}Role`, { assumedBy: new ServicePrincipal('lambda.amazonaws.com') });
  const logGroup = new LogGroup(scope, `${name}Logs`, { retention: props.logRetention });
  logGroup.grantWrite(role);
  const fn = new NodejsFunction(scope, name, {
    role,
    entry: join(functionFolder(name), 'handler.ts'),
    handler: 'handler',
    runtime: Runtime.NODEJS_24_X,
    architecture: Architecture.ARM_64,
    memorySize: 256,
    timeout: props.timeout,
    environment: { ...props.environment, NODE_OPTIONS: '--enable-source-maps' },
    logGroup,
    tracing: Tracing.ACTIVE,
    bundling: { minify: true, sourceMap: true, bundleAwsSDK: true },
  });
  Validations.of(fn).acknowledge({
    id: 'Serverless-LambdaDLQ',
    reason:
      'invoked synchronously (by Step Functions, whose Retry and Catch handle failures, or by the scheduler, whose summary reports the run); a DLQ applies only to asynchronous invocations',
  });
  return fn;
}

/**
 * keymat's stack: one function per task, the SNS topics for approval requests and outcomes, and the deletion
 * workflow, with each function holding only the permissions its task needs.
 */
export class KeymatStack extends Stack {
  readonly workflow: DeletionWorkflow;
  readonly functions: Record<TaskState, NodejsFunction>;
  readonly approvalTopic: Topic;
  readonly outcomeTopic: Topic;
  readonly expiryScan: ExpiryScan;
  readonly runbook: RunbookDocument;

  constructor(scope: Construct, id: string, props: KeymatStackProps) {
    super(scope, id, props);
    const { config } = props;

    const topicKey = new Key(this, 'TopicKey', {
      description: 'keymat: encrypts the approval and outcome topics',
      enableKeyRotation: true,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    this.approvalTopic = new Topic(this, 'ApprovalTopic', { masterKey: topicKey, enforceSSL: true });
    this.outcomeTopic = new Topic(this, 'OutcomeTopic', { masterKey: topicKey, enforceSSL: true });
    for (const email of config.notificationEmails) {
      // The general request only: each approver's personal link is for a subscription filtered on its `approver`.
      this.approvalTopic.addSubscription(
        new EmailSubscription(email, {
          filterPolicy: { event: SubscriptionFilter.stringFilter({ allowlist: ['ApprovalRequested'] }) },
        }),
      );
      this.outcomeTopic.addSubscription(new EmailSubscription(email));
    }

    const stateMachineName = `${this.stackName}-deletion`;
    // The approval page: links signed with a secret only keymat holds; its Function URL needs no AWS credentials,
    // the signature is what admits a request (and only the POST from the page decides).
    const linkSecret = new Secret(this, 'ApprovalLinkSecret', {
      description: 'keymat: HMAC key of the approval links',
      generateSecretString: { passwordLength: 48, excludePunctuation: true },
    });
    const approvalPage = keymatFunction(this, 'ApprovalPage', {
      environment: { LINK_SECRET_ARN: linkSecret.secretArn },
      timeout: Duration.seconds(30),
      logRetention: config.logRetention,
    });
    const pageUrl = approvalPage.addFunctionUrl({ authType: FunctionUrlAuthType.NONE });
    linkSecret.grantRead(approvalPage);

    const environment: Record<TaskState, Record<string, string>> = {
      ValidateOrigin: {
        KEYMAT_ACCOUNT_ID: Aws.ACCOUNT_ID,
        DEFAULT_WAIT_SECONDS: String(config.defaultWaitSeconds),
        RECENT_USE_DAYS: String(config.recentUseDays),
      },
      CheckState: {},
      RequestApproval: {
        APPROVAL_TOPIC_ARN: this.approvalTopic.topicArn,
        APPROVAL_PAGE_URL: pageUrl.url,
        LINK_SECRET_ARN: linkSecret.secretArn,
      },
      DeleteMaterial: { OUTCOME_TOPIC_ARN: this.outcomeTopic.topicArn },
      VerifyPendingImport: {},
      NotifyOutcome: { OUTCOME_TOPIC_ARN: this.outcomeTopic.topicArn },
    };
    const fns = {} as Record<TaskState, NodejsFunction>;
    for (const state of TASK_STATES) {
      fns[state] = keymatFunction(this, state, {
        environment: environment[state],
        timeout: Duration.seconds(30),
        logRetention: config.logRetention,
      });
    }
    this.functions = fns;

    const keys = keyScopeStatement(config.keyScope);
    keys(fns.ValidateOrigin, ['kms:DescribeKey', 'kms:ListKeyRotations', 'kms:GetKeyLastUsage']);
    // ListAliases cannot be scoped to a key (https://docs.aws.amazon.com/kms/latest/developerguide/kms-api-permissions-reference.html).
    fns.ValidateOrigin.addToRolePolicy(new PolicyStatement({ actions: ['kms:ListAliases'], resources: ['*'] }));
    keys(fns.DeleteMaterial, ['kms:DescribeKey', 'kms:ListKeyRotations', 'kms:DeleteImportedKeyMaterial']);
    keys(fns.VerifyPendingImport, ['kms:DescribeKey', 'kms:ListKeyRotations']);
    this.approvalTopic.grantPublish(fns.RequestApproval);
    linkSecret.grantRead(fns.RequestApproval);
    this.outcomeTopic.grantPublish(fns.DeleteMaterial);
    this.outcomeTopic.grantPublish(fns.NotifyOutcome);

    acknowledgeFindings(fns, config.keyScope);

    this.workflow = new DeletionWorkflow(this, 'Workflow', {
      functions: fns,
      approvalTimeout: config.approvalTimeout,
      quorum: config.quorum,
      allowedApprovers: config.approvers,
      verifyMaxAttempts: config.verifyMaxAttempts,
      taskTimeout: config.taskTimeout,
      logRetention: config.logRetention,
      stateMachineName,
    });

    this.expiryScan = new ExpiryScan(this, 'ExpiryScanJob', {
      fn: keymatFunction(this, 'ExpiryScan', {
        environment: {
          STATE_MACHINE_ARN: this.workflow.stateMachine.stateMachineArn,
          OUTCOME_TOPIC_ARN: this.outcomeTopic.topicArn,
          SCAN_POLICY: JSON.stringify(config.scanPolicy),
          SCAN_LIMITS: JSON.stringify(config.scanLimits),
        },
        timeout: Duration.minutes(15),
        logRetention: config.logRetention,
      }),
      stateMachine: this.workflow.stateMachine,
      outcomeTopic: this.outcomeTopic,
      keyScope: keys,
      ...(config.scanSchedule && { schedule: config.scanSchedule }),
    });
    acknowledgeWildcards(this.expiryScan.fn.role as IRole, {
      'Resource::*': 'kms:ListKeys and the X-Ray trace actions support no resource scoping',
      'Action::kms:GenerateDataKey*':
        "CDK's Topic.grantPublish for a KMS-encrypted topic; limited to the stack's own topic key",
      ...('tag' in config.keyScope && {
        'Resource::arn:<AWS::Partition>:kms:<AWS::Region>:<AWS::AccountId>:key/*': `limited by the condition aws:ResourceTag/${config.keyScope.tag.key}=${config.keyScope.tag.value}: the configured key scope`,
      }),
      [executionsFinding(this.workflow.stateMachine)]:
        "DescribeExecution on this workflow's own executions (CDK's grantExecution), to tell today's changes from new ones",
    });

    // SendTaskSuccess/Failure cannot be scoped to a state machine: only the approval page holds them.
    approvalPage.addToRolePolicy(
      new PolicyStatement({ actions: ['states:SendTaskSuccess', 'states:SendTaskFailure'], resources: ['*'] }),
    );
    // Named, not referenced: the state machine depends on RequestApproval, which depends on the page's URL.
    approvalPage.addToRolePolicy(
      new PolicyStatement({
        actions: ['states:GetExecutionHistory'],
        resources: [`arn:${Aws.PARTITION}:states:${Aws.REGION}:${Aws.ACCOUNT_ID}:execution:${stateMachineName}:*`],
      }),
    );
    acknowledgeWildcards(approvalPage.role as IRole, {
      'Resource::*':
        'states:SendTaskSuccess and states:SendTaskFailure support no resource scoping (task tokens are not resources); the X-Ray trace actions neither',
      [`Resource::arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:${stateMachineName}:*`]:
        "GetExecutionHistory on this workflow's own executions, to find the pending approval",
    });
    Validations.of(linkSecret).acknowledge({
      id: 'AwsSolutions-SMG4',
      reason:
        'rotating the link key invalidates every approval link in flight; rotate it by hand between changes (a new version of the secret)',
    });

    this.runbook = new RunbookDocument(this, 'Runbook', { stateMachine: this.workflow.stateMachine });

    new CfnOutput(this, 'StateMachineArn', { value: this.workflow.stateMachine.stateMachineArn });
    new CfnOutput(this, 'RunbookDocumentName', { value: this.runbook.document.ref });
    new CfnOutput(this, 'ApprovalPageUrl', { value: pageUrl.url });
    new CfnOutput(this, 'ApprovalTopicArn', { value: this.approvalTopic.topicArn });
    new CfnOutput(this, 'OutcomeTopicArn', { value: this.outcomeTopic.topicArn });
  }
}

/**
 * cdk-nag findings that are the design, each acknowledged on the one role or function it concerns, finding by
 * finding, with the reason a reviewer needs.
 */
function acknowledgeFindings(fns: Record<TaskState, NodejsFunction>, keyScope: KeyScope): void {
  const publishes: TaskState[] = ['RequestApproval', 'DeleteMaterial', 'NotifyOutcome'];
  const readsKeys: TaskState[] = ['ValidateOrigin', 'DeleteMaterial', 'VerifyPendingImport'];
  for (const state of TASK_STATES) {
    const wildcards: Record<string, string> = {
      'Resource::*':
        state === 'ValidateOrigin'
          ? 'kms:ListAliases and the X-Ray trace actions support no resource scoping'
          : 'the X-Ray trace actions (xray:PutTraceSegments, xray:PutTelemetryRecords) support no resource scoping',
    };
    if (publishes.includes(state)) {
      wildcards['Action::kms:GenerateDataKey*'] =
        "CDK's Topic.grantPublish for a KMS-encrypted topic; limited to the stack's own topic key";
    }
    if (readsKeys.includes(state) && 'tag' in keyScope) {
      wildcards['Resource::arn:<AWS::Partition>:kms:<AWS::Region>:<AWS::AccountId>:key/*'] =
        `limited by the condition aws:ResourceTag/${keyScope.tag.key}=${keyScope.tag.value}: the configured key scope`;
    }
    acknowledgeWildcards(fns[state].role as IRole, wildcards);
  }
}

/** Grants KMS actions on the configured keys only: the listed ARNs, or keys of this account carrying the tag. */
export type KeyGrant = (grantee: IGrantable, actions: string[]) => void;

function keyScopeStatement(scope: KeyScope): KeyGrant {
  return (grantee, actions) => {
    const statement =
      'keyArns' in scope
        ? new PolicyStatement({ effect: Effect.ALLOW, actions, resources: scope.keyArns })
        : new PolicyStatement({
            effect: Effect.ALLOW,
            actions,
            resources: [`arn:${Aws.PARTITION}:kms:${Aws.REGION}:${Aws.ACCOUNT_ID}:key/*`],
            conditions: { StringEquals: { [`aws:ResourceTag/${scope.tag.key}`]: scope.tag.value } },
          });
    grantee.grantPrincipal.addToPrincipalPolicy(statement);
  };
}
