import type * as Events from '@aws-sdk/client-eventbridge';
import type * as Kms from '@aws-sdk/client-kms';
import type * as Lambda from '@aws-sdk/client-lambda';
import type * as Orgs from '@aws-sdk/client-organizations';
import type * as S3 from '@aws-sdk/client-s3';
import type * as Secrets from '@aws-sdk/client-secrets-manager';
import type * as Sfn from '@aws-sdk/client-sfn';
import type * as Sns from '@aws-sdk/client-sns';
import type * as Ssm from '@aws-sdk/client-ssm';

/**
 * The AWS operations keymat calls, typed with the SDK's own input and output types (types only: nothing of the SDK
 * loads). The functions call them through their own small client (functions/runtime/aws-client.ts); the CLI and the
 * tests may hand in SDK clients instead (`sdkCall`). Each entry is `[input, output]`; outputs carry `$metadata`.
 */
export interface KmsApi {
  DescribeKey: [Kms.DescribeKeyCommandInput, Kms.DescribeKeyCommandOutput];
  ListKeyRotations: [Kms.ListKeyRotationsCommandInput, Kms.ListKeyRotationsCommandOutput];
  DeleteImportedKeyMaterial: [Kms.DeleteImportedKeyMaterialCommandInput, Kms.DeleteImportedKeyMaterialCommandOutput];
  GenerateMac: [Kms.GenerateMacCommandInput, Kms.GenerateMacCommandOutput];
  VerifyMac: [Kms.VerifyMacCommandInput, Kms.VerifyMacCommandOutput];
  GetKeyLastUsage: [Kms.GetKeyLastUsageCommandInput, Kms.GetKeyLastUsageCommandOutput];
  ListKeys: [Kms.ListKeysCommandInput, Kms.ListKeysCommandOutput];
  ListAliases: [Kms.ListAliasesCommandInput, Kms.ListAliasesCommandOutput];
  ListResourceTags: [Kms.ListResourceTagsCommandInput, Kms.ListResourceTagsCommandOutput];
  GetParametersForImport: [Kms.GetParametersForImportCommandInput, Kms.GetParametersForImportCommandOutput];
  ImportKeyMaterial: [Kms.ImportKeyMaterialCommandInput, Kms.ImportKeyMaterialCommandOutput];
}

/** SNS, over the query protocol. */
export interface SnsApi {
  Publish: [Sns.PublishCommandInput, Sns.PublishCommandOutput];
}

export interface SecretsApi {
  GetSecretValue: [Secrets.GetSecretValueCommandInput, Secrets.GetSecretValueCommandOutput];
}

export interface EventsApi {
  PutEvents: [Events.PutEventsCommandInput, Events.PutEventsCommandOutput];
}

export interface SsmApi {
  GetCalendarState: [Ssm.GetCalendarStateCommandInput, Ssm.GetCalendarStateCommandOutput];
  GetAutomationExecution: [Ssm.GetAutomationExecutionCommandInput, Ssm.GetAutomationExecutionCommandOutput];
}

export interface SfnApi {
  StartExecution: [Sfn.StartExecutionCommandInput, Sfn.StartExecutionCommandOutput];
  ListExecutions: [Sfn.ListExecutionsCommandInput, Sfn.ListExecutionsCommandOutput];
  DescribeExecution: [Sfn.DescribeExecutionCommandInput, Sfn.DescribeExecutionCommandOutput];
  GetExecutionHistory: [Sfn.GetExecutionHistoryCommandInput, Sfn.GetExecutionHistoryCommandOutput];
  SendTaskSuccess: [Sfn.SendTaskSuccessCommandInput, Sfn.SendTaskSuccessCommandOutput];
  SendTaskFailure: [Sfn.SendTaskFailureCommandInput, Sfn.SendTaskFailureCommandOutput];
}

/** Lambda, over its REST protocol. */
export interface LambdaApi {
  Invoke: [Lambda.InvokeCommandInput, Lambda.InvokeCommandOutput];
}

/**
 * Organizations, read from the hub: where a member key's account sits in the organisation, and (for the fleet scan
 * and the fleet doctor) the organisation and the accounts it and its OUs hold.
 */
export interface OrganizationsApi {
  DescribeOrganization: [Orgs.DescribeOrganizationCommandInput, Orgs.DescribeOrganizationCommandOutput];
  DescribeAccount: [Orgs.DescribeAccountCommandInput, Orgs.DescribeAccountCommandOutput];
  ListAccounts: [Orgs.ListAccountsCommandInput, Orgs.ListAccountsCommandOutput];
  ListAccountsForParent: [Orgs.ListAccountsForParentCommandInput, Orgs.ListAccountsForParentCommandOutput];
  ListOrganizationalUnitsForParent: [
    Orgs.ListOrganizationalUnitsForParentCommandInput,
    Orgs.ListOrganizationalUnitsForParentCommandOutput,
  ];
  ListParents: [Orgs.ListParentsCommandInput, Orgs.ListParentsCommandOutput];
  DescribeOrganizationalUnit: [
    Orgs.DescribeOrganizationalUnitCommandInput,
    Orgs.DescribeOrganizationalUnitCommandOutput,
  ];
}

/**
 * S3, for the fleet scan's results: the Distributed Map's ResultWriter writes each run's manifest and result files,
 * which the summary step reads.
 */
export interface S3Api {
  GetObject: [S3.GetObjectCommandInput, S3.GetObjectCommandOutput];
  PutObject: [S3.PutObjectCommandInput, S3.PutObjectCommandOutput];
}

/** Calls one operation of a service: `kms('DescribeKey', { KeyId })`. Rejects with an error named by AWS's code. */
export type AwsCall<A extends object> = <Op extends keyof A & string>(
  operation: Op,
  input: OperationInput<A, Op>,
) => Promise<OperationOutput<A, Op>>;

type OperationInput<A, Op extends keyof A> = A[Op] extends [infer I, unknown] ? I : never;
type OperationOutput<A, Op extends keyof A> = A[Op] extends [unknown, infer O] ? O : never;

export type KmsCall = AwsCall<KmsApi>;
export type SnsCall = AwsCall<SnsApi>;
export type SecretsCall = AwsCall<SecretsApi>;
export type EventsCall = AwsCall<EventsApi>;
export type SsmCall = AwsCall<SsmApi>;
export type SfnCall = AwsCall<SfnApi>;
export type LambdaCall = AwsCall<LambdaApi>;
export type OrganizationsCall = AwsCall<OrganizationsApi>;
export type S3Call = AwsCall<S3Api>;

/**
 * Every page of a paginated operation, as the SDK's paginators walk them: the next page is asked for with the token
 * the last one returned, until it returns none.
 *
 * @param page - Asks for one page, given the token of the one before (undefined for the first).
 * @param next - The token a page names for the one after it.
 */
export async function* allPages<O>(
  page: (token: string | undefined) => Promise<O>,
  next: (output: O) => string | undefined,
): AsyncGenerator<O> {
  let token: string | undefined;
  do {
    const output = await page(token);
    yield output;
    const following = next(output);
    // A service answering the same token again would loop forever, as the SDK's paginators also refuse.
    if (following !== undefined && following === token)
      throw new Error(`the same pagination token came twice: ${token}`);
    token = following;
  } while (token !== undefined);
}

/** An SDK client, as far as `sdkCall` uses it. */
export interface SdkClient {
  send(command: never): Promise<unknown>;
}

/** The SDK's command class for each operation of a service. */
export type SdkCommands<A extends object> = { [Op in keyof A]: new (input: OperationInput<A, Op>) => unknown };

/**
 * An SDK client as an {@link AwsCall}: for callers that want the SDK's full credential chain and configuration (the
 * CLI), and for tests that stub the SDK with aws-sdk-client-mock.
 */
export const sdkCall =
  <A extends object>(client: SdkClient, commands: SdkCommands<A>): AwsCall<A> =>
  (operation, input) =>
    client.send(new commands[operation](input) as never) as never;
