import { CfnElement, Stack } from 'aws-cdk-lib';
import { PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { Schedule, ScheduleExpression, ScheduleTargetInput } from 'aws-cdk-lib/aws-scheduler';
import { LambdaInvoke } from 'aws-cdk-lib/aws-scheduler-targets';
import type { ITopic } from 'aws-cdk-lib/aws-sns';
import type { IStateMachine } from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import type { KeyGrant } from './keymat-stack';
import { acknowledgeWildcards } from './nag';

export interface ExpiryScanProps {
  /** The function running functions/expiry-scan. */
  readonly fn: IFunction;
  readonly stateMachine: IStateMachine;
  /** Where the run's summary goes. */
  readonly outcomeTopic: ITopic;
  /** Grants KMS actions on the configured key scope. */
  readonly keyScope: KeyGrant;
  /**
   * EventBridge Scheduler expression (`cron(...)` or `rate(...)`).
   * @default no schedule: the scan runs only when invoked
   */
  readonly schedule?: string;
}

/** The expiry scan's permissions and, when configured, its schedule. */
export class ExpiryScan extends Construct {
  readonly fn: IFunction;
  readonly schedule?: Schedule;

  constructor(scope: Construct, id: string, props: ExpiryScanProps) {
    super(scope, id);
    this.fn = props.fn;
    // ListKeys cannot be scoped to keys; DescribeKey outside the key scope is denied and counted as out of scope.
    this.fn.addToRolePolicy(new PolicyStatement({ actions: ['kms:ListKeys'], resources: ['*'] }));
    props.keyScope(this.fn, ['kms:DescribeKey', 'kms:ListKeyRotations', 'kms:ListResourceTags']);
    props.stateMachine.grantStartExecution(this.fn);
    props.stateMachine.grantExecution(this.fn, 'states:DescribeExecution');
    props.outcomeTopic.grantPublish(this.fn);
    if (props.schedule) {
      const role = new Role(this, 'SchedulerRole', { assumedBy: new ServicePrincipal('scheduler.amazonaws.com') });
      this.schedule = new Schedule(this, 'Schedule', {
        schedule: ScheduleExpression.expression(props.schedule),
        description: 'keymat: enforce the imported key material expiry policy',
        target: new LambdaInvoke(this.fn, { role, input: ScheduleTargetInput.fromObject({ dryRun: false }) }),
      });
      const logicalId = Stack.of(this).getLogicalId(this.fn.node.defaultChild as CfnElement);
      acknowledgeWildcards(role, {
        [`Resource::<${logicalId}.Arn>:*`]:
          "CDK's scheduler target grant: the versions and aliases of the scan function only",
      });
    }
  }
}
