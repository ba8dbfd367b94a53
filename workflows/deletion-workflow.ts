import { CfnElement, Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import {
  Choice,
  Condition,
  DefinitionBody,
  Fail,
  IntegrationPattern,
  JitterType,
  JsonPath,
  LogLevel,
  Pass,
  StateMachine,
  StateMachineType,
  Succeed,
  TaskInput,
  Timeout,
  Wait,
  WaitTime,
} from 'aws-cdk-lib/aws-stepfunctions';
import { LambdaInvoke } from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import {
  LAMBDA_SERVICE_ERRORS,
  NETWORK_ERROR,
  RETRYABLE_KMS_ERRORS,
  RETRYABLE_SNS_ERRORS,
  VERIFICATION_PENDING,
} from '../core/errors';
import type { ApprovalRules } from '../core/types';
import type { TaskState } from './states';
import { WAIT_STATE } from './states';

export interface DeletionWorkflowProps {
  /** One function per task state, keyed by state name. */
  readonly functions: Record<TaskState, IFunction>;
  /** How long each RequestApproval round waits for a decision before the change ends ApprovalTimedOut. */
  readonly approvalTimeout: Duration;
  /**
   * Distinct approvers a change needs; one approval is asked for per round until the quorum is reached.
   * @default 1
   */
  readonly quorum?: number;
  /**
   * Identities allowed to approve (IAM ARNs as STS reports them, or the names the web channel signs for).
   * @default anyone but the requester
   */
  readonly allowedApprovers?: string[];
  /**
   * Attempts VerifyPendingImport makes before the change ends VerificationFailed.
   * @default 8
   */
  readonly verifyMaxAttempts?: number;
  /**
   * Attempts each task makes on transient errors (500s, throttling, Lambda service errors, task timeouts).
   * @default 4
   */
  readonly transientMaxAttempts?: number;
  /**
   * How long each Lambda task may take before Step Functions fails it with States.Timeout (then retried).
   * @default Duration.seconds(60)
   */
  readonly taskTimeout?: Duration;
  /** @default RetentionDays.ONE_YEAR */
  readonly logRetention?: RetentionDays;
  /**
   * The state machine's name, for policies that must name its executions without referring to it.
   * @default a name CloudFormation generates
   */
  readonly stateMachineName?: string;
}

/** Errors every task retries: transient in KMS, SNS and Lambda, and a task that timed out (all tasks are idempotent). */
const TRANSIENT_ERRORS = [
  ...RETRYABLE_KMS_ERRORS,
  ...RETRYABLE_SNS_ERRORS,
  NETWORK_ERROR,
  ...LAMBDA_SERVICE_ERRORS,
  'States.Timeout',
];

/**
 * The deletion workflow (shared/design.md): a Standard state machine in JSONPath whose task states invoke the
 * functions it receives. It creates no functions.
 */
export class DeletionWorkflow extends Construct {
  readonly stateMachine: StateMachine;

  constructor(scope: Construct, id: string, props: DeletionWorkflowProps) {
    super(scope, id);
    const fns = props.functions;
    const transientMaxAttempts = props.transientMaxAttempts ?? 4;
    const taskTimeout = props.taskTimeout ?? Duration.seconds(60);
    const executionId = JsonPath.stringAt('$$.Execution.Id');
    const change = { executionId, input: JsonPath.objectAt('$.input'), plan: JsonPath.objectAt('$.plan') };

    const retryTransient = (task: LambdaInvoke): LambdaInvoke => {
      task.addRetry({
        errors: TRANSIENT_ERRORS,
        interval: Duration.seconds(2),
        backoffRate: 2,
        maxDelay: Duration.seconds(30),
        maxAttempts: transientMaxAttempts,
        jitterStrategy: JitterType.FULL,
      });
      return task;
    };
    /** `resultPath` undefined replaces the state's data with the result (ASL's default). */
    const invoke = (state: TaskState, payload: Record<string, unknown>, resultPath?: string): LambdaInvoke =>
      new LambdaInvoke(this, state, {
        stateName: state,
        lambdaFunction: fns[state],
        payload: TaskInput.fromObject(payload),
        payloadResponseOnly: true,
        // Retries are declared below, once, with the error lists the functions share.
        retryOnServiceExceptions: false,
        resultPath,
        taskTimeout: Timeout.duration(taskTimeout),
      });

    // NotifyOutcome ends every path; the Choice after it fails the execution under the error's own name.
    const failed = new Fail(this, 'Failed', { errorPath: '$.error.Error', causePath: '$.error.Cause' });
    const succeeded = new Succeed(this, 'Succeeded', { outputPath: '$.outcome' });
    const notifyOutcome = retryTransient(
      invoke(
        'NotifyOutcome',
        { executionId, state: JsonPath.objectAt('$'), executionInput: JsonPath.objectAt('$$.Execution.Input') },
        '$.outcome',
      ),
    ).next(new Choice(this, 'Finish').when(Condition.isPresent('$.error'), failed).otherwise(succeeded));
    const catchAll = (task: LambdaInvoke): LambdaInvoke => {
      task.addCatch(notifyOutcome, { errors: ['States.ALL'], resultPath: '$.error' });
      return task;
    };
    const markAs = (id: string, error: string, cause?: string) =>
      new Pass(this, id, {
        parameters: { Error: error, ...(cause ? { Cause: cause } : { 'Cause.$': '$.error.Cause' }) },
        resultPath: '$.error',
      }).next(notifyOutcome);

    const validateOrigin = catchAll(
      retryTransient(invoke('ValidateOrigin', { executionId, input: JsonPath.objectAt('$') })),
    );
    const checkState = catchAll(retryTransient(invoke('CheckState', change, '$.check')));

    const rules: ApprovalRules = { quorum: props.quorum ?? 1, allowedApprovers: props.allowedApprovers ?? [] };
    if (!Number.isInteger(rules.quorum) || rules.quorum < 1)
      throw new Error(`quorum must be a whole number ≥ 1; got ${rules.quorum}`);
    if (rules.allowedApprovers.length > 0 && rules.allowedApprovers.length < rules.quorum) {
      throw new Error(`quorum ${rules.quorum} cannot be reached by ${rules.allowedApprovers.length} allowed approvers`);
    }
    const startApprovals = new Pass(this, 'StartApprovals', {
      parameters: { 'planDigest.$': '$.plan.digest', approvals: [] },
      resultPath: '$.approval',
    });
    const requestApproval = new LambdaInvoke(this, 'RequestApproval', {
      stateName: 'RequestApproval',
      lambdaFunction: fns.RequestApproval,
      integrationPattern: IntegrationPattern.WAIT_FOR_TASK_TOKEN,
      payload: TaskInput.fromObject({
        ...change,
        taskToken: JsonPath.taskToken,
        approvalTimeoutSeconds: props.approvalTimeout.toSeconds(),
        approval: JsonPath.objectAt('$.approval'),
        rules,
      }),
      // A retry would publish a second request for the same approval round: none here.
      retryOnServiceExceptions: false,
      resultPath: '$.approval',
      taskTimeout: Timeout.duration(props.approvalTimeout),
    });
    requestApproval.addCatch(
      markAs(
        'MarkApprovalTimedOut',
        'ApprovalTimedOut',
        `no approval decision within ${props.approvalTimeout.toSeconds()} seconds`,
      ),
      { errors: ['States.Timeout', 'States.HeartbeatTimeout'], resultPath: '$.error' },
    );
    catchAll(requestApproval);

    const deleteMaterial = catchAll(
      retryTransient(
        invoke('DeleteMaterial', { ...change, approval: JsonPath.objectAt('$.approval'), rules }, '$.deletion'),
      ),
    );
    const waitForPropagation = new Wait(this, WAIT_STATE, {
      stateName: WAIT_STATE,
      time: WaitTime.secondsPath('$.input.waitSeconds'),
    });
    const verifyPendingImport = invoke('VerifyPendingImport', change, '$.verification');
    verifyPendingImport.addRetry({
      errors: [VERIFICATION_PENDING],
      interval: Duration.seconds(5),
      backoffRate: 2,
      maxDelay: Duration.seconds(60),
      maxAttempts: (props.verifyMaxAttempts ?? 8) - 1,
      jitterStrategy: JitterType.FULL,
    });
    retryTransient(verifyPendingImport);
    verifyPendingImport.addCatch(markAs('MarkVerificationFailed', 'VerificationFailed'), {
      errors: [VERIFICATION_PENDING],
      resultPath: '$.error',
    });
    catchAll(verifyPendingImport);

    const definition = validateOrigin
      .next(checkState)
      .next(
        new Choice(this, 'RouteAfterCheck')
          .when(Condition.booleanEquals('$.input.dryRun', true), notifyOutcome)
          .when(Condition.stringEquals('$.check.decision', 'ALREADY_DELETED'), verifyPendingImport)
          .otherwise(startApprovals),
      );
    startApprovals.next(requestApproval);
    // Each round's answer carries every approval so far; the next round is asked for until the quorum is reached.
    requestApproval.next(
      new Choice(this, 'QuorumReached')
        .when(Condition.isPresent(`$.approval.approvals[${rules.quorum - 1}]`), deleteMaterial)
        .otherwise(requestApproval),
    );
    deleteMaterial.next(waitForPropagation);
    waitForPropagation.next(verifyPendingImport);
    verifyPendingImport.next(notifyOutcome);

    const logGroup = new LogGroup(this, 'Logs', {
      retention: props.logRetention ?? RetentionDays.ONE_YEAR,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    this.stateMachine = new StateMachine(this, 'StateMachine', {
      ...(props.stateMachineName && { stateMachineName: props.stateMachineName }),
      stateMachineType: StateMachineType.STANDARD,
      definitionBody: DefinitionBody.fromChainable(definition),
      tracingEnabled: true,
      // ALL events, but no execution data: RequestApproval's parameters carry the task token.
      logs: { destination: logGroup, level: LogLevel.ALL, includeExecutionData: false },
    });
    Validations.of(this.stateMachine.role).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason: 'X-Ray tracing of the state machine: the X-Ray trace and sampling actions support no resource scoping',
    });
    for (const fn of Object.values(fns)) {
      const logicalId = Stack.of(this).getLogicalId(fn.node.defaultChild as CfnElement);
      Validations.of(this.stateMachine.role).acknowledge({
        id: `AwsSolutions-IAM5[Resource::<${logicalId}.Arn>:*]`,
        reason: "CDK's LambdaInvoke grant: the versions and aliases of this one workflow function",
      });
    }
  }
}
