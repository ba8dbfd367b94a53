import { Logger } from '@aws-lambda-powertools/logger';
import type { LogLevel } from '../../core/config';

export type { Logger };

/**
 * Creates a task's logger: one per container (the handler module makes it at cold start) or, locally, one per task of
 * a local workflow. Every line of an invocation carries the execution id, change id and key ARN (`startInvocation`).
 *
 * @param options.logLevel - The level to log at. @default `POWERTOOLS_LOG_LEVEL`, read by Powertools, else INFO
 */
export function createLogger(options: { logLevel?: LogLevel } = {}): Logger {
  return new Logger({ serviceName: 'keymat', ...(options.logLevel && { logLevel: options.logLevel }) });
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
 * cold start. (Stacks point at the sources through `NODE_OPTIONS=--enable-source-maps`, which the stack sets.)
 */
export function withLambdaContext<R>(
  logger: Logger,
  run: (event: unknown) => Promise<R>,
): (event: unknown, context: LambdaContext) => Promise<R> {
  return async (event, context) => {
    logger.addContext(context as Parameters<Logger['addContext']>[0]);
    return run(event);
  };
}
