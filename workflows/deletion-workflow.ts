import { Arn, ArnFormat, Aws, Duration, Stack, Token } from 'aws-cdk-lib';
import { Grant, PolicyStatement, type IGrantable } from 'aws-cdk-lib/aws-iam';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import type { RetentionDays } from 'aws-cdk-lib/aws-logs';
import {
  Chain,
  Choice,
  Condition,
  Fail,
  IntegrationPattern,
  JitterType,
  JsonPath,
  Pass,
  Result,
  StateMachine,
  Succeed,
  TaskInput,
  Timeout,
  Wait,
  WaitTime,
} from 'aws-cdk-lib/aws-stepfunctions';
import { LambdaInvoke } from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import { keymatStateMachine } from './state-machine';
import {
  DEFAULT_PROOF_TIMEOUT_SECONDS,
  DEFAULT_QUORUM,
  DEFAULT_RECOVERY_PROOF,
  DEFAULT_RESTORE_QUORUM,
  DEFAULT_TASK_TIMEOUT_SECONDS,
  DEFAULT_VERIFY_MAX_ATTEMPTS,
  MAX_PROOF_TIMEOUT_SECONDS,
} from '../core/defaults';
import {
  LAMBDA_SERVICE_ERRORS,
  NETWORK_ERROR,
  RETRYABLE_KMS_ERRORS,
  RETRYABLE_SERVICE_ERRORS,
  RETRYABLE_SNS_ERRORS,
  VERIFICATION_PENDING,
} from '../core/errors';
import { distinctApprovers, InvalidIdentityError, reachableBy } from '../core/identity';
import { RECOVERY_PROOF_MODES, type ApprovalRules, type RecoveryProofMode } from '../core/types';
import { acknowledge, resourceFinding } from './nag';
import {
  CHANGE_WINDOW_TASK,
  PROOF_PARAMETERS_STATE,
  PROOF_WAIT_STATE,
  RESTORE_STATE,
  TASK_STATES,
  WAIT_STATE,
  WINDOW_WAIT_STATE,
  type AnyTaskState,
  type TaskState,
} from './states';

/**
 * One function per task state, keyed by state name. CheckChangeWindow is optional: given, the workflow holds an
 * approved change while the deployment's change calendars are CLOSED (the function knows the calendars).
 */
export type WorkflowFunctions = Record<TaskState, IFunction> & { readonly CheckChangeWindow?: IFunction };

export interface DeletionWorkflowProps {
  /** One function per task state, keyed by state name; CheckChangeWindow only for freeze windows. */
  readonly functions: WorkflowFunctions;
  /**
   * How long each RequestApproval round waits for a decision before the change ends ApprovalTimedOut: whole seconds,
   * at least one.
   */
  readonly approvalTimeout: Duration;
  /**
   * Distinct approvers a change needs; one approval is asked for per round until the quorum is reached.
   * @default 1
   */
  readonly quorum?: number;
  /**
   * Distinct approvers a restore (a change that imports a deleted material back) needs, from the same approvers.
   * @default 1
   */
  readonly restoreQuorum?: number;
  /**
   * Identities allowed to approve: canonical principal ARNs or ARN patterns (see `checkApproverPattern` in
   * core/identity.ts); at least `quorum` of them when any is listed.
   * @default anyone but the requester
   */
  readonly allowedApprovers?: string[];
  /**
   * Roles whose session name identifies a person, by role name, as the gateway is told (see `canonicalPrincipal` in
   * core/identity.ts): `allowedApprovers` must name distinct principals as the gateway identifies callers.
   * @default none: a session of a role (but an IAM Identity Center one) is the role
   */
  readonly sessionBoundRoles?: readonly string[];
  /**
   * How strongly changes are asked for a recovery proof before their approval (docs/recovery.md): `required` ends an
   * unproven change RecoveryNotProven, `offered` lets it go on with each approver's confirmation that the deletion
   * may be irreversible, `off` asks for none. A change may ask for a stricter mode, never a weaker one.
   * @default 'offered'
   */
  readonly recoveryProof?: RecoveryProofMode;
  /**
   * How long a change waits for a custodian's recovery proof: whole seconds, at least one, at most 23 hours (the
   * import token KMS gives is valid for 24).
   * @default Duration.hours(4)
   */
  readonly proofTimeout?: Duration;
  /**
   * Attempts VerifyPendingImport makes before the change ends VerificationFailed, from 1 to 20.
   * @default 8
   */
  readonly verifyMaxAttempts?: number;
  /**
   * Retries each task makes on transient errors (500s, throttling, Lambda service errors, task timeouts), from 0 to 10.
   * @default 4
   */
  readonly transientMaxAttempts?: number;
  /**
   * How long each Lambda task may take before Step Functions fails it with States.Timeout (then retried): whole
   * seconds, at least one.
   * @default Duration.seconds(60)
   */
  readonly taskTimeout?: Duration;
  /** @default RetentionDays.ONE_YEAR */
  readonly logRetention?: RetentionDays;
  /**
   * The state machine's name. When given, grants name its executions instead of referring to the state machine, so
   * that a function the workflow invokes (the approval page, through RequestApproval's environment) may read them
   * without a circular dependency.
   * @default a name CloudFormation generates
   */
  readonly stateMachineName?: string;
}

/** What `grantRead` may grant on the workflow's executions (ListExecutions: on the state machine itself). */
export type ExecutionReadAction = 'states:DescribeExecution' | 'states:GetExecutionHistory' | 'states:ListExecutions';

const DEFAULT_READ_ACTIONS: readonly ExecutionReadAction[] = ['states:DescribeExecution', 'states:GetExecutionHistory'];

/** Errors every task retries: transient in KMS, SNS and Lambda, and a task that timed out (all tasks are idempotent). */
const TRANSIENT_ERRORS = [
  ...RETRYABLE_KMS_ERRORS,
  ...RETRYABLE_SNS_ERRORS,
  ...RETRYABLE_SERVICE_ERRORS,
  NETWORK_ERROR,
  ...LAMBDA_SERVICE_ERRORS,
  'States.Timeout',
];

/** What the change-window hold retries: its invocation's transient failures, not its timeout (see `changeWindow`). */
const HOLD_RETRIED_ERRORS = TRANSIENT_ERRORS.filter((error) => error !== 'States.Timeout');

/** The backoff of every retry of a transient error. */
const TRANSIENT_RETRY = {
  interval: Duration.seconds(2),
  backoffRate: 2,
  maxDelay: Duration.seconds(30),
  jitterStrategy: JitterType.FULL,
};

/** Retries of a transient error when the props give none. */
const DEFAULT_TRANSIENT_MAX_ATTEMPTS = 4;

/** Step Functions' bound on a state machine name. */
const STATE_MACHINE_NAME = /^[A-Za-z0-9_-]{1,80}$/;

/**
 * Refuses props the workflow cannot honour, naming the prop and the value, before anything is built.
 *
 * @throws RangeError for a value out of its range
 */
function validate(props: DeletionWorkflowProps): void {
  const wholeNumber = (name: string, value: number, min: number, max: number) => {
    if (!Number.isInteger(value) || value < min || value > max) {
      throw new RangeError(`DeletionWorkflow: ${name} must be a whole number from ${min} to ${max}; got ${value}`);
    }
  };
  const seconds = (name: string, value: Duration) => {
    const s = value.toSeconds({ integral: false });
    if (!Number.isInteger(s) || s < 1) {
      throw new RangeError(
        `DeletionWorkflow: ${name} must be whole seconds, at least one (Step Functions' TimeoutSeconds); got ${value.toHumanString()}`,
      );
    }
  };
  const missing = TASK_STATES.filter((state) => props.functions[state] === undefined);
  if (missing.length > 0) {
    throw new RangeError(
      `DeletionWorkflow: functions must have one function per task state; missing ${missing.join(', ')}`,
    );
  }
  const quorum = props.quorum ?? DEFAULT_QUORUM;
  wholeNumber('quorum', quorum, 1, 10);
  let approvers: string[];
  try {
    approvers = distinctApprovers(props.allowedApprovers ?? [], { sessionBoundRoles: props.sessionBoundRoles ?? [] });
  } catch (err) {
    if (!(err instanceof InvalidIdentityError)) throw err;
    throw new RangeError(`DeletionWorkflow: allowedApprovers: ${err.message}`, { cause: err });
  }
  const restoreQuorum = props.restoreQuorum ?? DEFAULT_RESTORE_QUORUM;
  wholeNumber('restoreQuorum', restoreQuorum, 1, 10);
  reachableBy(approvers, { quorum, restoreQuorum });
  wholeNumber('verifyMaxAttempts', props.verifyMaxAttempts ?? DEFAULT_VERIFY_MAX_ATTEMPTS, 1, 20);
  wholeNumber('transientMaxAttempts', props.transientMaxAttempts ?? DEFAULT_TRANSIENT_MAX_ATTEMPTS, 0, 10);
  seconds('approvalTimeout', props.approvalTimeout);
  if (props.proofTimeout) {
    seconds('proofTimeout', props.proofTimeout);
    if (props.proofTimeout.toSeconds() > MAX_PROOF_TIMEOUT_SECONDS) {
      throw new RangeError(
        `DeletionWorkflow: proofTimeout must be at most ${MAX_PROOF_TIMEOUT_SECONDS} seconds (KMS's import token lasts 24 hours); got ${props.proofTimeout.toHumanString()}`,
      );
    }
  }
  if (props.recoveryProof !== undefined && !RECOVERY_PROOF_MODES.includes(props.recoveryProof)) {
    throw new RangeError(
      `DeletionWorkflow: recoveryProof must be one of ${RECOVERY_PROOF_MODES.join(', ')}; got '${String(props.recoveryProof)}'`,
    );
  }
  if (props.taskTimeout) seconds('taskTimeout', props.taskTimeout);
  const name = props.stateMachineName;
  if (name !== undefined && !Token.isUnresolved(name) && !STATE_MACHINE_NAME.test(name)) {
    throw new RangeError(
      `DeletionWorkflow: stateMachineName must be 1 to 80 letters, digits, '-' or '_'; got '${name}'`,
    );
  }
}

/**
 * The deletion workflow: a Standard state machine in JSONPath whose task states invoke the functions it receives. It
 * creates no functions; its `grant*` methods give others what they need of its executions.
 */
export class DeletionWorkflow extends Construct {
  readonly stateMachine: StateMachine;
  private readonly stateMachineName?: string;

  constructor(scope: Construct, id: string, props: DeletionWorkflowProps) {
    // Before super: a refused workflow leaves nothing in the tree.
    validate(props);
    super(scope, id);
    this.stateMachineName = props.stateMachineName;
    const fns = props.functions;
    const transientMaxAttempts = props.transientMaxAttempts ?? DEFAULT_TRANSIENT_MAX_ATTEMPTS;
    const taskTimeout = props.taskTimeout ?? Duration.seconds(DEFAULT_TASK_TIMEOUT_SECONDS);
    const executionId = JsonPath.stringAt('$$.Execution.Id');
    const change = { executionId, input: JsonPath.objectAt('$.input'), plan: JsonPath.objectAt('$.plan') };

    const retryTransient = (task: LambdaInvoke): LambdaInvoke => {
      task.addRetry({ ...TRANSIENT_RETRY, errors: TRANSIENT_ERRORS, maxAttempts: transientMaxAttempts });
      return task;
    };
    /** `resultPath` undefined replaces the state's data with the result (ASL's default). */
    const invoke = (
      state: AnyTaskState | typeof RESTORE_STATE,
      fn: IFunction,
      payload: Record<string, unknown>,
      resultPath?: string,
    ): LambdaInvoke =>
      new LambdaInvoke(this, state, {
        stateName: state,
        lambdaFunction: fn,
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
        fns.NotifyOutcome,
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

    // The deployment's own approval rules go to ValidateOrigin alone: it puts the ones a change takes (a matching rule
    // of the deployment's list, or these) in the plan, where every later step reads them.
    const rules: ApprovalRules = {
      quorum: props.quorum ?? DEFAULT_QUORUM,
      allowedApprovers: props.allowedApprovers ?? [],
    };
    const recoveryProof = props.recoveryProof ?? DEFAULT_RECOVERY_PROOF;
    const validateOrigin = catchAll(
      retryTransient(
        invoke('ValidateOrigin', fns.ValidateOrigin, {
          executionId,
          input: JsonPath.objectAt('$'),
          rules,
          recoveryProof,
          restoreQuorum: props.restoreQuorum ?? DEFAULT_RESTORE_QUORUM,
        }),
      ),
    );
    const checkState = catchAll(retryTransient(invoke('CheckState', fns.CheckState, change, '$.check')));

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
        recovery: JsonPath.objectAt('$.recovery'),
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
        invoke(
          'DeleteMaterial',
          fns.DeleteMaterial,
          {
            ...change,
            approval: JsonPath.objectAt('$.approval'),
            recovery: JsonPath.objectAt('$.recovery'),
            executionStartTime: JsonPath.stringAt('$$.Execution.StartTime'),
          },
          '$.deletion',
        ),
      ),
    );
    const waitForPropagation = new Wait(this, WAIT_STATE, {
      stateName: WAIT_STATE,
      time: WaitTime.secondsPath('$.input.waitSeconds'),
    });
    const verifyPendingImport = invoke('VerifyPendingImport', fns.VerifyPendingImport, change, '$.verification');
    verifyPendingImport.addRetry({
      errors: [VERIFICATION_PENDING],
      interval: Duration.seconds(5),
      backoffRate: 2,
      maxDelay: Duration.seconds(60),
      maxAttempts: (props.verifyMaxAttempts ?? DEFAULT_VERIFY_MAX_ATTEMPTS) - 1,
      jitterStrategy: JitterType.FULL,
    });
    retryTransient(verifyPendingImport);
    verifyPendingImport.addCatch(markAs('MarkVerificationFailed', 'VerificationFailed'), {
      errors: [VERIFICATION_PENDING],
      resultPath: '$.error',
    });
    catchAll(verifyPendingImport);

    // A restore (docs/recovery.md): once approved, the proving function gets import parameters, asks the custodians for
    // a copy wrapped under them (AwaitRecoveryProof) and imports it here, all within the token's 24 hours; then
    // VerifyPendingImport waits for the key to read as the plan expects. No change window holds it: it is the
    // back-out of a change, and destroys nothing.
    const restoreMaterial = catchAll(
      retryTransient(
        invoke(
          RESTORE_STATE,
          fns.ProveRecovery,
          {
            ...change,
            approval: JsonPath.objectAt('$.approval'),
            submission: JsonPath.objectAt('$.recovery'),
            importParameters: JsonPath.objectAt('$.importParameters'),
            executionStartTime: JsonPath.stringAt('$$.Execution.StartTime'),
          },
          '$.restoration',
        ),
      ),
    );
    const proof = this.recoveryProof(
      fns.ProveRecovery,
      change,
      props,
      retryTransient,
      catchAll,
      markAs,
      startApprovals,
      restoreMaterial,
    );
    const definition = validateOrigin
      .next(checkState)
      .next(
        new Choice(this, 'RouteAfterCheck')
          .when(Condition.booleanEquals('$.input.dryRun', true), notifyOutcome)
          .when(Condition.stringEquals('$.check.decision', 'ALREADY_DELETED'), verifyPendingImport)
          .otherwise(proof.asked),
      );
    startApprovals.next(requestApproval);
    // Freeze windows: between the last approval and the deletion, the change is held while a calendar is CLOSED.
    let approved = deleteMaterial;
    if (fns.CheckChangeWindow) {
      // Both states get the whole state: from the second check on, it holds the first check's start of the wait.
      const windowPayload = { executionId, state: JsonPath.objectAt('$') };
      const check = catchAll(
        retryTransient(invoke(CHANGE_WINDOW_TASK, fns.CheckChangeWindow, windowPayload, '$.changeWindow')),
      );
      const hold = new LambdaInvoke(this, WINDOW_WAIT_STATE, {
        stateName: WINDOW_WAIT_STATE,
        lambdaFunction: fns.CheckChangeWindow,
        integrationPattern: IntegrationPattern.WAIT_FOR_TASK_TOKEN,
        payload: TaskInput.fromObject({ ...windowPayload, taskToken: JsonPath.taskToken }),
        retryOnServiceExceptions: false,
        resultPath: JsonPath.DISCARD,
        taskTimeout: Timeout.at('$.changeWindow.waitSeconds'),
      });
      // Its timeout is how a hold ends (back to the check), not a failure to retry: only the invocation's own
      // failures are retried.
      hold.addRetry({ ...TRANSIENT_RETRY, errors: HOLD_RETRIED_ERRORS, maxAttempts: transientMaxAttempts });
      hold.addCatch(check, { errors: ['States.Timeout'], resultPath: JsonPath.DISCARD });
      approved = this.changeWindow(check, catchAll(hold), deleteMaterial);
    }
    // Each round's answer carries every approval so far; the next round is asked for until the plan's quorum is
    // reached (DeleteMaterial verifies the approvals against it, whatever this count says).
    const countApprovals = new Pass(this, 'CountApprovals', {
      parameters: { 'given.$': 'States.ArrayLength($.approval.approvals)' },
      resultPath: '$.approvalCount',
    });
    requestApproval.next(countApprovals);
    const quorumReached = Condition.numberGreaterThanEqualsJsonPath('$.approvalCount.given', '$.plan.rules.quorum');
    // The restore's branch is a rule of this Choice, not a Choice of its own: a deletion makes no more transitions.
    countApprovals.next(
      new Choice(this, 'QuorumReached')
        .when(Condition.and(Condition.booleanEquals('$.input.restore', true), quorumReached), proof.parameters)
        .when(quorumReached, approved)
        .otherwise(requestApproval),
    );
    deleteMaterial.next(waitForPropagation);
    restoreMaterial.next(waitForPropagation);
    waitForPropagation.next(verifyPendingImport);
    verifyPendingImport.next(notifyOutcome);

    this.stateMachine = keymatStateMachine(this, {
      definition,
      stateMachineName: props.stateMachineName,
      logRetention: props.logRetention,
    });
    for (const fn of Object.values(fns)) {
      acknowledge(
        this.stateMachine.role,
        [resourceFinding(this, `${fn.functionArn}:*`)],
        "CDK's LambdaInvoke grant: the versions and aliases of this one workflow function",
      );
    }
  }

  /**
   * The recovery proof's states (docs/recovery.md), between CheckState and the approvals. When CheckState asks for
   * the proof, AwaitRecoveryProof publishes import parameters and waits for a custodian's submission (the gateway
   * answers its token), and ProveRecovery reimports it: the proof replaces the submission in `$.recovery`. A proof
   * that fails ends the change (RecoveryNotProven); none in time ends it when the change's proof is required, and
   * otherwise goes on without one. Every path reaches the approvals with `$.recovery` set.
   *
   * A restore asks for its copy the same way once it is approved (QuorumReached goes to `parameters`), hands it to
   * RestoreMaterial, and ends RecoveryNotProven without one: asked after the approvals, the copy reaches KMS within
   * its token's 24 hours however long the approvals took.
   */
  private recoveryProof(
    fn: IFunction,
    change: Record<string, unknown>,
    props: DeletionWorkflowProps,
    retryTransient: (task: LambdaInvoke) => LambdaInvoke,
    catchAll: (task: LambdaInvoke) => LambdaInvoke,
    markAs: (id: string, error: string, cause?: string) => Chain,
    approvals: Pass,
    restoreMaterial: LambdaInvoke,
  ): { asked: Choice; parameters: LambdaInvoke } {
    const proofTimeout = props.proofTimeout ?? Duration.seconds(DEFAULT_PROOF_TIMEOUT_SECONDS);
    const unproven = new Pass(this, 'NoRecoveryProof', { result: Result.fromObject({}), resultPath: '$.recovery' });
    unproven.next(approvals);
    const await_ = new LambdaInvoke(this, PROOF_WAIT_STATE, {
      stateName: PROOF_WAIT_STATE,
      lambdaFunction: fn,
      integrationPattern: IntegrationPattern.WAIT_FOR_TASK_TOKEN,
      payload: TaskInput.fromObject({
        ...change,
        importParameters: JsonPath.objectAt('$.importParameters'),
        taskToken: JsonPath.taskToken,
        proofTimeoutSeconds: proofTimeout.toSeconds(),
      }),
      retryOnServiceExceptions: false,
      // The custodian's submission waits here until ProveRecovery replaces it with the proof.
      resultPath: '$.recovery',
      taskTimeout: Timeout.duration(proofTimeout),
    });
    await_.addCatch(
      new Choice(this, 'ProofRequired')
        .when(
          Condition.booleanEquals('$.input.restore', true),
          markAs(
            'MarkNoRestoreCopy',
            'RecoveryNotProven',
            `no copy of the material within ${proofTimeout.toSeconds()} seconds: nothing was imported`,
          ),
        )
        .when(
          Condition.stringEquals('$.plan.recoveryProof', 'required'),
          markAs(
            'MarkRecoveryNotProven',
            'RecoveryNotProven',
            `no recovery proof within ${proofTimeout.toSeconds()} seconds, and this change requires one`,
          ),
        )
        .otherwise(unproven),
      // Not `$.error`: an offered proof goes on without one, and `$.error` would end the change as failed.
      { errors: ['States.Timeout', 'States.HeartbeatTimeout'], resultPath: '$.recovery' },
    );
    catchAll(await_);
    const prove = new LambdaInvoke(this, 'ProveRecovery', {
      stateName: 'ProveRecovery',
      lambdaFunction: fn,
      payload: TaskInput.fromObject({
        ...change,
        submission: JsonPath.objectAt('$.recovery'),
        importParameters: JsonPath.objectAt('$.importParameters'),
      }),
      payloadResponseOnly: true,
      retryOnServiceExceptions: false,
      resultSelector: { 'proof.$': '$' },
      resultPath: '$.recovery',
      taskTimeout: Timeout.duration(props.taskTimeout ?? Duration.seconds(DEFAULT_TASK_TIMEOUT_SECONDS)),
    });
    catchAll(retryTransient(prove));
    await_.next(
      new Choice(this, 'RestoreOrProve')
        .when(Condition.booleanEquals('$.input.restore', true), restoreMaterial)
        .otherwise(prove),
    );
    prove.next(approvals);
    // The parameters go into the state before anyone is asked: ProveRecovery and RestoreMaterial take only a copy
    // wrapped for this token.
    const parameters = new LambdaInvoke(this, PROOF_PARAMETERS_STATE, {
      stateName: PROOF_PARAMETERS_STATE,
      lambdaFunction: fn,
      payload: TaskInput.fromObject(change),
      payloadResponseOnly: true,
      retryOnServiceExceptions: false,
      resultPath: '$.importParameters',
      taskTimeout: Timeout.duration(props.taskTimeout ?? Duration.seconds(DEFAULT_TASK_TIMEOUT_SECONDS)),
    });
    catchAll(retryTransient(parameters));
    parameters.next(await_);
    return {
      asked: new Choice(this, 'RecoveryProofAsked')
        .when(Condition.stringEquals('$.check.recoveryProof', 'ASK'), parameters)
        .otherwise(unproven),
      parameters,
    };
  }

  /**
   * The freeze-window states: CheckChangeWindow reads the calendars (ending the change ChangeWindowClosed once the
   * wait since its first check is over its bound), and while they are CLOSED WaitForChangeWindow holds the change
   * until the time the check names, then asks again.
   *
   * The hold is a callback task rather than a Wait, so that a held change can still be withdrawn or rejected: the
   * gateway answers the hold's token with SendTaskFailure, as it rejects an approval round, and the change ends
   * through NotifyOutcome like any rejection. Its timeout (the check's `waitSeconds`) is the normal way out, back to
   * the check, and so is any other answer. A callback task must invoke something: the hold invokes the check's
   * function again, whose answer is discarded (its ChangeWindowClosed, should the deadline pass in between, ends the
   * change as the check would).
   *
   */
  private changeWindow(check: LambdaInvoke, hold: LambdaInvoke, deleteMaterial: LambdaInvoke): LambdaInvoke {
    check.next(
      new Choice(this, 'ChangeWindowOpen')
        .when(Condition.stringEquals('$.changeWindow.state', 'OPEN'), deleteMaterial)
        .otherwise(hold),
    );
    hold.next(check);
    return check;
  }

  /** Grants starting executions of the workflow. */
  grantStartExecution(grantee: IGrantable): Grant {
    return this.stateMachine.grantStartExecution(grantee);
  }

  /**
   * Grants reading the workflow's executions (their `execution:<name>:*` ARNs, a wildcard to acknowledge).
   *
   * @param actions what may be read
   * @default actions DescribeExecution and GetExecutionHistory
   */
  grantRead(grantee: IGrantable, actions: readonly ExecutionReadAction[] = DEFAULT_READ_ACTIONS): Grant {
    const [first, ...rest] = this.readStatements(actions).map((statement) =>
      Grant.addToPrincipal({
        grantee,
        actions: statement.actions,
        resourceArns: statement.resources,
      }),
    );
    return rest.reduce((all, grant) => all.combine(grant), first as Grant);
  }

  /**
   * The statements of `grantRead`, for a policy that is not a principal's own (a managed policy for people).
   *
   * @param actions what may be read
   * @default actions DescribeExecution and GetExecutionHistory
   */
  readStatements(actions: readonly ExecutionReadAction[] = DEFAULT_READ_ACTIONS): PolicyStatement[] {
    if (actions.length === 0) throw new RangeError('DeletionWorkflow.grantRead: actions must name at least one action');
    const onExecutions = actions.filter((a) => a !== 'states:ListExecutions');
    const statements: PolicyStatement[] = [];
    if (onExecutions.length > 0) {
      statements.push(new PolicyStatement({ actions: [...onExecutions], resources: [this.executionsArn()] }));
    }
    if (actions.includes('states:ListExecutions')) {
      statements.push(new PolicyStatement({ actions: ['states:ListExecutions'], resources: [this.machineArn()] }));
    }
    return statements;
  }

  /** `execution:<name>:*`, by name when the state machine is named (no dependency on it). */
  private executionsArn(): string {
    const name =
      this.stateMachineName ??
      Arn.split(this.stateMachine.stateMachineArn, ArnFormat.COLON_RESOURCE_NAME).resourceName ??
      this.stateMachine.stateMachineName;
    return `arn:${Aws.PARTITION}:states:${Aws.REGION}:${Aws.ACCOUNT_ID}:execution:${name}:*`;
  }

  private machineArn(): string {
    if (this.stateMachineName === undefined) return this.stateMachine.stateMachineArn;
    return Stack.of(this).formatArn({
      service: 'states',
      resource: 'stateMachine',
      resourceName: this.stateMachineName,
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    });
  }

  /**
   * Grants answering the workflow's approval tasks (SendTaskSuccess, SendTaskFailure). These actions support no
   * resource scoping, so the grant is on `*` (a wildcard to acknowledge): whoever holds it can answer a task of any
   * workflow whose task token it has.
   */
  grantTaskResponse(grantee: IGrantable): Grant {
    return Grant.addToPrincipal({
      grantee,
      actions: ['states:SendTaskSuccess', 'states:SendTaskFailure'],
      resourceArns: ['*'],
    });
  }
}
