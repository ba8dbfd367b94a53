import { join } from 'node:path';
import { ENV, environmentOf } from '../../../core/config';
import type { AnyTaskState } from '../../../core/tasks';
import type { LambdaContext } from '../../../functions/runtime/logger';
import { SdkStub } from '../../helpers/sdk-stub';
import { DEPLOYMENT_RULES, KEY_ARN, input, planFor, snapshot } from '../../helpers/kms-fixtures';
import { EXECUTION_ID } from '../../helpers/task-deps';

/**
 * Each handler.ts reads its configuration from the variables the stack sets (`environmentOf`) once, at module load,
 * and makes its SDK clients there. Each case loads the module afresh with those variables; the SDK clients it makes
 * answer from a stub of the SDK's `send`.
 */
const FOLDERS: Record<AnyTaskState, string> = {
  ValidateOrigin: 'validate-origin',
  CheckState: 'check-state',
  ProveRecovery: 'prove-recovery',
  RequestApproval: 'request-approval',
  CheckChangeWindow: 'check-change-window',
  DeleteMaterial: 'delete-material',
  VerifyPendingImport: 'verify-pending-import',
  NotifyOutcome: 'notify-outcome',
};

type LambdaHandler = (event: unknown, context: LambdaContext) => Promise<unknown>;

const aws = new SdkStub();
beforeEach(() => {
  aws.reset();
  aws.on('PutEvents', { output: { FailedEntryCount: 0, Entries: [{ EventId: 'e-1' }] } });
  aws.on('Publish', { output: { MessageId: 'm-1' } });
});

function load(task: AnyTaskState, variables: Record<string, string>): LambdaHandler {
  const saved = process.env;
  process.env = {
    ...saved,
    AWS_REGION: 'us-east-1',
    POWERTOOLS_LOG_LEVEL: 'SILENT',
    ...variables,
  };
  try {
    let handler: LambdaHandler | undefined;
    jest.isolateModules(() => {
      aws.install(require);
      const path = join(__dirname, '..', '..', '..', 'functions', FOLDERS[task], 'handler');
      handler = (require(path) as { handler: LambdaHandler }).handler;
    });
    return handler as LambdaHandler;
  } finally {
    process.env = saved;
  }
}

const context = (task: AnyTaskState): LambdaContext => ({
  functionName: `keymat-${task}`,
  functionVersion: '$LATEST',
  invokedFunctionArn: `arn:aws:lambda:us-east-1:111122223333:function:keymat-${task}`,
  memoryLimitInMB: '256',
  awsRequestId: `req-${task}`,
});

const ATTESTATION_KEY = 'arn:aws:kms:us-east-1:111122223333:key/attestation';
const plan = planFor(snapshot());
const taskEvent = { executionId: EXECUTION_ID, input: input(), plan };

function keyIs(s = snapshot()): void {
  aws
    .on('DescribeKey', { output: { KeyMetadata: s.metadata } })
    .on('ListKeyRotations', { output: { Rotations: s.materials } })
    .on('ListAliases', { output: { Aliases: [] } })
    .on('GetKeyLastUsage', { output: {} })
    .on('VerifyMac', { output: { MacValid: true } });
}

describe('ValidateOrigin handler', () => {
  const variables = (defaultWaitSeconds: number) =>
    environmentOf('ValidateOrigin', {
      scope: { account: '111122223333' },
      defaultWaitSeconds,
      recentUseDays: 30,
      attestationKeyArn: ATTESTATION_KEY,
      eventBusName: 'default',
      changeCalendars: [],
    });
  const attestation = { at: new Date().toISOString(), channel: 'cli', mac: 'bWFj' };

  it('gives a change without waitSeconds the configured default', async () => {
    const handler = load('ValidateOrigin', variables(7));
    keyIs();
    const raw = { keyId: KEY_ARN, changeId: 'CHG-1', reason: 'retire', requestedBy: 'alice', attestation };
    const result = await handler(
      { executionId: EXECUTION_ID, input: raw, rules: DEPLOYMENT_RULES, recoveryProof: 'off' },
      context('ValidateOrigin'),
    );
    expect(result).toMatchObject({ input: { waitSeconds: 7 } });
  });

  it('verifies the start with the configured attestation key', async () => {
    const handler = load('ValidateOrigin', variables(7));
    keyIs();
    const raw = { keyId: KEY_ARN, changeId: 'CHG-1', reason: 'retire', requestedBy: 'alice', attestation };
    await handler(
      { executionId: EXECUTION_ID, input: raw, rules: DEPLOYMENT_RULES, recoveryProof: 'off' },
      context('ValidateOrigin'),
    );
    expect(aws.inputs('VerifyMac')[0]).toMatchObject({
      KeyId: ATTESTATION_KEY,
      MacAlgorithm: 'HMAC_SHA_256',
    });
  });

  it('refuses a key outside the configured account', async () => {
    const handler = load('ValidateOrigin', {
      ...variables(7),
      [ENV.account]: '444455556666',
    });
    keyIs();
    const raw = { keyId: KEY_ARN, changeId: 'CHG-1', reason: 'retire', requestedBy: 'alice', attestation };
    await expect(
      handler(
        { executionId: EXECUTION_ID, input: raw, rules: DEPLOYMENT_RULES, recoveryProof: 'off' },
        context('ValidateOrigin'),
      ),
    ).rejects.toMatchObject({
      name: 'KeyNotInThisAccountOrRegion',
    });
    expect(aws.calls).toHaveLength(0);
  });

  it('fails to load with the variable name and value when DEFAULT_WAIT_SECONDS is not a number', () => {
    expect(() => load('ValidateOrigin', { ...variables(7), [ENV.defaultWaitSeconds]: 'abc' })).toThrow(
      "environment variable DEFAULT_WAIT_SECONDS must be a whole number from 0 to 3600; got 'abc'",
    );
  });

  it('fails to load naming KEYMAT_ACCOUNT_ID when it is missing', () => {
    expect(() => load('ValidateOrigin', { [ENV.account]: '' })).toThrow(
      'environment variable KEYMAT_ACCOUNT_ID is not set',
    );
  });
});

describe('CheckState handler', () => {
  it('decides from the event alone', async () => {
    const handler = load('CheckState', environmentOf('CheckState', {}));
    await expect(handler(taskEvent, context('CheckState'))).resolves.toEqual({
      decision: 'PROCEED',
      recoveryProof: 'NOT_ASKED',
    });
  });
});

describe('RequestApproval handler', () => {
  it('publishes to the configured approval topic', async () => {
    const topic = 'arn:aws:sns:us-east-1:111122223333:configured-approvals';
    const handler = load(
      'RequestApproval',
      environmentOf('RequestApproval', { approvalTopicArn: topic, eventBusName: 'default', changeCalendars: [] }),
    );
    const event = {
      ...taskEvent,
      taskToken: 'AQB-token',
      approvalTimeoutSeconds: 3600,
      recovery: {},
      approval: { planDigest: plan.digest, approvals: [] },
    };
    await expect(handler(event, context('RequestApproval'))).resolves.toEqual({ messageId: 'm-1' });
    expect(aws.inputs('Publish')[0]).toMatchObject({ TopicArn: topic });
  });

  it('fails to load when only one of the page URL and the link secret is set', () => {
    expect(() =>
      load('RequestApproval', { [ENV.approvalTopicArn]: 'arn:aws:sns:us-east-1:1:a', [ENV.approvalPageUrl]: 'x' }),
    ).toThrow('APPROVAL_PAGE_URL and LINK_SECRET_ARN go together');
  });
});

describe('DeleteMaterial handler', () => {
  it('announces the deletion on the configured outcome topic and event bus', async () => {
    const topic = 'arn:aws:sns:us-east-1:111122223333:configured-outcomes';
    const handler = load(
      'DeleteMaterial',
      environmentOf('DeleteMaterial', {
        scope: { account: '111122223333' },
        outcomeTopicArn: topic,
        attestationKeyArn: ATTESTATION_KEY,
        eventBusName: 'keymat-audit',
      }),
    );
    keyIs();
    aws.on('DeleteImportedKeyMaterial', { output: { $metadata: { httpStatusCode: 200, requestId: 'req-1' } } });
    const event = {
      ...taskEvent,
      approval: {
        planDigest: plan.digest,
        approvals: [{ approver: 'bob', at: '2026-11-22T00:00:00Z', channel: 'cli', round: 1, mac: 'bWFj' }],
      },
      executionStartTime: '2026-11-21T23:00:00Z',
      recovery: {},
    };
    await expect(handler(event, context('DeleteMaterial'))).resolves.toMatchObject({ kmsRequestId: 'req-1' });
    expect(aws.inputs('Publish')[0]).toMatchObject({ TopicArn: topic });
    const entries = aws
      .inputs('PutEvents')
      .flatMap((i) => i.Entries as { EventBusName: string; Source: string; DetailType: string }[]);
    expect(entries.map((e) => [e.EventBusName, e.Source, e.DetailType])).toEqual([
      ['keymat-audit', 'keymat', 'Deletion Announced'],
      ['keymat-audit', 'keymat', 'Key Material Deleted'],
    ]);
  });

  it('fails to load naming OUTCOME_TOPIC_ARN when it is missing', () => {
    expect(() => load('DeleteMaterial', { [ENV.account]: '111122223333', [ENV.outcomeTopicArn]: '' })).toThrow(
      'environment variable OUTCOME_TOPIC_ARN is not set',
    );
  });
});

describe('VerifyPendingImport handler', () => {
  it('reads the key with its own KMS client', async () => {
    const handler = load(
      'VerifyPendingImport',
      environmentOf('VerifyPendingImport', { scope: { account: '111122223333' } }),
    );
    keyIs(snapshot({ KeyState: 'PendingImport' }, [{ ...snapshot().materials[0], ImportState: 'PENDING_IMPORT' }]));
    await expect(handler(taskEvent, context('VerifyPendingImport'))).resolves.toMatchObject({
      keyStateAfter: 'PendingImport',
    });
  });
});

describe('NotifyOutcome handler', () => {
  it('publishes to the configured outcome topic, and its log lines carry the Lambda request id', async () => {
    const topic = 'arn:aws:sns:us-east-1:111122223333:configured-outcomes';
    const handler = load('NotifyOutcome', {
      ...environmentOf('NotifyOutcome', { outcomeTopicArn: topic, eventBusName: 'default' }),
      POWERTOOLS_LOG_LEVEL: 'INFO',
      // As the Lambda runtime sets it: Powertools reports cold starts only for on-demand initialization.
      AWS_LAMBDA_INITIALIZATION_TYPE: 'on-demand',
    });
    const lines: string[] = [];
    const write = jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      lines.push(String(chunk));
      return true;
    });
    const state = { error: { Error: 'AliasNotAllowed', Cause: 'alias' } };
    try {
      await handler(
        { executionId: EXECUTION_ID, state, executionInput: { changeId: 'CHG-9' } },
        context('NotifyOutcome'),
      );
      await handler(
        { executionId: `${EXECUTION_ID}-2`, state, executionInput: {} },
        { ...context('NotifyOutcome'), awsRequestId: 'req-second' },
      );
    } finally {
      write.mockRestore();
    }
    expect(aws.inputs('Publish')[0]).toMatchObject({ TopicArn: topic });
    const logged = lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.message === 'outcome');
    expect(logged).toEqual([
      expect.objectContaining({
        function_request_id: 'req-NotifyOutcome',
        cold_start: true,
        executionId: EXECUTION_ID,
        changeId: 'CHG-9',
        status: 'REFUSED',
      }),
      expect.objectContaining({
        function_request_id: 'req-second',
        cold_start: false,
        executionId: `${EXECUTION_ID}-2`,
      }),
    ]);
    expect(logged[1]).not.toHaveProperty('changeId');
  });
});
