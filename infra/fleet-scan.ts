import { Aws, Duration, Fn, RemovalPolicy, Validations } from 'aws-cdk-lib';
import { Grant, Policy, PolicyStatement } from 'aws-cdk-lib/aws-iam';
import type { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { BlockPublicAccess, Bucket, BucketEncryption, ObjectOwnership, type IBucket } from 'aws-cdk-lib/aws-s3';
import {
  DistributedMap,
  JitterType,
  OutputType,
  ResultWriterV2,
  S3JsonItemReader,
  StateMachine,
  TaskInput,
  Timeout,
  Transformation,
  type IChainable,
} from 'aws-cdk-lib/aws-stepfunctions';
import { LambdaInvoke } from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import { LAMBDA_SERVICE_ERRORS, NETWORK_ERROR, RETRYABLE_KMS_ERRORS, RETRYABLE_SERVICE_ERRORS } from '../core/errors';
import { FLEET_RESULTS_PREFIX } from '../core/naming';
import { DEFAULT_FLEET_MAX_CONCURRENCY, DEFAULT_FLEET_TOLERATED_FAILURE_PERCENTAGE } from '../core/defaults';
import { acknowledge, resourceFinding } from '../workflows/nag';
import { keymatStateMachine } from '../workflows/state-machine';
import type { KeymatFunction } from './keymat-function';

/** Where a large fleet's items are kept: a JSON array of `{account, region}` objects in S3. */
export interface FleetInventory {
  readonly bucket: IBucket;
  readonly key: string;
}

export interface FleetScanProps {
  /** The scan function, which lists the items, scans each and sums up (its role is the one the member roles trust). */
  readonly scanFunction: KeymatFunction<'ExpiryScan'>;
  /**
   * The state machine's name, which operators find it by.
   * @default a name CloudFormation generates
   */
  readonly stateMachineName?: string;
  /**
   * The children that run at once: each scans one account and Region within that account's own KMS quotas.
   * @default DEFAULT_FLEET_MAX_CONCURRENCY
   */
  readonly maxConcurrency?: number;
  /**
   * The share of children that may fail (a member's role missing, its key policy shutting the role out) before the
   * run fails; each failure is reported in Scan Completed either way.
   * @default DEFAULT_FLEET_TOLERATED_FAILURE_PERCENTAGE (100: one broken account never stops the run)
   */
  readonly toleratedFailurePercentage?: number;
  /**
   * The items from an S3 object instead of from Organizations (`ItemReader`), for an inventory kept elsewhere.
   * @default the scan function lists the members' accounts × Regions from Organizations
   */
  readonly inventory?: FleetInventory;
  /**
   * How long each run's results (its manifest and result files) are kept in the results bucket.
   * @default Duration.days(365)
   */
  readonly resultsRetention?: Duration;
  /** Each invocation of the scan function. @default Duration.minutes(15) */
  readonly taskTimeout?: Duration;
  /** @default RetentionDays.ONE_YEAR */
  readonly logRetention?: RetentionDays;
}

/** Errors a step retries: transient in KMS, Organizations, STS, EventBridge and Lambda. */
const TRANSIENT_ERRORS = [
  ...RETRYABLE_KMS_ERRORS,
  ...RETRYABLE_SERVICE_ERRORS,
  NETWORK_ERROR,
  ...LAMBDA_SERVICE_ERRORS,
  'States.Timeout',
];

function wholeNumber(name: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(`FleetScan: ${name} must be a whole number from ${min} to ${max}; got ${value}`);
  }
  return value;
}

/**
 * The fleet scan's state machine: ListScanItems (the members' accounts × Regions, from Organizations) → ScanMembers, a
 * Distributed Map running one child execution per item (ScanMember: the scan function on that account and Region) →
 * SummariseScan (Scan Completed and the outcome message). The map's `ResultWriter` puts the children's results in the
 * results bucket, each child's counts compacted (`WriterConfig` COMPACT) and each failed child's record whole, and
 * hands SummariseScan only where they are, so no organisation is too large for the 256 KiB of a state's data; the
 * summary names every failed account and Region with its error and cause.
 *
 * @see https://docs.aws.amazon.com/step-functions/latest/dg/state-map-distributed.html
 */
export class FleetScan extends Construct {
  readonly stateMachine: StateMachine;
  /** The runs' results: written by the state machine, read by the scan function's summary step. */
  readonly resultsBucket: Bucket;

  constructor(scope: Construct, id: string, props: FleetScanProps) {
    super(scope, id);
    const maxConcurrency = wholeNumber(
      'maxConcurrency',
      props.maxConcurrency ?? DEFAULT_FLEET_MAX_CONCURRENCY,
      1,
      10_000,
    );
    const toleratedFailurePercentage = wholeNumber(
      'toleratedFailurePercentage',
      props.toleratedFailurePercentage ?? DEFAULT_FLEET_TOLERATED_FAILURE_PERCENTAGE,
      0,
      100,
    );
    // ResultWriter's WriterConfig is rendered only with this flag; it is set here, before any state is made.
    this.node.setContext('@aws-cdk/aws-stepfunctions:useDistributedMapResultWriterV2', true);
    const fn = props.scanFunction.fn;
    this.resultsBucket = new Bucket(this, 'Results', {
      encryption: BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      objectOwnership: ObjectOwnership.BUCKET_OWNER_ENFORCED,
      lifecycleRules: [{ expiration: props.resultsRetention ?? Duration.days(365) }],
      // The runs' records outlive the stack, as its log groups do.
      removalPolicy: RemovalPolicy.RETAIN,
    });
    Validations.of(this.resultsBucket).acknowledge({
      id: 'AwsSolutions-S1',
      reason:
        'only the fleet state machine writes and only the scan function reads the results; each run is in their executions and logs',
    });
    const taskTimeout = Timeout.duration(props.taskTimeout ?? Duration.minutes(15));
    /** Without a payload, the function gets the state's input. */
    const invoke = (state: string, payload?: TaskInput, resultPath?: string): LambdaInvoke => {
      const task = new LambdaInvoke(this, state, {
        stateName: state,
        lambdaFunction: fn,
        ...(payload && { payload }),
        payloadResponseOnly: true,
        retryOnServiceExceptions: false,
        ...(resultPath !== undefined && { resultPath }),
        taskTimeout,
      });
      task.addRetry({
        errors: TRANSIENT_ERRORS,
        interval: Duration.seconds(2),
        backoffRate: 2,
        maxDelay: Duration.seconds(30),
        maxAttempts: 4,
        jitterStrategy: JitterType.FULL,
      });
      return task;
    };
    const run = { 'runArn.$': '$$.Execution.Id', 'dryRun.$': '$.dryRun' };

    const scanMembers = new DistributedMap(this, 'ScanMembers', {
      stateName: 'ScanMembers',
      ...(props.inventory
        ? { itemReader: new S3JsonItemReader({ bucket: props.inventory.bucket, key: props.inventory.key }) }
        : { itemsPath: '$.inventory.items' }),
      itemSelector: {
        step: 'scan',
        'account.$': '$$.Map.Item.Value.account',
        'region.$': '$$.Map.Item.Value.region',
        ...run,
      },
      maxConcurrency,
      toleratedFailurePercentage,
      resultWriterV2: new ResultWriterV2({
        bucket: this.resultsBucket,
        prefix: FLEET_RESULTS_PREFIX,
        writerConfig: { outputType: OutputType.JSON, transformation: Transformation.COMPACT },
      }),
      resultPath: '$.results',
    });
    scanMembers.itemProcessor(invoke('ScanMember'));
    const summarise = invoke(
      'SummariseScan',
      TaskInput.fromObject({ step: 'summary', ...run, 'results.$': '$.results' }),
    );
    const definition: IChainable = props.inventory
      ? scanMembers.next(summarise)
      : invoke('ListScanItems', TaskInput.fromObject({ step: 'items' }), '$.inventory')
          .next(scanMembers)
          .next(summarise);

    this.stateMachine = keymatStateMachine(this, {
      definition,
      stateMachineName: props.stateMachineName,
      logRetention: props.logRetention,
    });
    const role = this.stateMachine.role;
    props.scanFunction.grant(
      (grantee) =>
        Grant.addToPrincipal({
          grantee,
          actions: ['s3:GetObject'],
          resourceArns: [this.resultsBucket.arnForObjects(`${FLEET_RESULTS_PREFIX}/*`)],
        }),
      "the runs' results are named by their map runs, which are not known in advance: reading under the results prefix only",
    );
    // CDK grants the map StartExecution on this state machine, DescribeExecution and StopExecution on its own
    // executions and RedriveExecution on its map runs' children; the children themselves
    // (`execution:<state machine>/<map run>:<child>`) it must also read and stop, which a policy of its own grants: the
    // role's default policy cannot name the state machine that depends on it.
    const executions = `arn:${Aws.PARTITION}:states:${Aws.REGION}:${Aws.ACCOUNT_ID}:execution:${Fn.select(6, Fn.split(':', this.stateMachine.stateMachineArn))}`;
    new Policy(this, 'MapChildrenPolicy', {
      roles: [role],
      statements: [
        new PolicyStatement({
          actions: ['states:DescribeExecution', 'states:StopExecution'],
          resources: [`${executions}/*`],
        }),
      ],
    });
    acknowledge(
      this,
      [
        resourceFinding(this, `${executions}:*`),
        resourceFinding(this, `${executions}/*:*`),
        resourceFinding(this, `${executions}/*`),
      ],
      "the Distributed Map's children are executions of this state machine's own map runs: only they",
    );
    acknowledge(
      role,
      [resourceFinding(this, `${fn.functionArn}:*`)],
      "CDK's LambdaInvoke grant: the versions and aliases of the scan function only",
    );
    acknowledge(
      role,
      [resourceFinding(this, `arn:${Aws.PARTITION}:s3:::${this.resultsBucket.bucketName}/*`)],
      "CDK's ResultWriter grant: writing each run's results (named by its map run) to the results bucket",
    );
    if (props.inventory) {
      acknowledge(
        role,
        [resourceFinding(this, props.inventory.bucket.arnForObjects('*'))],
        "CDK's ItemReader grant: reading the inventory's bucket",
      );
    }
  }
}
