import { Aws, CfnOutput, RemovalPolicy, Stack, Validations, type StackProps } from 'aws-cdk-lib';
import { Key } from 'aws-cdk-lib/aws-kms';
import { FunctionUrlAuthType } from 'aws-cdk-lib/aws-lambda';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { SubscriptionFilter, Topic } from 'aws-cdk-lib/aws-sns';
import { EmailSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import type { Construct } from 'constructs';
import { DeletionWorkflow } from '../workflows/deletion-workflow';
import type { TaskState } from '../workflows/states';
import type { KeymatConfig } from './config';
import { ExpiryScan } from './expiry-scan';
import { KeyScopeGrants } from './key-scope';
import { KeymatFunction } from './keymat-function';
import { RunbookDocument } from './runbook';

// bench/run.ts bundles the handlers from the same folders the stack deploys.
export { functionFolder } from './keymat-function';

export interface KeymatStackProps extends StackProps {
  readonly config: KeymatConfig;
}

/**
 * keymat's stack: one function per task, the SNS topics for approval requests and outcomes, and the deletion
 * workflow, with each function holding only the permissions its task needs, granted where the function is declared.
 */
export class KeymatStack extends Stack {
  readonly workflow: DeletionWorkflow;
  readonly functions: Record<TaskState, KeymatFunction>;
  readonly approvalPage: KeymatFunction<'ApprovalPage'>;
  readonly approvalTopic: Topic;
  readonly outcomeTopic: Topic;
  readonly expiryScan: ExpiryScan;
  readonly runbook: RunbookDocument;

  constructor(scope: Construct, id: string, props: KeymatStackProps) {
    super(scope, id, props);
    const { config } = props;
    const { logRetention } = config;
    const keys = new KeyScopeGrants(config.keyScope);

    const topicKey = new Key(this, 'TopicKey', {
      description: 'keymat: encrypts the approval and outcome topics',
      enableKeyRotation: true,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    const approvalTopic = new Topic(this, 'ApprovalTopic', { masterKey: topicKey, enforceSSL: true });
    const outcomeTopic = new Topic(this, 'OutcomeTopic', { masterKey: topicKey, enforceSSL: true });
    this.approvalTopic = approvalTopic;
    this.outcomeTopic = outcomeTopic;
    for (const email of config.notificationEmails) {
      // The general request only: each approver's personal link is for a subscription filtered on its `approver`.
      approvalTopic.addSubscription(
        new EmailSubscription(email, {
          filterPolicy: { event: SubscriptionFilter.stringFilter({ allowlist: ['ApprovalRequested'] }) },
        }),
      );
      outcomeTopic.addSubscription(new EmailSubscription(email));
    }

    // The approval page: links signed with a secret only keymat holds; its Function URL needs no AWS credentials,
    // the signature is what admits a request (and only the POST from the page decides).
    const linkSecret = new Secret(this, 'ApprovalLinkSecret', {
      description: 'keymat: HMAC key of the approval links',
      generateSecretString: { passwordLength: 48, excludePunctuation: true },
    });
    Validations.of(linkSecret).acknowledge({
      id: 'AwsSolutions-SMG4',
      reason:
        'rotating the link key invalidates every approval link in flight; rotate it by hand between changes (a new version of the secret)',
    });
    const approvalPage = new KeymatFunction(this, 'ApprovalPage', {
      config: { linkSecretArn: linkSecret.secretArn },
      logRetention,
    });
    this.approvalPage = approvalPage;
    const pageUrl = approvalPage.fn.addFunctionUrl({ authType: FunctionUrlAuthType.NONE });
    approvalPage.grant((grantee) => linkSecret.grantRead(grantee));

    const validateOrigin = new KeymatFunction(this, 'ValidateOrigin', {
      config: {
        account: Aws.ACCOUNT_ID,
        defaultWaitSeconds: config.defaultWaitSeconds,
        recentUseDays: config.recentUseDays,
      },
      logRetention,
    });
    validateOrigin.grantKeys(keys, 'kms:DescribeKey', 'kms:ListKeyRotations', 'kms:GetKeyLastUsage');
    validateOrigin.grantUnscoped(
      ['kms:ListAliases'],
      'kms:ListAliases supports no resource scoping (https://docs.aws.amazon.com/kms/latest/developerguide/kms-api-permissions-reference.html)',
    );

    const checkState = new KeymatFunction(this, 'CheckState', { config: {}, logRetention });

    const requestApproval = new KeymatFunction(this, 'RequestApproval', {
      config: {
        approvalTopicArn: approvalTopic.topicArn,
        web: { pageUrl: pageUrl.url, linkSecretArn: linkSecret.secretArn },
      },
      logRetention,
    });
    requestApproval.grantPublish(approvalTopic);
    requestApproval.grant((grantee) => linkSecret.grantRead(grantee));

    const deleteMaterial = new KeymatFunction(this, 'DeleteMaterial', {
      config: { outcomeTopicArn: outcomeTopic.topicArn },
      logRetention,
    });
    deleteMaterial.grantKeys(keys, 'kms:DescribeKey', 'kms:ListKeyRotations', 'kms:DeleteImportedKeyMaterial');
    deleteMaterial.grantPublish(outcomeTopic);

    const verifyPendingImport = new KeymatFunction(this, 'VerifyPendingImport', { config: {}, logRetention });
    verifyPendingImport.grantKeys(keys, 'kms:DescribeKey', 'kms:ListKeyRotations');

    const notifyOutcome = new KeymatFunction(this, 'NotifyOutcome', {
      config: { outcomeTopicArn: outcomeTopic.topicArn },
      logRetention,
    });
    notifyOutcome.grantPublish(outcomeTopic);

    this.functions = {
      ValidateOrigin: validateOrigin,
      CheckState: checkState,
      RequestApproval: requestApproval,
      DeleteMaterial: deleteMaterial,
      VerifyPendingImport: verifyPendingImport,
      NotifyOutcome: notifyOutcome,
    };

    const workflow = new DeletionWorkflow(this, 'Workflow', {
      functions: {
        ValidateOrigin: validateOrigin.fn,
        CheckState: checkState.fn,
        RequestApproval: requestApproval.fn,
        DeleteMaterial: deleteMaterial.fn,
        VerifyPendingImport: verifyPendingImport.fn,
        NotifyOutcome: notifyOutcome.fn,
      },
      approvalTimeout: config.approvalTimeout,
      quorum: config.quorum,
      allowedApprovers: config.approvers,
      verifyMaxAttempts: config.verifyMaxAttempts,
      taskTimeout: config.taskTimeout,
      logRetention,
      // Named, so that the approval page (on which RequestApproval depends for its URL) may read the executions.
      stateMachineName: `${this.stackName}-deletion`,
    });
    this.workflow = workflow;

    approvalPage.grant(
      (grantee) => workflow.grantTaskResponse(grantee),
      'states:SendTaskSuccess and states:SendTaskFailure support no resource scoping (task tokens are not resources); only the approval page holds them',
    );
    approvalPage.grant(
      (grantee) => workflow.grantRead(grantee, ['states:GetExecutionHistory']),
      "GetExecutionHistory on this workflow's own executions, to find the pending approval",
    );

    this.expiryScan = new ExpiryScan(this, 'ExpiryScanJob', {
      workflow,
      outcomeTopic,
      keys,
      policy: config.scanPolicy,
      limits: config.scanLimits,
      ...(config.scanSchedule && { schedule: config.scanSchedule }),
      logRetention,
    });

    this.runbook = new RunbookDocument(this, 'Runbook', { workflow });

    new CfnOutput(this, 'StateMachineArn', { value: workflow.stateMachine.stateMachineArn });
    new CfnOutput(this, 'RunbookDocumentName', { value: this.runbook.document.ref });
    new CfnOutput(this, 'ApprovalPageUrl', { value: pageUrl.url });
    new CfnOutput(this, 'ApprovalTopicArn', { value: approvalTopic.topicArn });
    new CfnOutput(this, 'OutcomeTopicArn', { value: outcomeTopic.topicArn });
  }
}
