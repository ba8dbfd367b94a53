import { Duration } from 'aws-cdk-lib';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { KeymatProps } from '../../../infra/config';
import { synthesizeDefinition } from '../../../infra/definition';
import { localDefinition } from '../../../local/workflow/definition';
import { DEFAULT_REGION, DEFINITION_CALENDAR, DEFINITION_FILES, LOCAL_ACCOUNT_ID } from '../../../local/constants';

/**
 * The local engine runs local/workflow/workflow.asl.json (written by `npm run build`) with a local stack's settings set in it;
 * these tests hold it to the construct: the file is what the construct synthesizes today, and each setting lands
 * where the construct puts it.
 */
const env = { account: LOCAL_ACCOUNT_ID, region: DEFAULT_REGION };
const aslValidator = require('asl-validator') as (definition: unknown) => {
  isValid: boolean;
  errorsText: () => string;
};
/** No props: every default. */
const defaults: KeymatProps = {};
/** What the construct synthesizes with the default props (once: a synthesis takes about a second). */
const synthesizedDefault = synthesizeDefinition(defaults, env);

describe('the generated definition', () => {
  it('is what the construct synthesizes with the default configuration (run npm run build when this fails)', () => {
    const file = JSON.parse(
      readFileSync(join(__dirname, '..', '..', '..', 'local', 'workflow', DEFINITION_FILES.default), 'utf8'),
    );
    expect(file).toEqual(synthesizedDefault);
  });

  it('with change calendars, is what the construct synthesizes with calendars (run npm run build when this fails)', () => {
    const file = JSON.parse(
      readFileSync(join(__dirname, '..', '..', '..', 'local', 'workflow', DEFINITION_FILES.changeWindow), 'utf8'),
    );
    const withCalendars = synthesizeDefinition(
      { ...defaults, changeCalendars: ['any-calendar'], taskTimeout: Duration.seconds(7), quorum: 2 },
      env,
    );
    expect(file).toEqual(synthesizeDefinition({ ...defaults, changeCalendars: [DEFINITION_CALENDAR] }, env));
    expect(localDefinition({ changeWindow: true, taskTimeoutSeconds: 7, quorum: 2 })).toEqual(withCalendars);
  });

  it('is the definition the local engine runs when no setting is given', () => {
    expect(localDefinition()).toEqual(synthesizedDefault);
  });

  it.each([
    { approvalTimeoutSeconds: 120, quorum: 2, approvers: [] },
    {
      approvalTimeoutSeconds: 3600,
      taskTimeoutSeconds: 5,
      quorum: 2,
      approvers: ['arn:aws:iam::111122223333:user/bob', 'arn:aws:iam::111122223333:user/carol'],
    },
    { approvalTimeoutSeconds: 60, taskTimeoutSeconds: 900, quorum: 1, approvers: ['arn:aws:iam::111122223333:user/*'] },
  ])('equals the synthesized definition for the settings %j', (settings) => {
    const synthesized = synthesizeDefinition(
      {
        ...defaults,
        approvalTimeout: Duration.seconds(settings.approvalTimeoutSeconds),
        ...(settings.taskTimeoutSeconds !== undefined && {
          taskTimeout: Duration.seconds(settings.taskTimeoutSeconds),
        }),
        quorum: settings.quorum,
        approvers: settings.approvers,
      },
      env,
    );
    expect(localDefinition(settings)).toEqual(synthesized);
  });

  // The local engine runs these without validating them (local/workflow/engine.ts): this is where they are validated.
  it.each([
    {},
    { changeWindow: true },
    {
      approvalTimeoutSeconds: 3600,
      taskTimeoutSeconds: 5,
      quorum: 2,
      approvers: ['arn:aws:iam::111122223333:user/bob', 'arn:aws:iam::111122223333:user/carol'],
    },
  ])('passes asl-validator, as the local engine runs it, with the settings %j', (settings) => {
    const result = aslValidator(localDefinition(settings));
    expect(result.errorsText()).toBe('');
    expect(result.isValid).toBe(true);
  });

  it('refuses a quorum the listed approvers cannot reach, as the construct does', () => {
    expect(() => localDefinition({ quorum: 2, approvers: ['arn:aws:iam::111122223333:user/bob'] })).toThrow(RangeError);
    expect(() => localDefinition({ quorum: 2, approvers: ['arn:aws:iam::111122223333:user/bob'] })).toThrow(
      'DeletionWorkflow: quorum 2 cannot be reached by the 1 approver listed',
    );
  });

  it('refuses a timeout below one second, naming it', () => {
    expect(() => localDefinition({ approvalTimeoutSeconds: 0 })).toThrow(
      'approvalTimeout must be a whole number from 1',
    );
  });

  it('leaves the generated file unchanged between calls', () => {
    localDefinition({ quorum: 3, approvalTimeoutSeconds: 7 });
    expect(localDefinition()).toEqual(synthesizedDefault);
  });
});
