import { CfnElement, Stack, Validations } from 'aws-cdk-lib';
import type { IRole } from 'aws-cdk-lib/aws-iam';
import type { StateMachine } from 'aws-cdk-lib/aws-stepfunctions';

/** Acknowledges each of a role's cdk-nag IAM5 wildcard findings, with its own reason. */
export function acknowledgeWildcards(role: IRole, findings: Record<string, string>): void {
  for (const [finding, reason] of Object.entries(findings)) {
    Validations.of(role).acknowledge({ id: `AwsSolutions-IAM5[${finding}]`, reason });
  }
}

/** The IAM5 finding CDK's `grantExecution` produces: the state machine's own executions, `execution:<name>:*`. */
export function executionsFinding(stateMachine: StateMachine): string {
  const logicalId = Stack.of(stateMachine).getLogicalId(stateMachine.node.defaultChild as CfnElement);
  return `Resource::arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:{"Fn::Select":[6,{"Fn::Split":[":",{"Ref":"${logicalId}"}]}]}:*`;
}
