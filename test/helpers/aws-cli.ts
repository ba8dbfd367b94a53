import { join } from 'node:path';
import { run } from './run-cli';
import { LOCAL_CREDENTIALS } from '../../local/constants';

/**
 * `aws kms …` (the AWS CLI, installed by .ci/run when missing) pointed at a local stack as a user would point it: the
 * local credentials, no config or credentials file of the machine's (`scratch` is a folder of the test's), JSON out.
 * Resolves with the parsed answer; a non-zero exit rejects with the CLI's stderr.
 */
export function awsKmsCli(endpoint: string, scratch: string) {
  const aws = awsCli(endpoint, scratch);
  return (...args: string[]): Promise<Record<string, unknown>> => aws('kms', ...args);
}

/** `aws SERVICE …` pointed at a local stack, as `awsKmsCli` points it. */
export function awsCli(endpoint: string, scratch: string) {
  return async (service: string, ...args: string[]): Promise<Record<string, unknown>> => {
    const result = await run('aws', [service, ...args, '--endpoint-url', endpoint, '--output', 'json'], {
      AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
      AWS_DEFAULT_REGION: 'us-east-1',
      AWS_CONFIG_FILE: join(scratch, 'none'),
      AWS_SHARED_CREDENTIALS_FILE: join(scratch, 'none'),
      AWS_PAGER: '',
    });
    if (result.code !== 0) throw new Error(`aws ${service} ${args[0]} exited ${result.code}: ${result.stderr}`);
    return result.stdout.trim() ? (JSON.parse(result.stdout) as Record<string, unknown>) : {};
  };
}
