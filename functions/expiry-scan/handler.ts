import { KMSClient } from '@aws-sdk/client-kms';
import { SFNClient } from '@aws-sdk/client-sfn';
import { PublishCommand } from '@aws-sdk/client-sns';
import { z } from 'zod';
import { createSnsClient } from '../runtime/aws';
import { requireEnv } from '../runtime/env';
import { logger, startInvocation } from '../runtime/logger';
import { scan, scanLimitsSchema, scanPolicySchema, type ScanSummary } from './scan';
import { describeSummary, sfnStarter } from './start';

// The SDK's standard retry backs off on ThrottlingException; the scan paces itself below the quotas as well.
const kms = new KMSClient({ maxAttempts: 8 });
const sfn = new SFNClient({});
const sns = createSnsClient();
const stateMachineArn = requireEnv('STATE_MACHINE_ARN');
const topicArn = requireEnv('OUTCOME_TOPIC_ARN');
const policy = scanPolicySchema.parse(JSON.parse(requireEnv('SCAN_POLICY')));
const limits = scanLimitsSchema.parse(JSON.parse(requireEnv('SCAN_LIMITS')));

const scanEvent = z.object({ dryRun: z.boolean().default(false) }).passthrough();

/** The scheduled expiry scan: one run, one summary message. */
export async function handler(event: unknown): Promise<ScanSummary> {
  const { dryRun } = scanEvent.parse(event ?? {});
  const now = new Date();
  startInvocation({ executionId: `scan-${now.toISOString()}` });
  const summary = await scan({ kms, now, start: sfnStarter(sfn, stateMachineArn) }, policy, limits, dryRun);
  await sns.send(
    new PublishCommand({
      TopicArn: topicArn,
      Subject: `keymat expiry scan: ${summary.started.length} started, ${summary.skipped.length} skipped`.slice(0, 100),
      Message: [...describeSummary(summary), '', JSON.stringify(summary, null, 2)].join('\n'),
      MessageAttributes: { event: { DataType: 'String', StringValue: 'ScanSummary' } },
    }),
  );
  logger.info('scan finished', { started: summary.started.length, skipped: summary.skipped.length });
  return summary;
}
