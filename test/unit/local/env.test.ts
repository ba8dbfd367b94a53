import { localLogLevel } from '../../../local/env';

describe('localLogLevel', () => {
  it('keeps the in-process functions silent unless asked', () => {
    expect(localLogLevel({})).toBe('SILENT');
    expect(localLogLevel({ POWERTOOLS_LOG_LEVEL: '' })).toBe('SILENT');
  });

  it('takes a Powertools level in any case', () => {
    expect(localLogLevel({ POWERTOOLS_LOG_LEVEL: 'debug' })).toBe('DEBUG');
  });

  it('refuses an unknown level, naming the variable and the value', () => {
    expect(() => localLogLevel({ POWERTOOLS_LOG_LEVEL: 'loud' })).toThrow(
      "environment variable POWERTOOLS_LOG_LEVEL must be one of TRACE, DEBUG, INFO, WARN, ERROR, CRITICAL, SILENT; got 'loud'",
    );
  });
});
