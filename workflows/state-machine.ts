import { RemovalPolicy } from 'aws-cdk-lib';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import {
  DefinitionBody,
  LogLevel,
  StateMachine,
  StateMachineType,
  type IChainable,
} from 'aws-cdk-lib/aws-stepfunctions';
import type { Construct } from 'constructs';
import { acknowledge } from './nag';

/**
 * keymat's state machines, made alike: Standard, traced by X-Ray, every event logged to a retained log group but no
 * execution data (task parameters can carry task tokens and the items of a scan).
 */
export function keymatStateMachine(
  scope: Construct,
  props: { definition: IChainable; stateMachineName?: string; logRetention?: RetentionDays },
): StateMachine {
  const logGroup = new LogGroup(scope, 'Logs', {
    retention: props.logRetention ?? RetentionDays.ONE_YEAR,
    removalPolicy: RemovalPolicy.RETAIN,
  });
  const stateMachine = new StateMachine(scope, 'StateMachine', {
    ...(props.stateMachineName && { stateMachineName: props.stateMachineName }),
    stateMachineType: StateMachineType.STANDARD,
    definitionBody: DefinitionBody.fromChainable(props.definition),
    tracingEnabled: true,
    logs: { destination: logGroup, level: LogLevel.ALL, includeExecutionData: false },
  });
  acknowledge(
    stateMachine.role,
    ['Resource::*'],
    'X-Ray tracing of the state machine: the X-Ray trace and sampling actions support no resource scoping',
  );
  return stateMachine;
}
