import { configFromEnvironment } from '../../core/config';
import { createSsmClient, ssmCalendarReader } from '../runtime/calendars';
import { createLogger, withLambdaContext } from '../runtime/logger';
import { createCheckChangeWindow } from './check-change-window';

const logger = createLogger();
const checkChangeWindow = createCheckChangeWindow({
  calendars: ssmCalendarReader(createSsmClient()),
  config: configFromEnvironment('CheckChangeWindow'),
  logger,
});

/** CheckChangeWindow's Lambda entry point. */
export const handler = withLambdaContext(logger, checkChangeWindow);
