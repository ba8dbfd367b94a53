import type { HistoryEvent } from '@aws-sdk/client-sfn';
import { approvalTask, pendingApproval, pendingProof, progress } from '../../../core/history';
import { input, planFor, snapshot } from '../../helpers/kms-fixtures';

const plan = planFor(snapshot());
const without = (o: object, key: string): Record<string, unknown> =>
  Object.fromEntries(Object.entries(o).filter(([k]) => k !== key));
const payload = {
  executionId: 'arn:aws:states:us-east-1:111122223333:execution:m:keymat-CHG-1',
  input: input(),
  plan,
  taskToken: 'token-1',
  approvalTimeoutSeconds: 60,
  recovery: {},
  approval: { planDigest: plan.digest, approvals: [] },
};
const scheduled = (Payload: unknown): HistoryEvent => ({
  type: 'TaskScheduled',
  id: 3,
  timestamp: new Date(),
  taskScheduledEventDetails: {
    resource: 'invoke.waitForTaskToken',
    resourceType: 'lambda',
    region: 'us-east-1',
    parameters: JSON.stringify({ FunctionName: 'f', Payload }),
  },
});
const entered = (name: string): HistoryEvent => ({
  type: 'TaskStateEntered',
  id: 1,
  timestamp: new Date(),
  stateEnteredEventDetails: { name },
});
const exited = (name: string): HistoryEvent => ({
  type: 'TaskStateExited',
  id: 2,
  timestamp: new Date(),
  stateExitedEventDetails: { name },
});

describe('pendingProof', () => {
  const importParameters = {
    executionArn: payload.executionId,
    keyArn: plan.keyArn,
    keyMaterialId: plan.keyMaterialId,
    wrappingAlgorithm: 'RSAES_OAEP_SHA_256' as const,
    wrappingKeySpec: 'RSA_4096' as const,
    publicKey: 'cHVibGlj',
    importToken: 'dG9rZW4=',
    parametersValidTo: '2026-12-07T00:00:00.000Z',
  };
  const proofPayload = {
    executionId: payload.executionId,
    input: input(),
    plan,
    importParameters,
    taskToken: 'proof-token',
    proofTimeoutSeconds: 60,
  };

  it('finds the recovery proof request an execution waits on', () => {
    expect(pendingProof([scheduled(proofPayload)])).toEqual({
      taskToken: 'proof-token',
      input: input(),
      plan,
      importParameters,
    });
  });

  it('finds none once the request was answered, and takes no approval request for one', () => {
    const answered: HistoryEvent = { type: 'TaskSucceeded', id: 4, timestamp: new Date() };
    expect(pendingProof([scheduled(proofPayload), answered])).toBeUndefined();
    expect(pendingProof([scheduled(payload)])).toBeUndefined();
  });
});

describe('approvalTask', () => {
  it('finds the pending approval task in the history', () => {
    expect(pendingApproval([scheduled(payload)])).toEqual({
      taskToken: 'token-1',
      input: input(),
      plan,
      approval: payload.approval,
      recovery: {},
    });
  });

  it('sees the task answered once it succeeded', () => {
    const found = approvalTask([scheduled(payload), { type: 'TaskSucceeded', id: 4, timestamp: new Date() }]);
    expect(found?.pending).toBe(false);
  });

  it('ignores a scheduled task whose payload is not an approval request', () => {
    expect(approvalTask([scheduled(without(payload, 'plan'))])).toBeUndefined();
  });
});

describe('progress', () => {
  it('lists the states entered and the one the execution is in', () => {
    expect(progress([entered('ValidateOrigin'), exited('ValidateOrigin'), entered('CheckState')])).toEqual({
      entered: ['ValidateOrigin', 'CheckState'],
      current: 'CheckState',
    });
  });

  it('names no current state between states', () => {
    expect(progress([entered('ValidateOrigin'), exited('ValidateOrigin')])).toEqual({ entered: ['ValidateOrigin'] });
  });
});
