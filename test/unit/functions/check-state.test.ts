import type { KeyState } from '@aws-sdk/client-kms';
import type { Plan } from '../../../core/types';
import { createCheckState } from '../../../functions/check-state/check-state';
import { M1, M2, input, material, planFor, snapshot } from '../../helpers/kms-fixtures';
import { EXECUTION_ID, silentLogger } from '../../helpers/task-deps';

const checkState = createCheckState({ logger: silentLogger() });
const plan = (keyStateBefore: KeyState, alreadyDeleted = false): Plan => ({
  ...planFor(snapshot({ KeyState: keyStateBefore })),
  alreadyDeleted,
});
const event = (p: Plan) => ({ executionId: EXECUTION_ID, input: input(), plan: p });

describe('CheckState', () => {
  it.each(['Enabled', 'Disabled', 'PendingImport'] as const)('decides PROCEED for a key that is %s', async (state) => {
    await expect(checkState(event(plan(state)))).resolves.toEqual({ decision: 'PROCEED', recoveryProof: 'NOT_ASKED' });
  });

  it('decides ALREADY_DELETED when the plan found the material gone, and asks no proof', async () => {
    const p = { ...plan('PendingImport', true), recoveryProof: 'required' as const };
    await expect(checkState(event(p))).resolves.toEqual({ decision: 'ALREADY_DELETED', recoveryProof: 'NOT_ASKED' });
  });

  it.each(['offered', 'required'] as const)(
    'asks for the proof when it is %s and the material is current',
    async (mode) => {
      const p = { ...plan('Enabled'), recoveryProof: mode };
      await expect(checkState(event(p))).resolves.toEqual({ decision: 'PROCEED', recoveryProof: 'ASK' });
    },
  );

  it('asks no proof for a pending-rotation material, which nothing was encrypted under', async () => {
    const pending = snapshot({}, [material(M1), material(M2, { KeyMaterialState: 'PENDING_ROTATION' })]);
    const p = { ...planFor(pending, M2), recoveryProof: 'required' as const };
    await expect(checkState(event(p))).resolves.toEqual({ decision: 'PROCEED', recoveryProof: 'NOT_ASKED' });
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

  describe('for a restore', () => {
    const restoreOf = (keyState: KeyState, deleted: boolean): Plan => ({
      ...plan(keyState, deleted),
      restore: true,
      importStateBefore: deleted ? 'PENDING_IMPORT' : 'IMPORTED',
    });

    it('decides PROCEED for a deleted material, its copy asked only once it is approved', async () => {
      await expect(checkState(event(restoreOf('PendingImport', true)))).resolves.toEqual({
        decision: 'PROCEED',
        recoveryProof: 'NOT_ASKED',
      });
    });

    it('refuses NothingToRestore for a material that is still imported', async () => {
      await expect(checkState(event(restoreOf('Enabled', false)))).rejects.toMatchObject({
        name: 'NothingToRestore',
        message: expect.stringContaining(`material ${M1} of key`),
      });
    });

    it('refuses KeyStateNotRestorable for a key pending deletion, saying to cancel it first', async () => {
      await expect(checkState(event(restoreOf('PendingDeletion', true)))).rejects.toMatchObject({
        name: 'KeyStateNotRestorable',
        message: expect.stringContaining('cancel the key deletion first'),
      });
    });
  });
});
