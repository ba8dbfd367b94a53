import { configFromEnvironment } from '../../core/config';
import { createSnsClient } from '../runtime/aws';
import { createLogger, withLambdaContext } from '../runtime/logger';
import { createNotifyOutcome } from './notify-outcome';

const logger = createLogger();
const notifyOutcome = createNotifyOutcome({
  sns: createSnsClient(),
  config: configFromEnvironment('NotifyOutcome'),
  logger,
});

/** NotifyOutcome's Lambda entry point. */
export const handler = withLambdaContext(logger, notifyOutcome);
