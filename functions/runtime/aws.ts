import {
  DeleteImportedKeyMaterialCommand,
  DescribeKeyCommand,
  GenerateMacCommand,
  GetKeyLastUsageCommand,
  GetParametersForImportCommand,
  ImportKeyMaterialCommand,
  KMSClient,
  ListAliasesCommand,
  ListKeyRotationsCommand,
  ListKeysCommand,
  ListResourceTagsCommand,
  VerifyMacCommand,
  type RotationsListEntry,
} from '@aws-sdk/client-kms';
import {
  DescribeAccountCommand,
  DescribeOrganizationCommand,
  DescribeOrganizationalUnitCommand,
  ListAccountsCommand,
  ListAccountsForParentCommand,
  ListOrganizationalUnitsForParentCommand,
  ListParentsCommand,
  OrganizationsClient,
} from '@aws-sdk/client-organizations';
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import {
  DescribeExecutionCommand,
  GetExecutionHistoryCommand,
  ListExecutionsCommand,
  SendTaskFailureCommand,
  SendTaskSuccessCommand,
  SFNClient,
  StartExecutionCommand,
} from '@aws-sdk/client-sfn';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from '@smithy/types';
import {
  allPages,
  sdkCall,
  type AwsCall,
  type KmsApi,
  type KmsCall,
  type OrganizationsCall,
  type S3Call,
  type SdkClient,
  type SdkCommands,
  type SecretsCall,
  type SfnApi,
  type SfnCall,
  type SnsCall,
} from '../../core/aws-api';
import { KeymatError, NETWORK_ERROR } from '../../core/errors';
import type { KeySnapshot } from '../../core/plan';

/**
 * keymat's AWS clients: the SDK v3 clients, each made once (at a handler's module load, or once per local stack) and
 * reached through the port in core/aws-api.ts. The SDK resolves the Region, the endpoint (FIPS with
 * `AWS_USE_FIPS_ENDPOINT`, dual-stack, every partition), the credentials (the Lambda runtime's, a profile, a role to
 * assume) and the clock skew; keymat chooses only how many attempts a call makes.
 */

/** Where and as whom a client calls; each field left out is the SDK's own default chain. */
export interface AwsClientOptions {
  /** @default the SDK's Region (`AWS_REGION`, which the Lambda runtime sets, or the profile's) */
  region?: string;
  /** A URL to call instead of the service's endpoint (the local stack). @default the SDK's endpoint resolution */
  endpoint?: string;
  /** @default the SDK's default credential chain (in Lambda: the function role's session) */
  credentials?: AwsCredentialIdentity | AwsCredentialIdentityProvider;
  /**
   * Attempts per call, with the SDK's standard retry strategy between them. Each factory says its default: a task's
   * client makes one attempt, since the state machine retries it where the execution history shows each attempt.
   */
  maxAttempts?: number;
}

/** The SDK's standard number of attempts, for clients that answer people or run unattended. */
export const STANDARD_ATTEMPTS = 3;

/** The SDK client configuration of these options: only the fields set, so the SDK's defaults fill the rest. */
export const sdkConfig = ({ region, endpoint, credentials, maxAttempts }: AwsClientOptions) => ({
  ...(region !== undefined && { region }),
  ...(endpoint !== undefined && { endpoint }),
  ...(credentials !== undefined && { credentials }),
  ...(maxAttempts !== undefined && { maxAttempts }),
});

/** The socket errors of a request that got no answer, which the state machine retries as `NetworkError`. */
const NETWORK_CODES = new Set([
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'ECONNREFUSED',
  'ECONNABORTED',
  'EAI_AGAIN',
  'ENOTFOUND',
]);

/**
 * A request that got no answer as `NetworkError` (its socket error as the cause), or undefined for any other error:
 * the SDK passes Node's error on as it is, named `Error`, which no Retry rule could tell from a bug.
 */
export function networkError(err: unknown): KeymatError | undefined {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (code === undefined || !NETWORK_CODES.has(code)) return undefined;
  return new KeymatError(NETWORK_ERROR, `the request did not complete: ${code}: ${(err as Error).message}`, {
    cause: err,
  });
}

/** An SDK client as the port's calls; a request that got no answer rejects with `NetworkError`. */
export function awsCall<A extends object>(client: SdkClient, commands: SdkCommands<A>): AwsCall<A> {
  const call = sdkCall(client, commands);
  return async (operation, input) => {
    try {
      return await call(operation, input);
    } catch (err) {
      throw networkError(err) ?? err;
    }
  };
}

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
  GetParametersForImport: GetParametersForImportCommand,
  ImportKeyMaterial: ImportKeyMaterialCommand,
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
export const kmsCall = (client: KMSClient): KmsCall => awsCall(client, KMS_COMMANDS);

/** An SDK Step Functions client as the port's Step Functions calls. */
export const sfnCall = (client: SFNClient): SfnCall => awsCall(client, SFN_COMMANDS);

/**
 * A KMS client for the tasks.
 *
 * @param options - Where and as whom to call; `maxAttempts` @default 1: the state machine retries transient errors
 *   with backoff, jitter and a bound, where each attempt is visible in the execution history
 */
export const createKmsClient = (options: AwsClientOptions = {}): KmsCall =>
  kmsCall(new KMSClient(sdkConfig({ maxAttempts: 1, ...options })));

/**
 * An Organizations client for ValidateOrigin, which places a member key's account in the organisation, the fleet
 * scan, which lists the member accounts, and the fleet doctor.
 *
 * @param options - Where and as whom to call; `maxAttempts` @default 1, as every task client
 */
export const createOrganizationsClient = (options: AwsClientOptions = {}): OrganizationsCall =>
  awsCall(new OrganizationsClient(sdkConfig({ maxAttempts: 1, ...options })), {
    DescribeOrganization: DescribeOrganizationCommand,
    DescribeAccount: DescribeAccountCommand,
    ListParents: ListParentsCommand,
    DescribeOrganizationalUnit: DescribeOrganizationalUnitCommand,
    ListAccounts: ListAccountsCommand,
    ListAccountsForParent: ListAccountsForParentCommand,
    ListOrganizationalUnitsForParent: ListOrganizationalUnitsForParentCommand,
  });

/**
 * An SNS client for the tasks' messages (approval requests, announcements, outcomes), with the SDK's standard retries.
 *
 * @param options - Where and as whom to call.
 */
export const createSnsClient = (options: AwsClientOptions = {}): SnsCall =>
  awsCall(new SNSClient(sdkConfig(options)), { Publish: PublishCommand });

/**
 * A Secrets Manager client, for the approval-link secret, with the SDK's standard retries.
 *
 * @param options - Where and as whom to call.
 */
export const createSecretsClient = (options: AwsClientOptions = {}): SecretsCall =>
  awsCall(new SecretsManagerClient(sdkConfig(options)), { GetSecretValue: GetSecretValueCommand });

/**
 * A Step Functions client for the change client (the gateway, the approval page, the scan, the CLI), with the SDK's
 * standard retries: these answer people or run unattended, with no state machine to retry for them.
 *
 * @param options - Where and as whom to call.
 */
export const createSfnClient = (options: AwsClientOptions = {}): SfnCall => sfnCall(new SFNClient(sdkConfig(options)));

/**
 * An S3 client for the fleet scan's results, with the SDK's standard retries: the summary step reads what the
 * Distributed Map's ResultWriter wrote, and the local engine writes it. A given endpoint (the local stack's) is
 * addressed by path, since it serves no per-bucket host names.
 *
 * @param options - Where and as whom to call.
 */
export const createS3Client = (options: AwsClientOptions = {}): S3Call =>
  awsCall(new S3Client({ ...sdkConfig(options), forcePathStyle: options.endpoint !== undefined }), {
    GetObject: GetObjectCommand,
    PutObject: PutObjectCommand,
  });

/** DescribeKey and every material of the key (ListKeyRotations with ALL_KEY_MATERIAL, all pages). */
export async function readKey(kms: KmsCall, keyId: string): Promise<KeySnapshot> {
  const { KeyMetadata: metadata } = await kms('DescribeKey', { KeyId: keyId });
  if (!metadata?.Arn) throw new Error(`DescribeKey returned no metadata for ${keyId}`);
  const keyArn = metadata.Arn;
  const materials: RotationsListEntry[] = [];
  const pages = allPages(
    (Marker) => kms('ListKeyRotations', { KeyId: keyArn, IncludeKeyMaterial: 'ALL_KEY_MATERIAL', Limit: 1000, Marker }),
    (page) => page.NextMarker,
  );
  for await (const page of pages) materials.push(...(page.Rotations ?? []));
  return { metadata, materials };
}
