import { DEFAULT_REGION, LOCAL_CREDENTIALS } from '../constants';

/** Static credentials for a local stack: it takes the access key id as the caller's name and checks no secret. */
export interface LocalCredentials {
  accessKeyId: string;
  secretAccessKey: string;
}

/** The SDK client configuration for calls to a local stack (any service it emulates). */
export interface LocalClientConfig {
  endpoint: string;
  region: string;
  credentials: LocalCredentials;
}

/**
 * Where and as whom an SDK client calls the local stack at `endpoint`.
 *
 * @param region - The Region the stack's resources are in. @default the local stack's Region
 * @param credentials - Who calls. @default {@link LOCAL_CREDENTIALS}
 */
export const localClientConfig = (
  endpoint: string,
  region: string = DEFAULT_REGION,
  credentials: LocalCredentials = LOCAL_CREDENTIALS,
): LocalClientConfig => ({ endpoint, region, credentials: { ...credentials } });
