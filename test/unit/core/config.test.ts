import {
  configFromEnvironment,
  environmentOf,
  ENV,
  type DeployedConfig,
  type FunctionName,
} from '../../../core/config';

const KEY = 'arn:aws:kms:us-east-1:111122223333:key/mac';
const MACHINE = 'arn:aws:states:us-east-1:111122223333:stateMachine:keymat-deletion';
const TOPIC = 'arn:aws:sns:us-east-1:111122223333:outcome';
const SECRET = 'arn:aws:secretsmanager:us-east-1:111122223333:secret:link';
const TICKETS = 'arn:aws:lambda:us-east-1:111122223333:function:tickets';
const MEMBERS = {
  organizationId: 'o-a1b2c3d4e5',
  organizationalUnits: ['ou-ab12-cd34ef56'],
  accounts: ['444455556666'],
  regions: ['eu-west-1', 'eu-central-1'],
};
/** What the Lambda runtime sets on every function. */
const RUNTIME = { AWS_REGION: 'us-east-1' };

/** A full configuration of every function: each of its entries set to a value other than its default. */
const CONFIGS: { [N in FunctionName]: DeployedConfig<N> } = {
  ValidateOrigin: {
    scope: { account: '111122223333' },
    defaultWaitSeconds: 7,
    recentUseDays: 14,
    attestationKeyArn: KEY,
    eventBusName: 'keymat-audit',
    changeCalendars: ['freeze', 'arn:aws-us-gov:ssm:us-gov-west-1:111122223333:document/gov-freeze'],
    changeTicketFunctionArn: TICKETS,
    members: MEMBERS,
    approvalRules: [
      {
        name: 'production',
        match: { organizationalUnit: 'ou-ab12-cd34ef56' },
        quorum: 2,
        approvers: ['arn:aws:iam::111122223333:role/Security'],
      },
      { name: 'sandbox', match: { account: '444455556666' }, quorum: 1 },
    ],
  },
  CheckState: {},
  RequestApproval: {
    approvalTopicArn: TOPIC,
    web: { pageUrl: 'https://page.example/approval', linkSecretArn: SECRET },
    eventBusName: 'keymat-audit',
    changeCalendars: ['freeze'],
  },
  CheckChangeWindow: { changeCalendars: ['freeze'], maxWaitSeconds: 600 },
  DeleteMaterial: {
    scope: { account: '111122223333' },
    outcomeTopicArn: TOPIC,
    attestationKeyArn: KEY,
    eventBusName: 'keymat-audit',
  },
  VerifyPendingImport: { scope: { account: '111122223333' } },
  ProveRecovery: { scope: { account: '111122223333' }, approvalTopicArn: TOPIC, attestationKeyArn: KEY },
  NotifyOutcome: { outcomeTopicArn: TOPIC, eventBusName: 'keymat-audit' },
  ApprovalPage: { linkSecretArn: SECRET, attestationKeyArn: KEY, identityClaim: 'email', eventBusName: 'keymat-audit' },
  ExpiryScan: {
    stateMachineArn: MACHINE,
    outcomeTopicArn: TOPIC,
    policyJson: '{"expiresWithinDays":30}',
    limitsJson: '{"maxChanges":10}',
    attestationKeyArn: KEY,
    scope: { account: '111122223333' },
    members: { organizationId: 'o-a1b2c3d4e5', regions: ['eu-west-1'] },
    eventBusName: 'keymat-audit',
  },
  OrgDoctor: {
    scope: { account: '111122223333' },
    members: MEMBERS,
    partition: 'aws-us-gov',
  },
  Gateway: {
    stateMachineArn: MACHINE,
    attestationKeyArn: KEY,
    sessionBoundRoles: ['KeyOps', 'Breakglass'],
    custodians: ['arn:aws:iam::111122223333:role/Escrow*'],
    eventBusName: 'keymat-audit',
    members: MEMBERS,
  },
};

const NAMES = Object.keys(CONFIGS) as FunctionName[];

describe('environmentOf and configFromEnvironment', () => {
  it.each(NAMES)('round-trip the configuration of %s through its environment', (name) => {
    const env = environmentOf(name, CONFIGS[name]);
    const config = configFromEnvironment(name, { ...RUNTIME, ...env });
    const given: object = CONFIGS[name];
    // The Region of a function's scope is the Lambda runtime's.
    const expected = 'scope' in given ? { ...given, scope: { account: '111122223333', region: 'us-east-1' } } : given;
    expect(config).toEqual(expected);
  });

  it('writes each variable of the gateway in its text form', () => {
    expect(environmentOf('Gateway', CONFIGS.Gateway)).toEqual({
      STATE_MACHINE_ARN: MACHINE,
      ATTESTATION_KEY_ARN: KEY,
      SESSION_BOUND_ROLES: 'KeyOps,Breakglass',
      KEYMAT_CUSTODIANS: '["arn:aws:iam::111122223333:role/Escrow*"]',
      EVENT_BUS_NAME: 'keymat-audit',
      KEYMAT_MEMBERS: JSON.stringify(MEMBERS),
    });
  });

  it('leaves defaults and unset optional entries out of the environment, and reads them back', () => {
    const env = environmentOf('ValidateOrigin', {
      scope: { account: '111122223333' },
      attestationKeyArn: KEY,
      defaultWaitSeconds: 30,
      eventBusName: 'default',
      changeCalendars: [],
    });
    expect(env).toEqual({ KEYMAT_ACCOUNT_ID: '111122223333', ATTESTATION_KEY_ARN: KEY });
    expect(configFromEnvironment('ValidateOrigin', { ...RUNTIME, ...env })).toEqual({
      scope: { account: '111122223333', region: 'us-east-1' },
      defaultWaitSeconds: 30,
      recentUseDays: 30,
      attestationKeyArn: KEY,
      eventBusName: 'default',
      changeCalendars: [],
      approvalRules: [],
    });
  });

  it('refuses members that are not JSON, naming the variable and the value', () => {
    const env = { ...environmentOf('ValidateOrigin', CONFIGS.ValidateOrigin), KEYMAT_MEMBERS: '{organizationId' };
    expect(() => configFromEnvironment('ValidateOrigin', { ...RUNTIME, ...env })).toThrow(
      /KEYMAT_MEMBERS.*\{organizationId/,
    );
  });

  it('refuses an approval rule without a quorum, naming the variable', () => {
    const env = {
      ...environmentOf('ValidateOrigin', CONFIGS.ValidateOrigin),
      KEYMAT_APPROVAL_RULES: JSON.stringify([{ name: 'prod', match: { account: '111122223333' } }]),
    };
    expect(() => configFromEnvironment('ValidateOrigin', { ...RUNTIME, ...env })).toThrow(/KEYMAT_APPROVAL_RULES/);
  });

  it('never writes the Region: the Lambda runtime sets it', () => {
    expect(environmentOf('ValidateOrigin', CONFIGS.ValidateOrigin)).not.toHaveProperty('AWS_REGION');
  });

  it('writes what the stack passes as it is: CloudFormation tokens are resolved at deployment', () => {
    const token = '${Token[TOKEN.123]}';
    expect(environmentOf('NotifyOutcome', { outcomeTopicArn: token, eventBusName: token })).toEqual({
      OUTCOME_TOPIC_ARN: token,
      EVENT_BUS_NAME: token,
    });
  });
});

describe('configFromEnvironment', () => {
  it.each(['ValidateOrigin', 'DeleteMaterial', 'ApprovalPage', 'ExpiryScan', 'Gateway'] as const)(
    'requires the attestation key for %s',
    (name) => {
      const env = { ...RUNTIME, ...environmentOf(name, CONFIGS[name]), ATTESTATION_KEY_ARN: '' };
      expect(() => configFromEnvironment(name, env)).toThrow('environment variable ATTESTATION_KEY_ARN is not set');
    },
  );

  it('reads no session-bound roles when the variable is empty', () => {
    const env = { STATE_MACHINE_ARN: MACHINE, ATTESTATION_KEY_ARN: KEY, SESSION_BOUND_ROLES: '' };
    expect(configFromEnvironment('Gateway', env).sessionBoundRoles).toEqual([]);
  });

  it('ignores blanks around and between the items of a list', () => {
    const env = { STATE_MACHINE_ARN: MACHINE, ATTESTATION_KEY_ARN: KEY, SESSION_BOUND_ROLES: ' KeyOps ,, Breakglass ' };
    expect(configFromEnvironment('Gateway', env).sessionBoundRoles).toEqual(['KeyOps', 'Breakglass']);
  });

  it.each([
    ['Gateway', ENV.sessionBoundRoles, 'KeyOps,role/x', 'a comma-separated list of IAM role names'],
    ['ValidateOrigin', ENV.defaultWaitSeconds, '3601', 'a whole number from 0 to 3600'],
    ['ValidateOrigin', ENV.defaultWaitSeconds, '1e3', 'a whole number from 0 to 3600'],
    ['ValidateOrigin', ENV.account, '1111', 'an AWS account id (12 digits)'],
    ['ValidateOrigin', ENV.changeTicketFunctionArn, 'tickets', 'a Lambda function ARN'],
    ['NotifyOutcome', ENV.eventBusName, 'arn:aws:sns:us-east-1:111122223333:bus', 'an EventBridge bus name or ARN'],
    ['RequestApproval', ENV.changeCalendars, 'freeze,a b', 'a comma-separated list of SSM Change Calendar'],
    ['CheckChangeWindow', ENV.changeWindowMaxWaitSeconds, '0', 'a whole number from 1 to'],
  ] as const)('refuses a malformed variable of %s, naming %s and the value %s', (name, variable, text, expected) => {
    const env = { ...RUNTIME, ...environmentOf(name, CONFIGS[name]), [variable]: text };
    expect(() => configFromEnvironment(name, env)).toThrow(`environment variable ${variable} must be ${expected}`);
    expect(() => configFromEnvironment(name, env)).toThrow(`got '${text}'`);
  });

  it('requires at least one calendar for CheckChangeWindow', () => {
    expect(() => configFromEnvironment('CheckChangeWindow', {})).toThrow(
      'environment variable CHANGE_CALENDARS is not set',
    );
    expect(() => configFromEnvironment('CheckChangeWindow', { CHANGE_CALENDARS: ' , ' })).toThrow(
      "environment variable CHANGE_CALENDARS must be a comma-separated list of SSM Change Calendar document names or ARNs; got ' , '",
    );
    expect(environmentOf('CheckChangeWindow', { changeCalendars: [], maxWaitSeconds: 60 })).not.toHaveProperty(
      'CHANGE_CALENDARS',
    );
  });

  it('refuses the approval page URL without its link secret, naming both', () => {
    const env = { APPROVAL_TOPIC_ARN: TOPIC, APPROVAL_PAGE_URL: 'https://page.example/approval' };
    expect(() => configFromEnvironment('RequestApproval', env)).toThrow(
      'environment variables APPROVAL_PAGE_URL and LINK_SECRET_ARN go together; only APPROVAL_PAGE_URL is set',
    );
  });

  it('reads no web links when neither the page URL nor the link secret is set', () => {
    expect(configFromEnvironment('RequestApproval', { APPROVAL_TOPIC_ARN: TOPIC })).not.toHaveProperty('web');
  });

  it('requires the Region the Lambda runtime sets', () => {
    const env = environmentOf('ValidateOrigin', CONFIGS.ValidateOrigin);
    expect(() => configFromEnvironment('ValidateOrigin', env)).toThrow('environment variable AWS_REGION is not set');
  });
});
