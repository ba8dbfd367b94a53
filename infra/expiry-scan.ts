import { Duration } from 'aws-cdk-lib';
import { ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import type { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Schedule, ScheduleTargetInput, type ScheduleExpression } from 'aws-cdk-lib/aws-scheduler';
import { LambdaInvoke } from 'aws-cdk-lib/aws-scheduler-targets';
import type { ITopic } from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import type { ScanLimits, ScanPolicy } from '../core/scan-policy';
import type { DeletionWorkflow } from '../workflows/deletion-workflow';
import { AcknowledgingRole } from '../workflows/nag';
import type { AttestationKey } from './attestation-key';
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
}

/** The expiry scan: its function with the permissions it needs and, when configured, its schedule. */
export class ExpiryScan extends Construct {
  readonly function: KeymatFunction<'ExpiryScan'>;
  readonly schedule?: Schedule;

  constructor(scope: Construct, id: string, props: ExpiryScanProps) {
    super(scope, id);
    const { workflow, memberAccess } = props;
    const fn = new KeymatFunction(this, 'ExpiryScan', {
      config: {
        stateMachineArn: workflow.stateMachine.stateMachineArn,
        outcomeTopicArn: props.outcomeTopic.topicArn,
        policyJson: JSON.stringify(props.policy),
        limitsJson: JSON.stringify(props.limits),
        attestationKeyArn: props.attestation.keyArn,
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

    const { schedule } = props;
    if (schedule) {
      const role = new AcknowledgingRole(this, 'SchedulerRole', {
        assumedBy: new ServicePrincipal('scheduler.amazonaws.com'),
      });
      this.schedule = role.acknowledging(
        "CDK's scheduler target grant: the versions and aliases of the scan function only",
        () =>
          new Schedule(this, 'Schedule', {
            schedule,
            description: 'keymat: enforce the imported key material expiry policy',
            target: new LambdaInvoke(fn.fn, { role, input: ScheduleTargetInput.fromObject({ dryRun: false }) }),
          }),
      );
    }
  }
}
