import { Logger } from '@aws-lambda-powertools/logger';
import type { LogLevel } from '../../core/config';
import { mapErrorStack } from './source-maps';

export type { Logger };

/**
 * Creates a task's logger: one per container (the handler module makes it at cold start) or, locally, one per task of
 * a local workflow. Every line of an invocation carries the execution id, change id and key ARN (`startInvocation`).
 *
 * @param options.logLevel - The level to log at. @default `POWERTOOLS_LOG_LEVEL`, read by Powertools, else INFO
 */
export function createLogger(options: { logLevel?: LogLevel } = {}): Logger {
  return new Logger({
    serviceName: 'keymat',
    ...(options.logLevel && { logLevel: options.logLevel }),
    // A logged error's location and stack point at the sources: Powertools formats the error after this returns it.
    jsonReplacerFn: (_key, value) => {
      mapErrorStack(value);
      return value;
    },
  });
}

/** The keys every log line of one invocation carries. */
export interface InvocationKeys {
  executionId: string;
  changeId?: string;
  keyArn?: string;
  keyId?: string;
}

/** Starts an invocation's lines: the previous invocation's keys go, these come. */
export function startInvocation(logger: Logger, keys: InvocationKeys): void {
  logger.resetKeys();
  logger.appendKeys({ ...keys });
}

/** What the Lambda runtime passes a handler as its second argument, as far as the logger reads it. */
export interface LambdaContext {
  functionName: string;
  functionVersion: string;
  invokedFunctionArn: string;
  memoryLimitInMB: string;
  awsRequestId: string;
}

/**
 * The Lambda entry point around a task's handler: each invocation's lines carry the request id and whether it was a
 * cold start, and an error it ends with reports source locations in its stack (the runtime's error report and Step
 * Functions' Cause show it).
 */
export function withLambdaContext<R>(
  logger: Logger,
  run: (event: unknown) => Promise<R>,
): (event: unknown, context: LambdaContext) => Promise<R> {
  return async (event, context) => {
    logger.addContext(context as Parameters<Logger['addContext']>[0]);
    try {
      return await run(event);
    } catch (err) {
      mapErrorStack(err);
      throw err;
    }
  };
}
