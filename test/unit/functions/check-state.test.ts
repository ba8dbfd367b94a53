import type { KeyState } from '@aws-sdk/client-kms';
import type { Plan } from '../../../core/types';
import { createCheckState } from '../../../functions/check-state/check-state';
import { input, planFor, snapshot } from '../../helpers/kms-fixtures';
import { EXECUTION_ID, silentLogger } from '../../helpers/task-deps';

const checkState = createCheckState({ logger: silentLogger() });
const plan = (keyStateBefore: KeyState, alreadyDeleted = false): Plan => ({
  ...planFor(snapshot({ KeyState: keyStateBefore })),
  alreadyDeleted,
});
const event = (p: Plan) => ({ executionId: EXECUTION_ID, input: input(), plan: p });

describe('CheckState', () => {
  it.each(['Enabled', 'Disabled', 'PendingImport'] as const)('decides PROCEED for a key that is %s', async (state) => {
    await expect(checkState(event(plan(state)))).resolves.toEqual({ decision: 'PROCEED' });
  });

  it('decides ALREADY_DELETED when the plan found the material gone', async () => {
    await expect(checkState(event(plan('PendingImport', true)))).resolves.toEqual({ decision: 'ALREADY_DELETED' });
  });

  it('refuses a key pending deletion with KeyPendingDeletion, naming the key and its state', async () => {
    const p = plan('PendingDeletion');
    await expect(checkState(event(p))).rejects.toMatchObject({
      name: 'KeyPendingDeletion',
      message: expect.stringMatching(new RegExp(`${p.keyArn} is PendingDeletion.*cancel the key deletion`)),
    });
  });

  it('refuses a transitional state with KeyStateNotDeletable, saying when to try again', async () => {
    await expect(checkState(event(plan('Updating')))).rejects.toMatchObject({
      name: 'KeyStateNotDeletable',
      message: expect.stringContaining('is Updating; KMS cannot delete imported material in that state'),
    });
  });

  it('refuses an event without a plan as a wiring error naming the field', async () => {
    await expect(checkState({ executionId: EXECUTION_ID, input: input() })).rejects.toThrow(
      /^CheckState received an event it cannot use: plan/,
    );
  });
});
