import { createLogger, withLambdaContext } from '../runtime/logger';
import { createCheckState } from './check-state';

const logger = createLogger();

/** CheckState's Lambda entry point. */
export const handler = withLambdaContext(logger, createCheckState({ logger }));
