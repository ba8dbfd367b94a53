import { runInNewContext } from 'node:vm';
import { ChangeError, KeymatError, TERMINAL_ERRORS, errorMessage, errorName, hasErrorName } from '../../../core/errors';

describe('KeymatError', () => {
  it('takes its name and code from the list, whatever the class is called after bundling', () => {
    const err = new KeymatError('PlanDrifted', 'the key changed');
    expect(err.name).toBe('PlanDrifted');
    expect(err.code).toBe('PlanDrifted');
    expect(TERMINAL_ERRORS).toContain(err.name);
    expect(err).toBeInstanceOf(Error);
  });

  it('keeps the cause it is given', () => {
    const cause = new Error('socket hang up');
    expect(new KeymatError('NetworkError', 'the request did not complete', { cause }).cause).toBe(cause);
  });
});

describe('ChangeError', () => {
  it('is named by its code', () => {
    const err = new ChangeError('ExecutionNotFound', 'no execution keymat-NOPE');
    expect(err).toMatchObject({ name: 'ExecutionNotFound', code: 'ExecutionNotFound' });
  });
});

describe('errorName and hasErrorName', () => {
  const sdkError = Object.assign(new Error('Execution Does Not Exist'), { name: 'ExecutionDoesNotExist' });

  it('reads the name of an SDK exception and of a keymat error', () => {
    expect(errorName(sdkError)).toBe('ExecutionDoesNotExist');
    expect(errorName(new KeymatError('InvalidInput', 'x'))).toBe('InvalidInput');
  });

  it('gives no name for what is not an error', () => {
    expect(errorName(undefined)).toBeUndefined();
    expect(errorName('ExecutionDoesNotExist')).toBeUndefined();
    expect(errorName({ name: 42 })).toBeUndefined();
  });

  it('matches any of the names given, and none other', () => {
    expect(hasErrorName(sdkError, 'TaskDoesNotExist', 'ExecutionDoesNotExist')).toBe(true);
    expect(hasErrorName(sdkError, 'TaskDoesNotExist')).toBe(false);
    expect(hasErrorName(null, 'ExecutionDoesNotExist')).toBe(false);
  });
});

describe('errorMessage', () => {
  it("reads an error's message, also from an error made in another realm", () => {
    expect(errorMessage(new TypeError('bad'))).toBe('bad');
    const foreign = runInNewContext("new Error('connect ECONNREFUSED 127.0.0.1:1')") as unknown;
    expect(foreign instanceof Error).toBe(false);
    expect(errorMessage(foreign)).toBe('connect ECONNREFUSED 127.0.0.1:1');
  });

  it('gives anything else as text', () => {
    expect(errorMessage('plain')).toBe('plain');
    expect(errorMessage({ message: 42 })).toBe('[object Object]');
    expect(errorMessage(undefined)).toBe('undefined');
  });
});
