import { Aws, Duration, Stack } from 'aws-cdk-lib';
import { ServicePrincipal, type Grant } from 'aws-cdk-lib/aws-iam';
import type { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Schedule, ScheduleTargetInput, type ScheduleExpression } from 'aws-cdk-lib/aws-scheduler';
import { LambdaInvoke, StepFunctionsStartExecution } from 'aws-cdk-lib/aws-scheduler-targets';
import type { ITopic } from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import type { ScanLimits, ScanPolicy } from '../core/scan-policy';
import type { DeletionWorkflow } from '../workflows/deletion-workflow';
import { AcknowledgingRole } from '../workflows/nag';
import type { AttestationKey } from './attestation-key';
import { FleetScan, type FleetScanProps } from './fleet-scan';
import type { KeyScopeGrants } from './key-scope';
import { KeymatFunction } from './keymat-function';
import type { MemberAccess } from './members';

export interface ExpiryScanProps {
  /** The workflow the scan starts changes in. */
  readonly workflow: DeletionWorkflow;
  /** Where the run's summary goes. */
  readonly outcomeTopic: ITopic;
  /** The key the scan attests the changes it starts with. */
  readonly attestation: AttestationKey;
  /** The keys the scan may read (it deletes nothing itself). */
  readonly keys: KeyScopeGrants;
  /** Which keys' material the scan retires. */
  readonly policy: ScanPolicy;
  /** The scan's pace and the changes one run may start. */
  readonly limits: ScanLimits;
  /**
   * When the scan runs, e.g. `ScheduleExpression.cron({ hour: '6', minute: '0' })`.
   * @default no schedule: the scan runs only when invoked
   */
  readonly schedule?: ScheduleExpression;
  /** @default Duration.minutes(15) */
  readonly timeout?: Duration;
  /** @default RetentionDays.ONE_YEAR */
  readonly logRetention?: RetentionDays;
  /** Calls AWS through FIPS endpoints (`KeymatFunctionProps.fips`). @default false */
  readonly fips?: boolean;
  /**
   * The hub's access to its member accounts: the scan's role gets its fixed name and may assume the member read role.
   * @default none: the scan reads its own account only
   */
  readonly memberAccess?: MemberAccess;
  /**
   * With `memberAccess`: the fleet scan's settings (its Distributed Map's concurrency, tolerated failures and,
   * optionally, an S3 inventory of its items).
   * @default the FleetScan construct's defaults
   */
  readonly fleet?: Pick<FleetScanProps, 'maxConcurrency' | 'toleratedFailurePercentage' | 'inventory'>;
  /**
   * The bus the fleet scan's Scan Completed goes to, with the grant to put keymat's events on it. Needed with
   * `memberAccess`.
   * @default none: the single-account scan publishes no event
   */
  readonly events?: { readonly eventBusName: string; readonly grantPutEvents: (fn: KeymatFunction) => Grant };
}

/**
 * The expiry scan: its function with the permissions it needs and, when configured, its schedule. With members, the
 * scheduled run is the fleet scan (a state machine over the members' accounts × Regions, `FleetScan`), whose steps
 * the same function runs: its role is the one the member read role trusts.
 */
export class ExpiryScan extends Construct {
  readonly function: KeymatFunction<'ExpiryScan'>;
  readonly schedule?: Schedule;
  /** The fleet scan, with members. */
  readonly fleet?: FleetScan;

  constructor(scope: Construct, id: string, props: ExpiryScanProps) {
    super(scope, id);
    const { workflow, memberAccess, events } = props;
    if (memberAccess && !events) {
      throw new Error(
        `ExpiryScan ${id}: with memberAccess, the fleet scan needs events (its bus and grant) to publish Scan Completed`,
      );
    }
    const fn = new KeymatFunction(this, 'ExpiryScan', {
      config: {
        stateMachineArn: workflow.stateMachine.stateMachineArn,
        outcomeTopicArn: props.outcomeTopic.topicArn,
        policyJson: JSON.stringify(props.policy),
        limitsJson: JSON.stringify(props.limits),
        attestationKeyArn: props.attestation.keyArn,
        scope: { account: Aws.ACCOUNT_ID },
        ...(memberAccess && { members: memberAccess.members }),
        ...(events && { eventBusName: events.eventBusName }),
      },
      timeout: props.timeout ?? Duration.minutes(15),
      ...(props.logRetention && { logRetention: props.logRetention }),
      ...(props.fips !== undefined && { fips: props.fips }),
      ...(memberAccess && { roleName: memberAccess.roleName('ExpiryScan') }),
    });
    this.function = fn;
    memberAccess?.grantAssumeMemberRole(fn);
    // DescribeKey outside the key scope is denied, and the scan counts that key as out of scope.
    fn.grantUnscoped(['kms:ListKeys'], 'kms:ListKeys supports no resource scoping');
    fn.grantKeys(props.keys, 'kms:DescribeKey', 'kms:ListKeyRotations', 'kms:ListResourceTags');
    // The scan starts its changes as itself, and vouches for them: ValidateOrigin verifies the start attestation.
    fn.grant((grantee) => workflow.grantStartExecution(grantee));
    props.attestation.grantGenerateMac(fn);
    fn.grant(
      (grantee) => workflow.grantRead(grantee, ['states:DescribeExecution']),
      "DescribeExecution on this workflow's own executions, to tell today's changes from new ones",
    );
    fn.grantPublish(props.outcomeTopic);

    if (memberAccess && events) {
      this.fleet = new FleetScan(this, 'FleetScan', {
        scanFunction: fn,
        stateMachineName: `${Stack.of(this).stackName}-fleet-scan`,
        ...props.fleet,
        ...(props.logRetention && { logRetention: props.logRetention }),
      });
      memberAccess.grantOrganizationList(fn);
      events.grantPutEvents(fn);
    }

    const { schedule } = props;
    if (schedule) {
      const input = ScheduleTargetInput.fromObject({ dryRun: false });
      const role = new AcknowledgingRole(this, 'SchedulerRole', {
        assumedBy: new ServicePrincipal('scheduler.amazonaws.com'),
      });
      this.schedule = role.acknowledging(
        "CDK's scheduler target grant: the versions and aliases of the scan function only (none for the fleet scan's state machine)",
        () =>
          new Schedule(this, 'Schedule', {
            schedule,
            description: 'keymat: enforce the imported key material expiry policy',
            target: this.fleet
              ? new StepFunctionsStartExecution(this.fleet.stateMachine, { role, input })
              : new LambdaInvoke(fn.fn, { role, input }),
          }),
      );
    }
  }
}
