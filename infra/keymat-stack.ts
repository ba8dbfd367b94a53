import {
  Arn,
  ArnFormat,
  Aws,
  CfnOutput,
  Duration,
  RemovalPolicy,
  Stack,
  Validations,
  type StackProps,
} from 'aws-cdk-lib';
import { AccessLogFormat } from 'aws-cdk-lib/aws-apigateway';
import { EventBus, type IEventBus } from 'aws-cdk-lib/aws-events';
import { HttpApi, HttpMethod, HttpStage, LogGroupLogDestination } from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpJwtAuthorizer } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import { Grant, ManagedPolicy, PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { Key } from 'aws-cdk-lib/aws-kms';
import { LogGroup, type RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Function as LambdaFunction, FunctionUrlAuthType, type IFunction } from 'aws-cdk-lib/aws-lambda';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import type { IStateMachine } from 'aws-cdk-lib/aws-stepfunctions';
import { SubscriptionFilter, Topic } from 'aws-cdk-lib/aws-sns';
import { EmailSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { DeletionWorkflow } from '../workflows/deletion-workflow';
import { acknowledge, wildcardFindings } from '../workflows/nag';
import { CALENDAR_ARN, EVENT_SOURCE, FLEET_SCAN_STATE_MACHINE_OUTPUT } from '../core/naming';
import type { MemberActingFunction } from '../core/organisation';

import type { TaskState } from '../workflows/states';
import { AttestationKey } from './attestation-key';
import { resolveProps, type ApprovalPageIdentity, type KeymatProps } from './config';
import { ExpiryScan } from './expiry-scan';
import { KeymatFunction } from './keymat-function';
import { MemberAccess } from './members';
import { PROOF_CONDITIONS } from './proof-conditions';
import { RunbookDocument } from './runbook';

/** The stack's props: keymat's own (each optional, with its default) and the stack's (`env`, `description`, …). */
export interface KeymatStackProps extends StackProps, KeymatProps {}

/**
 * keymat's stack: one function per task, the SNS topics for approval requests and outcomes, and the deletion
 * workflow, with each function holding only the permissions its task needs, granted where the function is declared.
 *
 * People reach the workflow only through the gateway (a Function URL with IAM auth, so the caller is the signer of
 * the request) and the approval page: these two alone answer approval tasks, and the gateway and the expiry scan alone
 * start changes. Each start and decision is MACed with the attestation key, whose key policy alone says who may sign
 * (the gateway, the page, the scan) and verify (ValidateOrigin, DeleteMaterial). The `Requesters` and `Approvers`
 * managed policies are what people are given: invoking the gateway's URL, reading executions and this stack's
 * outputs and, with members, invoking the fleet doctor; nothing that starts or answers anything directly.
 */
export class KeymatStack extends Stack {
  readonly workflow: DeletionWorkflow;
  /** One function per task; CheckChangeWindow only when the configuration names change calendars. */
  readonly functions: Record<TaskState, KeymatFunction> & { readonly CheckChangeWindow?: KeymatFunction };
  /** The EventBridge bus the change events go to. */
  readonly eventBus: IEventBus;
  readonly approvalPage: KeymatFunction<'ApprovalPage'>;
  /** The HTTP API in front of the approval page, in identity mode (`approvalPageIdentity`); otherwise undefined. */
  readonly approvalPageApi: HttpApi | undefined;
  readonly approvalTopic: Topic;
  readonly outcomeTopic: Topic;
  readonly expiryScan: ExpiryScan;
  /** The fleet doctor (`keymat org doctor` invokes it), only with `members`; otherwise undefined. */
  readonly orgDoctor: KeymatFunction<'OrgDoctor'> | undefined;
  readonly runbook: RunbookDocument;
  readonly gateway: KeymatFunction<'Gateway'>;
  readonly attestation: AttestationKey;
  readonly requesterPolicy: ManagedPolicy;
  readonly approverPolicy: ManagedPolicy;

  constructor(scope: Construct, id: string, props: KeymatStackProps = {}) {
    // Before super: a refused value leaves nothing in the tree.
    const config = resolveProps(props);
    super(scope, id, props);
    const { logRetention, keys } = config;
    // With members: the acting functions' roles get the fixed names the member roles trust, and may assume them.
    const memberAccess = config.members && new MemberAccess(config.members, this.stackName);
    const acting = (fn: MemberActingFunction) => memberAccess && { roleName: memberAccess.roleName(fn) };
    // What every function of the stack shares: its logs' retention, and whether it calls FIPS endpoints.
    const functionProps = { logRetention, fips: config.fips };
    const attestation = new AttestationKey(this, 'AttestationKey');
    this.attestation = attestation;
    const attestationKeyArn = attestation.keyArn;

    // Change events go to the configured bus; freeze windows and the ticket check only when configured.
    this.eventBus = eventBusOf(this, config.eventBus);
    // The functions name the bus as configured: by ARN, a bus of another account is reached too.
    const events = {
      eventBusName: typeof config.eventBus === 'string' ? config.eventBus : this.eventBus.eventBusArn,
    };
    // keymat's own events only: a function may not put an event of another source on the bus.
    const grantPutEvents = (fn: KeymatFunction): Grant =>
      fn.grant((grantee) =>
        Grant.addToPrincipal({
          grantee,
          actions: ['events:PutEvents'],
          resourceArns: [this.eventBus.eventBusArn],
          conditions: { StringEquals: { 'events:source': EVENT_SOURCE } },
        }),
      );
    const changeCalendars = [...config.changeCalendars];
    const calendarArns = changeCalendars.map((name) =>
      CALENDAR_ARN.test(name) ? name : `arn:${Aws.PARTITION}:ssm:${Aws.REGION}:${Aws.ACCOUNT_ID}:document/${name}`,
    );
    const grantCalendars = (fn: KeymatFunction): Grant | undefined =>
      calendarArns.length === 0
        ? undefined
        : fn.grant((grantee) =>
            Grant.addToPrincipal({ grantee, actions: ['ssm:GetCalendarState'], resourceArns: calendarArns }),
          );

    const topicKey = new Key(this, 'TopicKey', {
      description: 'keymat: encrypts the approval and outcome topics',
      enableKeyRotation: true,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    const approvalTopic = new Topic(this, 'ApprovalTopic', { masterKey: topicKey, enforceSSL: true });
    const outcomeTopic = new Topic(this, 'OutcomeTopic', { masterKey: topicKey, enforceSSL: true });
    this.approvalTopic = approvalTopic;
    this.outcomeTopic = outcomeTopic;
    const deadLetterQueue = config.notificationEmails.length > 0 ? notificationsDeadLetterQueue(this) : undefined;
    for (const email of config.notificationEmails) {
      // The general requests only (the approval request, and the recovery proof request to the custodians): each
      // approver's personal link is for a subscription filtered on its `approver`.
      approvalTopic.addSubscription(
        new EmailSubscription(email, {
          filterPolicy: {
            event: SubscriptionFilter.stringFilter({ allowlist: ['ApprovalRequested', 'RecoveryProofRequested'] }),
          },
          deadLetterQueue,
        }),
      );
      outcomeTopic.addSubscription(new EmailSubscription(email, { deadLetterQueue }));
    }

    // The approval page: links signed with a secret only keymat holds; its Function URL needs no AWS credentials,
    // the signature is what admits a request (and only the POST from the page decides). In identity mode an HTTP API
    // with a JWT authorizer replaces the Function URL, and the page also checks who is signed in.
    const linkSecret = new Secret(this, 'ApprovalLinkSecret', {
      description: 'keymat: HMAC key of the approval links',
      generateSecretString: { passwordLength: 48, excludePunctuation: true },
    });
    Validations.of(linkSecret).acknowledge({
      id: 'AwsSolutions-SMG4',
      reason:
        'rotating the link key invalidates every approval link in flight; rotate it by hand between changes (a new version of the secret)',
    });
    const identity = config.approvalPageIdentity;
    const approvalPage = new KeymatFunction(this, 'ApprovalPage', {
      config: {
        linkSecretArn: linkSecret.secretArn,
        attestationKeyArn,
        ...(identity && { identityClaim: identity.claim }),
        ...events,
      },
      ...functionProps,
    });
    grantPutEvents(approvalPage);
    this.approvalPage = approvalPage;
    this.approvalPageApi = identity && approvalPageApi(this, approvalPage, identity, logRetention);
    const pageUrl = this.approvalPageApi
      ? `${this.approvalPageApi.apiEndpoint}${APPROVAL_PAGE_API_PATH}`
      : approvalPage.fn.addFunctionUrl({ authType: FunctionUrlAuthType.NONE }).url;
    approvalPage.grant((grantee) => linkSecret.grantRead(grantee));
    attestation.grantGenerateMac(approvalPage);

    const ticketCheck = ticketCheckOf(this, config.changeTicketCheck);
    const validateOrigin = new KeymatFunction(this, 'ValidateOrigin', {
      config: {
        scope: { account: Aws.ACCOUNT_ID },
        defaultWaitSeconds: config.defaultWait.toSeconds(),
        recentUseDays: config.recentUse.toDays(),
        attestationKeyArn,
        ...events,
        changeCalendars,
        ...(ticketCheck && { changeTicketFunctionArn: ticketCheck.functionArn }),
        ...(config.members && { members: config.members }),
        approvalRules: config.approvalRules,
      },
      ...functionProps,
      ...acting('ValidateOrigin'),
    });
    attestation.grantVerifyMac(validateOrigin);
    grantPutEvents(validateOrigin);
    grantCalendars(validateOrigin);
    if (ticketCheck) {
      // The function as named, version or alias included: nothing else it could be.
      validateOrigin.grant((grantee) =>
        Grant.addToPrincipal({ grantee, actions: ['lambda:InvokeFunction'], resourceArns: [ticketCheck.functionArn] }),
      );
    }
    validateOrigin.grantKeys(keys, 'kms:DescribeKey', 'kms:ListKeyRotations', 'kms:GetKeyLastUsage');
    validateOrigin.grantUnscoped(
      ['kms:ListAliases'],
      'kms:ListAliases supports no resource scoping (https://docs.aws.amazon.com/kms/latest/developerguide/kms-api-permissions-reference.html)',
    );
    if (memberAccess) {
      memberAccess.grantAssumeMemberRole(validateOrigin);
      memberAccess.grantOrganizationRead(validateOrigin);
    }

    const checkState = new KeymatFunction(this, 'CheckState', { config: {}, ...functionProps });

    const requestApproval = new KeymatFunction(this, 'RequestApproval', {
      config: {
        approvalTopicArn: approvalTopic.topicArn,
        web: { pageUrl, linkSecretArn: linkSecret.secretArn },
        ...events,
        changeCalendars,
      },
      ...functionProps,
    });
    requestApproval.grantPublish(approvalTopic);
    grantPutEvents(requestApproval);
    grantCalendars(requestApproval);

    const checkChangeWindow =
      changeCalendars.length === 0
        ? undefined
        : new KeymatFunction(this, 'CheckChangeWindow', {
            config: { changeCalendars, maxWaitSeconds: config.changeWindowMaxWait.toSeconds() },
            ...functionProps,
          });
    if (checkChangeWindow) grantCalendars(checkChangeWindow);
    requestApproval.grant((grantee) => linkSecret.grantRead(grantee));

    const deleteMaterial = new KeymatFunction(this, 'DeleteMaterial', {
      config: {
        scope: { account: Aws.ACCOUNT_ID },
        outcomeTopicArn: outcomeTopic.topicArn,
        attestationKeyArn,
        ...events,
      },
      ...functionProps,
      ...acting('DeleteMaterial'),
    });
    memberAccess?.grantAssumeMemberRole(deleteMaterial);
    attestation.grantVerifyMac(deleteMaterial);
    grantPutEvents(deleteMaterial);
    deleteMaterial.grantKeys(keys, 'kms:DescribeKey', 'kms:ListKeyRotations', 'kms:DeleteImportedKeyMaterial');
    deleteMaterial.grantPublish(outcomeTopic);

    // The recovery proof (docs/recovery.md): the one function that may get import parameters and reimport, and only as
    // a proof does (PROOF_CONDITIONS).
    const proveRecovery = new KeymatFunction(this, 'ProveRecovery', {
      config: { scope: { account: Aws.ACCOUNT_ID }, approvalTopicArn: approvalTopic.topicArn, attestationKeyArn },
      ...functionProps,
      ...acting('ProveRecovery'),
    });
    memberAccess?.grantAssumeMemberRole(proveRecovery);
    attestation.grantVerifyMac(proveRecovery);
    proveRecovery.grantPublish(approvalTopic);
    proveRecovery.grantKeys(keys, 'kms:DescribeKey', 'kms:ListKeyRotations');
    for (const [operation, conditions] of Object.entries(PROOF_CONDITIONS)) {
      proveRecovery.grantKeysWhere(keys, conditions, `kms:${operation}`);
    }

    const verifyPendingImport = new KeymatFunction(this, 'VerifyPendingImport', {
      config: { scope: { account: Aws.ACCOUNT_ID } },
      ...functionProps,
      ...acting('VerifyPendingImport'),
    });
    memberAccess?.grantAssumeMemberRole(verifyPendingImport);
    verifyPendingImport.grantKeys(keys, 'kms:DescribeKey', 'kms:ListKeyRotations');

    const notifyOutcome = new KeymatFunction(this, 'NotifyOutcome', {
      config: { outcomeTopicArn: outcomeTopic.topicArn, ...events },
      ...functionProps,
    });
    notifyOutcome.grantPublish(outcomeTopic);
    grantPutEvents(notifyOutcome);

    this.functions = {
      ValidateOrigin: validateOrigin,
      CheckState: checkState,
      ProveRecovery: proveRecovery,
      RequestApproval: requestApproval,
      ...(checkChangeWindow && { CheckChangeWindow: checkChangeWindow }),
      DeleteMaterial: deleteMaterial,
      VerifyPendingImport: verifyPendingImport,
      NotifyOutcome: notifyOutcome,
    };

    const workflow = new DeletionWorkflow(this, 'Workflow', {
      functions: {
        ValidateOrigin: validateOrigin.fn,
        CheckState: checkState.fn,
        ProveRecovery: proveRecovery.fn,
        RequestApproval: requestApproval.fn,
        ...(checkChangeWindow && { CheckChangeWindow: checkChangeWindow.fn }),
        DeleteMaterial: deleteMaterial.fn,
        VerifyPendingImport: verifyPendingImport.fn,
        NotifyOutcome: notifyOutcome.fn,
      },
      approvalTimeout: config.approvalTimeout,
      quorum: config.quorum,
      restoreQuorum: config.restoreQuorum,
      allowedApprovers: [...config.approvers],
      sessionBoundRoles: config.sessionBoundRoles,
      verifyMaxAttempts: config.verifyMaxAttempts,
      taskTimeout: config.taskTimeout,
      recoveryProof: config.recoveryProof,
      proofTimeout: config.proofTimeout,
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
      attestation,
      keys,
      policy: config.scanPolicy,
      limits: config.scanLimits,
      ...(config.scanSchedule && { schedule: config.scanSchedule }),
      ...functionProps,
      ...(memberAccess && {
        memberAccess,
        fleet: {
          maxConcurrency: config.fleetScanMaxConcurrency,
          toleratedFailurePercentage: config.fleetScanToleratedFailurePercentage,
        },
      }),
      events: { ...events, grantPutEvents },
    });

    // The fleet doctor: the member read roles trust its role, so it checks from the hub what the reading tasks would
    // meet. A person waits on its answer; the largest organisations need Lambda's longest run.
    let orgDoctor: KeymatFunction<'OrgDoctor'> | undefined;
    if (memberAccess) {
      orgDoctor = new KeymatFunction(this, 'OrgDoctor', {
        config: { scope: { account: Aws.ACCOUNT_ID }, members: memberAccess.members, partition: Aws.PARTITION },
        timeout: Duration.minutes(15),
        ...functionProps,
        ...acting('OrgDoctor'),
      });
      memberAccess.grantFleetDoctor(orgDoctor);
    }
    this.orgDoctor = orgDoctor;

    // The gateway: the one way in for people. Its Function URL takes only SigV4-signed requests, and Lambda hands it
    // the signer's ARN; it starts changes and records decisions under that identity, attested.
    const gateway = new KeymatFunction(this, 'Gateway', {
      config: {
        stateMachineArn: workflow.stateMachine.stateMachineArn,
        attestationKeyArn,
        sessionBoundRoles: [...config.sessionBoundRoles],
        custodians: [...config.custodians],
        ...events,
      },
      ...functionProps,
    });
    grantPutEvents(gateway);
    this.gateway = gateway;
    const gatewayUrl = gateway.fn.addFunctionUrl({ authType: FunctionUrlAuthType.AWS_IAM });
    gateway.grant((grantee) => workflow.grantStartExecution(grantee));
    gateway.grant(
      (grantee) => workflow.grantRead(grantee, ['states:DescribeExecution', 'states:GetExecutionHistory']),
      "DescribeExecution and GetExecutionHistory on this workflow's own executions, to show a change and find its pending approval",
    );
    gateway.grant(
      (grantee) => workflow.grantTaskResponse(grantee),
      'states:SendTaskSuccess and states:SendTaskFailure support no resource scoping (task tokens are not resources); only the gateway and the approval page hold them',
    );
    gateway.grant(
      (grantee) =>
        Grant.addToPrincipal({
          grantee,
          actions: ['ssm:GetAutomationExecution'],
          resourceArns: [`arn:${Aws.PARTITION}:ssm:${Aws.REGION}:${Aws.ACCOUNT_ID}:automation-execution/*`],
        }),
      "the runbook's automation executions are not known in advance: the gateway reads who ran one (ExecutedBy) from SSM's own record",
    );
    attestation.grantGenerateMac(gateway);

    // What people are given: the gateway's URL, reading executions, reading this stack's outputs and, with members,
    // the fleet doctor and the fleet scan's runs. None starts nor answers anything directly.
    const fleet = this.expiryScan.fleet?.stateMachine;
    const operatorPolicy = (id: string, description: string): ManagedPolicy => {
      const statements = [
        new PolicyStatement({
          actions: ['lambda:InvokeFunctionUrl'],
          resources: [gateway.fn.functionArn],
          conditions: { StringEquals: { 'lambda:FunctionUrlAuthType': FunctionUrlAuthType.AWS_IAM } },
        }),
        // Lambda also asks for InvokeFunction on a Function URL call; the condition admits it through the URL only.
        new PolicyStatement({
          actions: ['lambda:InvokeFunction'],
          resources: [gateway.fn.functionArn],
          conditions: { Bool: { 'lambda:InvokedViaFunctionUrl': 'true' } },
        }),
        ...workflow.readStatements(['states:DescribeExecution', 'states:GetExecutionHistory', 'states:ListExecutions']),
        // The CLI finds the state machine and the gateway in this stack's outputs, unless they are given to it.
        new PolicyStatement({ actions: ['cloudformation:DescribeStacks'], resources: [this.stackId] }),
        // `keymat org doctor`: it only reads, as the doctor's own role.
        ...(orgDoctor
          ? [new PolicyStatement({ actions: ['lambda:InvokeFunction'], resources: [orgDoctor.fn.functionArn] })]
          : []),
      ];
      // `keymat scan --org`: the fleet scan's runs and their summaries, read only.
      const fleetStatements = fleet ? runReadStatements(fleet) : [];
      const policy = new ManagedPolicy(this, id, { description, statements: [...statements, ...fleetStatements] });
      acknowledge(
        policy,
        wildcardFindings(policy, statements),
        "reading this workflow's own executions (execution:<state machine>:*), to follow a change",
      );
      acknowledge(
        policy,
        wildcardFindings(policy, fleetStatements),
        "describing the fleet scan's own runs (execution:<fleet state machine>:*), to read the last run's summary",
      );
      return policy;
    };
    this.requesterPolicy = operatorPolicy(
      'Requesters',
      'keymat: request deletions through the gateway and follow them; attach to the people who request changes',
    );
    this.approverPolicy = operatorPolicy(
      'Approvers',
      'keymat: approve or reject through the gateway and follow changes; attach to the people who approve',
    );

    this.runbook = new RunbookDocument(this, 'Runbook', { workflow, gateway: gateway.fn });

    new CfnOutput(this, 'StateMachineArn', { value: workflow.stateMachine.stateMachineArn });
    new CfnOutput(this, 'RunbookDocumentName', { value: this.runbook.document.ref });
    new CfnOutput(this, this.approvalPageApi ? 'ApprovalPageApiUrl' : 'ApprovalPageUrl', { value: pageUrl });
    new CfnOutput(this, 'GatewayUrl', { value: gatewayUrl.url });
    new CfnOutput(this, 'RequesterPolicyArn', { value: this.requesterPolicy.managedPolicyArn });
    new CfnOutput(this, 'ApproverPolicyArn', { value: this.approverPolicy.managedPolicyArn });
    if (orgDoctor) new CfnOutput(this, 'OrgDoctorFunctionName', { value: orgDoctor.fn.functionName });
    if (fleet) new CfnOutput(this, FLEET_SCAN_STATE_MACHINE_OUTPUT, { value: fleet.stateMachineArn });
    new CfnOutput(this, 'ApprovalTopicArn', { value: approvalTopic.topicArn });
    new CfnOutput(this, 'OutcomeTopicArn', { value: outcomeTopic.topicArn });
  }
}

/**
 * Reading a state machine's runs, for people: listing them, and describing each run (its status, error and output).
 * Not its map runs' children (`execution:<name>/<map run>:<child>`), nor its history, nor starting one.
 */
function runReadStatements(stateMachine: IStateMachine): PolicyStatement[] {
  const { resourceName } = Arn.split(stateMachine.stateMachineArn, ArnFormat.COLON_RESOURCE_NAME);
  return [
    new PolicyStatement({ actions: ['states:ListExecutions'], resources: [stateMachine.stateMachineArn] }),
    new PolicyStatement({
      actions: ['states:DescribeExecution'],
      resources: [`arn:${Aws.PARTITION}:states:${Aws.REGION}:${Aws.ACCOUNT_ID}:execution:${resourceName}:*`],
    }),
  ];
}

/**
 * The dead-letter queue of the notification subscriptions: a message SNS could not deliver to an address (after its
 * delivery retries) is kept here for 14 days, so a lost approval request or outcome can be read and sent again. Each
 * subscription adds to the queue's policy the right for its own topic alone to send.
 */
function notificationsDeadLetterQueue(scope: Construct): Queue {
  // SQS-managed keys: SNS delivers to such a queue with no key policy to grant it (SNS cannot use the AWS managed
  // key of SQS). https://docs.aws.amazon.com/sns/latest/dg/sns-dead-letter-queues.html
  const queue = new Queue(scope, 'NotificationsDeadLetterQueue', {
    encryption: QueueEncryption.SQS_MANAGED,
    enforceSSL: true,
    retentionPeriod: Duration.days(14),
  });
  for (const id of ['AwsSolutions-SQS3', 'Serverless-SQSRedrivePolicy']) {
    Validations.of(queue).acknowledge({
      id,
      reason: 'this queue is itself a dead-letter queue (of the notification subscriptions): nothing redrives from it',
    });
  }
  return queue;
}

/** The approval page's path on its HTTP API, as on `keymat local serve`. */
export const APPROVAL_PAGE_API_PATH = '/approval';

/** The page answers people clicking links: a few requests a second is plenty, and caps what a flood costs. */
const APPROVAL_PAGE_API_THROTTLE = { rateLimit: 10, burstLimit: 20 };

/**
 * The approval page's HTTP API, in identity mode: `GET` and `POST` on {@link APPROVAL_PAGE_API_PATH}, both behind a
 * JWT authorizer, so the page receives the verified token's claims and only requests with a valid token reach it.
 * Access logs go to a log group of their own, and the stage is throttled: the page is public.
 */
function approvalPageApi(
  scope: Construct,
  page: KeymatFunction<'ApprovalPage'>,
  identity: Required<ApprovalPageIdentity>,
  logRetention: RetentionDays,
): HttpApi {
  const api = new HttpApi(scope, 'ApprovalPageApi', {
    description: 'keymat: the approval page, behind a JWT authorizer',
    createDefaultStage: false,
  });
  const accessLogs = new LogGroup(scope, 'ApprovalPageApiAccessLogs', { retention: logRetention });
  new HttpStage(scope, 'ApprovalPageApiStage', {
    httpApi: api,
    stageName: '$default',
    autoDeploy: true,
    throttle: APPROVAL_PAGE_API_THROTTLE,
    accessLogSettings: {
      destination: new LogGroupLogDestination(accessLogs),
      format: AccessLogFormat.custom(
        JSON.stringify({
          requestId: '$context.requestId',
          ip: '$context.identity.sourceIp',
          time: '$context.requestTime',
          method: '$context.httpMethod',
          path: '$context.path',
          status: '$context.status',
          authorizerError: '$context.authorizer.error',
        }),
      ),
    },
  });
  api.addRoutes({
    path: APPROVAL_PAGE_API_PATH,
    methods: [HttpMethod.GET, HttpMethod.POST],
    integration: new HttpLambdaIntegration('ApprovalPageIntegration', page.fn),
    authorizer: new HttpJwtAuthorizer('ApprovalPageAuthorizer', identity.issuer, {
      jwtAudience: [...identity.audience],
    }),
  });
  return api;
}

/** The configured bus as a reference: the bus itself, or one imported by its name or ARN. */
function eventBusOf(scope: Construct, bus: IEventBus | string): IEventBus {
  if (typeof bus !== 'string') return bus;
  return bus.startsWith('arn:')
    ? EventBus.fromEventBusArn(scope, 'EventBus', bus)
    : EventBus.fromEventBusName(scope, 'EventBus', bus);
}

/** The configured change-ticket check as a reference: the function itself, or one imported by its ARN. */
function ticketCheckOf(scope: Construct, check: IFunction | string | undefined): IFunction | undefined {
  return typeof check === 'string' ? LambdaFunction.fromFunctionArn(scope, 'ChangeTicketCheck', check) : check;
}
