import { Logger } from '@aws-lambda-powertools/logger';

/** One logger per container. Every line of an invocation carries the execution id, change id and key ARN. */
export const logger = new Logger({ serviceName: 'keymat' });

export function startInvocation(keys: {
  executionId: string;
  changeId?: string;
  keyArn?: string;
  keyId?: string;
}): void {
  logger.resetKeys();
  logger.appendKeys(keys);
}
