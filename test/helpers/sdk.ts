import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { GetAutomationExecutionCommand, GetCalendarStateCommand, SSMClient } from '@aws-sdk/client-ssm';
import {
  sdkCall,
  type EventsCall,
  type LambdaCall,
  type SecretsCall,
  type SnsCall,
  type SsmCall,
} from '../../core/aws-api';

export { kmsCall, sfnCall } from '../../cli/sdk-calls';

/**
 * SDK clients as the AWS port's calls, for tests that stub the SDK with aws-sdk-client-mock (every client of a
 * mocked class answers from the stub) or point an SDK client at the local stack.
 */
export const snsCall = (client: SNSClient): SnsCall => sdkCall(client, { Publish: PublishCommand });
export const secretsCall = (client: SecretsManagerClient): SecretsCall =>
  sdkCall(client, { GetSecretValue: GetSecretValueCommand });
export const eventsCall = (client: EventBridgeClient): EventsCall => sdkCall(client, { PutEvents: PutEventsCommand });
export const ssmCall = (client: SSMClient): SsmCall =>
  sdkCall(client, { GetCalendarState: GetCalendarStateCommand, GetAutomationExecution: GetAutomationExecutionCommand });
export const lambdaCall = (client: LambdaClient): LambdaCall => sdkCall(client, { Invoke: InvokeCommand });
