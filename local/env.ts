import { LOG_LEVELS, type LogLevel } from '../core/config';
import { DEFAULT_LOCAL_LOG_LEVEL } from '../core/defaults';

/** The variable that sets the functions' log level, Powertools' own. */
const LOG_LEVEL_VARIABLE = 'POWERTOOLS_LOG_LEVEL';

/**
 * The log level of the task functions when the local stack runs them in-process: silent unless
 * `POWERTOOLS_LOG_LEVEL` asks for their lines (any case, as Powertools accepts it).
 */
export function localLogLevel(env: Readonly<Record<string, string | undefined>> = process.env): LogLevel {
  const raw = env[LOG_LEVEL_VARIABLE];
  if (raw === undefined || raw === '') return DEFAULT_LOCAL_LOG_LEVEL;
  const level = LOG_LEVELS.find((l) => l === raw.toUpperCase());
  if (level === undefined) {
    throw new Error(`environment variable ${LOG_LEVEL_VARIABLE} must be one of ${LOG_LEVELS.join(', ')}; got '${raw}'`);
  }
  return level;
}
