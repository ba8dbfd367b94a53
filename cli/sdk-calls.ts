import {
  DeleteImportedKeyMaterialCommand,
  DescribeKeyCommand,
  GenerateMacCommand,
  GetKeyLastUsageCommand,
  ListAliasesCommand,
  ListKeyRotationsCommand,
  ListKeysCommand,
  ListResourceTagsCommand,
  VerifyMacCommand,
  type KMSClient,
} from '@aws-sdk/client-kms';
import {
  DescribeExecutionCommand,
  GetExecutionHistoryCommand,
  ListExecutionsCommand,
  SendTaskFailureCommand,
  SendTaskSuccessCommand,
  StartExecutionCommand,
  type SFNClient,
} from '@aws-sdk/client-sfn';
import { sdkCall, type KmsApi, type KmsCall, type SdkCommands, type SfnApi, type SfnCall } from '../core/aws-api';

/**
 * The CLI keeps the SDK's clients (they bring the full credential chain: profiles, SSO, credential processes, and
 * the SDK's Region and endpoint settings) and hands them to keymat's code through the AWS port.
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
