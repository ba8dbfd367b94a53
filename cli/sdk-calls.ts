import type { Output } from '@aws-sdk/client-cloudformation';
import {
  DeleteImportedKeyMaterialCommand,
  DescribeKeyCommand,
  GenerateMacCommand,
  GetKeyLastUsageCommand,
  KMSClient,
  ListAliasesCommand,
  ListKeyRotationsCommand,
  ListKeysCommand,
  ListResourceTagsCommand,
  VerifyMacCommand,
} from '@aws-sdk/client-kms';
import {
  DescribeExecutionCommand,
  GetExecutionHistoryCommand,
  ListExecutionsCommand,
  SendTaskFailureCommand,
  SendTaskSuccessCommand,
  SFNClient,
  StartExecutionCommand,
} from '@aws-sdk/client-sfn';
import { sdkCall, type KmsApi, type KmsCall, type SdkCommands, type SfnApi, type SfnCall } from '../core/aws-api';

/**
 * The SDK's clients, for a deployed stack: they bring the full credential chain (profiles, SSO, credential
 * processes) and the SDK's Region and endpoint settings, and reach keymat's code through the AWS port. The CLI
 * imports this module only in `awsTarget` (cli/operations.ts), so an operator command on the local stack, which
 * keymat's own client calls, loads none of it. The tests use the same adapters to stub the SDK.
 */

const KMS_COMMANDS: SdkCommands<KmsApi> = {
  DescribeKey: DescribeKeyCommand,
  ListKeyRotations: ListKeyRotationsCommand,
  DeleteImportedKeyMaterial: DeleteImportedKeyMaterialCommand,
  GenerateMac: GenerateMacCommand,
  VerifyMac: VerifyMacCommand,
  GetKeyLastUsage: GetKeyLastUsageCommand,
  ListKeys: ListKeysCommand,
  ListAliases: ListAliasesCommand,
  ListResourceTags: ListResourceTagsCommand,
};

const SFN_COMMANDS: SdkCommands<SfnApi> = {
  StartExecution: StartExecutionCommand,
  ListExecutions: ListExecutionsCommand,
  DescribeExecution: DescribeExecutionCommand,
  GetExecutionHistory: GetExecutionHistoryCommand,
  SendTaskSuccess: SendTaskSuccessCommand,
  SendTaskFailure: SendTaskFailureCommand,
};

/** An SDK KMS client as the port's KMS calls. */
export const kmsCall = (client: KMSClient): KmsCall => sdkCall(client, KMS_COMMANDS);

/** An SDK Step Functions client as the port's Step Functions calls. */
export const sfnCall = (client: SFNClient): SfnCall => sdkCall(client, SFN_COMMANDS);

/** A deployed stack's Step Functions and KMS, as the SDK's configuration chain finds them. */
export interface DeployedCalls {
  sfn: SfnCall;
  kms: KmsCall;
  /** The Region the SDK resolved (its environment variables, then the profile). */
  region: () => Promise<string>;
}

/** @param kmsMaxAttempts - Attempts per KMS call (the SDK's standard retry). */
export function deployedCalls(kmsMaxAttempts: number): DeployedCalls {
  const sfn = new SFNClient({});
  return {
    sfn: sfnCall(sfn),
    kms: kmsCall(new KMSClient({ maxAttempts: kmsMaxAttempts })),
    region: () => sfn.config.region(),
  };
}

/** The outputs of a CloudFormation stack; the CloudFormation client loads only when they are asked for. */
export async function stackOutputs(stackName: string): Promise<Output[]> {
  const { CloudFormationClient, DescribeStacksCommand } = await import('@aws-sdk/client-cloudformation');
  const stacks = await new CloudFormationClient({}).send(new DescribeStacksCommand({ StackName: stackName }));
  return stacks.Stacks?.[0]?.Outputs ?? [];
}
