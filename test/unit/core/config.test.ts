import { cliEnvironment, configFromEnvironment, environmentOf, ENV } from '../../../core/config';

describe('cliEnvironment', () => {
  it('reads the state machine, the credentials, the Region and the KMS endpoint', () => {
    expect(
      cliEnvironment({
        KEYMAT_STATE_MACHINE_ARN: 'arn:aws:states:us-east-1:111122223333:stateMachine:m',
        AWS_ACCESS_KEY_ID: 'alice',
        AWS_SECRET_ACCESS_KEY: 'secret',
        AWS_REGION: 'eu-west-1',
        AWS_ENDPOINT_URL_KMS: 'http://127.0.0.1:4566',
      }),
    ).toEqual({
      stateMachineArn: 'arn:aws:states:us-east-1:111122223333:stateMachine:m',
      credentials: { accessKeyId: 'alice', secretAccessKey: 'secret' },
      region: 'eu-west-1',
      kmsEndpoint: 'http://127.0.0.1:4566',
    });
  });

  it('gives nothing for variables that are unset or empty', () => {
    expect(cliEnvironment({ AWS_ACCESS_KEY_ID: '', AWS_REGION: undefined })).toEqual({});
  });

  it('takes an access key id alone as the local identity', () => {
    expect(cliEnvironment({ AWS_ACCESS_KEY_ID: 'bob' }).credentials).toEqual({
      accessKeyId: 'bob',
      secretAccessKey: 'local',
    });
  });
});

describe('the attestation and gateway configuration', () => {
  const KEY = 'arn:aws:kms:us-east-1:111122223333:key/mac';
  const MACHINE = 'arn:aws:states:us-east-1:111122223333:stateMachine:keymat-deletion';

  it('round-trips the gateway configuration through its environment', () => {
    const config = {
      stateMachineArn: MACHINE,
      attestationKeyArn: KEY,
      sessionBoundRoles: ['KeyOps', 'Breakglass'],
      eventBusName: 'default',
    };
    const env = environmentOf('Gateway', config);
    expect(env).toEqual({
      STATE_MACHINE_ARN: MACHINE,
      ATTESTATION_KEY_ARN: KEY,
      SESSION_BOUND_ROLES: 'KeyOps,Breakglass',
    });
    expect(configFromEnvironment('Gateway', env)).toEqual(config);
  });

  it('reads no session-bound roles when the variable is empty', () => {
    const env = { STATE_MACHINE_ARN: MACHINE, ATTESTATION_KEY_ARN: KEY, SESSION_BOUND_ROLES: '' };
    expect(configFromEnvironment('Gateway', env).sessionBoundRoles).toEqual([]);
  });

  it('refuses a session-bound role that is not a role name, naming the variable and the value', () => {
    const env = { STATE_MACHINE_ARN: MACHINE, ATTESTATION_KEY_ARN: KEY, SESSION_BOUND_ROLES: 'KeyOps,role/x' };
    expect(() => configFromEnvironment('Gateway', env)).toThrow(
      `environment variable ${ENV.sessionBoundRoles} must be a comma-separated list of IAM role names`,
    );
    expect(() => configFromEnvironment('Gateway', env)).toThrow("got 'role/x'");
  });

  it.each(['ValidateOrigin', 'DeleteMaterial', 'ApprovalPage', 'ExpiryScan', 'Gateway'] as const)(
    'requires the attestation key for %s',
    (name) => {
      const env = {
        KEYMAT_ACCOUNT_ID: '111122223333',
        AWS_REGION: 'us-east-1',
        OUTCOME_TOPIC_ARN: 'arn:aws:sns:us-east-1:111122223333:outcome',
        LINK_SECRET_ARN: 'arn:aws:secretsmanager:us-east-1:111122223333:secret:link',
        STATE_MACHINE_ARN: MACHINE,
        SCAN_POLICY: '{}',
        SCAN_LIMITS: '{}',
      };
      expect(() => configFromEnvironment(name, env)).toThrow('environment variable ATTESTATION_KEY_ARN is not set');
      expect(configFromEnvironment(name, { ...env, ATTESTATION_KEY_ARN: KEY })).toMatchObject({
        attestationKeyArn: KEY,
      });
    },
  );

  it('sets the attestation key on the functions that sign or verify', () => {
    expect(
      environmentOf('DeleteMaterial', { outcomeTopicArn: 'arn:t', attestationKeyArn: KEY, eventBusName: 'default' }),
    ).toEqual({
      OUTCOME_TOPIC_ARN: 'arn:t',
      ATTESTATION_KEY_ARN: KEY,
    });
    expect(
      environmentOf('ApprovalPage', { linkSecretArn: 'arn:s', attestationKeyArn: KEY, eventBusName: 'default' }),
    ).toEqual({
      LINK_SECRET_ARN: 'arn:s',
      ATTESTATION_KEY_ARN: KEY,
    });
    expect(
      environmentOf('ValidateOrigin', {
        account: '111122223333',
        defaultWaitSeconds: 0,
        recentUseDays: 30,
        attestationKeyArn: KEY,
        eventBusName: 'default',
        changeCalendars: [],
      }),
    ).toMatchObject({ ATTESTATION_KEY_ARN: KEY });
  });
});
