/**
 * The CLI's environment: the variables it reads itself (a deployed stack's state machine, gateway, fleet doctor and
 * fleet scan, the caller's credentials for the local stack). The SDK reads the same AWS variables on its own for AWS
 * targets, among them `AWS_USE_FIPS_ENDPOINT`, so the CLI calls FIPS endpoints exactly when the SDK would.
 */

import { errorMessage, hasErrorName } from '../core/errors';

type Env = Readonly<Record<string, string | undefined>>;

/** The CLI's own variables. */
const KEYMAT_STATE_MACHINE_ARN = 'KEYMAT_STATE_MACHINE_ARN';
const KEYMAT_GATEWAY_URL = 'KEYMAT_GATEWAY_URL';
const KEYMAT_ORG_DOCTOR_FUNCTION = 'KEYMAT_ORG_DOCTOR_FUNCTION';
const KEYMAT_FLEET_STATE_MACHINE_ARN = 'KEYMAT_FLEET_STATE_MACHINE_ARN';

/** Static AWS credentials, as the variables or a profile give them. */
export interface AwsCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

/** What the CLI takes from its environment; each value is undefined when its variable is not set. */
export interface CliEnvironment {
  /** The deployed state machine (`KEYMAT_STATE_MACHINE_ARN`), when no option names one. */
  stateMachineArn?: string;
  /** The deployed gateway's Function URL (`KEYMAT_GATEWAY_URL`), when no option names one. */
  gatewayUrl?: string;
  /** The deployed fleet doctor's function name or ARN (`KEYMAT_ORG_DOCTOR_FUNCTION`), when no option names one. */
  orgDoctorFunction?: string;
  /** The deployed hub's fleet scan state machine (`KEYMAT_FLEET_STATE_MACHINE_ARN`), when no option names one. */
  fleetStateMachineArn?: string;
  /** The caller's static credentials, for the local stack (which takes the access key id as the user's name). */
  credentials?: { accessKeyId: string; secretAccessKey: string };
  /** `AWS_REGION`. */
  region?: string;
  /** `AWS_ENDPOINT_URL_KMS`: a KMS endpoint to use instead of the local stack's. */
  kmsEndpoint?: string;
}

/** A variable's value; an empty variable is unset. */
const valueOf = (env: Env, name: string): string | undefined => (env[name] === '' ? undefined : env[name]);

/**
 * The CLI's environment. The local stack ignores secret keys, so an access key id alone is enough there; the SDK reads
 * the same variables itself for AWS targets.
 */
export function cliEnvironment(env: Env = process.env): CliEnvironment {
  const accessKeyId = valueOf(env, 'AWS_ACCESS_KEY_ID');
  const stateMachineArn = valueOf(env, KEYMAT_STATE_MACHINE_ARN);
  const gatewayUrl = valueOf(env, KEYMAT_GATEWAY_URL);
  const orgDoctorFunction = valueOf(env, KEYMAT_ORG_DOCTOR_FUNCTION);
  const fleetStateMachineArn = valueOf(env, KEYMAT_FLEET_STATE_MACHINE_ARN);
  const region = valueOf(env, 'AWS_REGION');
  const kmsEndpoint = valueOf(env, 'AWS_ENDPOINT_URL_KMS');
  return {
    ...(stateMachineArn && { stateMachineArn }),
    ...(gatewayUrl && { gatewayUrl }),
    ...(orgDoctorFunction && { orgDoctorFunction }),
    ...(fleetStateMachineArn && { fleetStateMachineArn }),
    ...(accessKeyId && {
      credentials: { accessKeyId, secretAccessKey: valueOf(env, 'AWS_SECRET_ACCESS_KEY') ?? 'local' },
    }),
    ...(region && { region }),
    ...(kmsEndpoint && { kmsEndpoint }),
  };
}

/**
 * What to do about an SDK error that says the AWS configuration is missing: no Region (the SDK's `Region is missing`)
 * or no credentials (`CredentialsProviderError`). It names the variables that set them, the profile `AWS_PROFILE`
 * names, and `--local` for the local stack, which needs neither; undefined for any other error.
 */
export function awsSetupHint(err: unknown, env: Env): string | undefined {
  const profile = valueOf(env, 'AWS_PROFILE');
  const local = 'or use the local stack with --local (keymat local serve)';
  if (errorMessage(err) === 'Region is missing') {
    return profile
      ? `profile ${profile} (AWS_PROFILE) names no region: set AWS_REGION or its region, ${local}`
      : `set AWS_REGION, or AWS_PROFILE to a profile with a region, ${local}`;
  }
  if (hasErrorName(err, 'CredentialsProviderError')) {
    return profile
      ? `profile ${profile} (AWS_PROFILE) gave no credentials: sign in with it (aws sso login --profile ${profile}) or fix it, ${local}`
      : `set AWS_PROFILE to a profile with credentials, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, ${local}`;
  }
  return undefined;
}

/**
 * Turns off the SDK's notice that its future versions need a newer Node, unless the user set it: the CLI supports
 * Node 20 (past end of life, stated in the README and `engines`) and prints one line per error, never the notice.
 */
export function quietSdkNodeNotice(env: Record<string, string | undefined> = process.env): void {
  env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
}
