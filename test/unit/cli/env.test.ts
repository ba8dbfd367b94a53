import { cliEnvironment, quietSdkNodeNotice } from '../../../cli/env';

describe('cliEnvironment', () => {
  it('reads the state machines, the credentials, the Region and the KMS endpoint', () => {
    expect(
      cliEnvironment({
        KEYMAT_STATE_MACHINE_ARN: 'arn:aws:states:us-east-1:111122223333:stateMachine:m',
        KEYMAT_FLEET_STATE_MACHINE_ARN: 'arn:aws:states:us-east-1:111122223333:stateMachine:m-fleet-scan',
        AWS_ACCESS_KEY_ID: 'alice',
        AWS_SECRET_ACCESS_KEY: 'secret',
        AWS_REGION: 'eu-west-1',
        AWS_ENDPOINT_URL_KMS: 'http://127.0.0.1:4566',
      }),
    ).toEqual({
      stateMachineArn: 'arn:aws:states:us-east-1:111122223333:stateMachine:m',
      fleetStateMachineArn: 'arn:aws:states:us-east-1:111122223333:stateMachine:m-fleet-scan',
      credentials: { accessKeyId: 'alice', secretAccessKey: 'secret' },
      region: 'eu-west-1',
      kmsEndpoint: 'http://127.0.0.1:4566',
    });
  });

  it('gives nothing for variables that are unset or empty', () => {
    expect(cliEnvironment({ AWS_ACCESS_KEY_ID: '', AWS_REGION: undefined, KEYMAT_GATEWAY_URL: '' })).toEqual({});
  });

  it('takes an access key id alone as the local identity', () => {
    expect(cliEnvironment({ AWS_ACCESS_KEY_ID: 'bob' }).credentials).toEqual({
      accessKeyId: 'bob',
      secretAccessKey: 'local',
    });
  });
});

describe('quietSdkNodeNotice', () => {
  it("turns the SDK's Node version notice off", () => {
    const env: Record<string, string | undefined> = {};
    quietSdkNodeNotice(env);
    expect(env).toEqual({ AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' });
  });

  it('keeps the value the user set', () => {
    const env: Record<string, string | undefined> = { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'false' };
    quietSdkNodeNotice(env);
    expect(env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED).toBe('false');
  });
});
