import type { Logger } from '@aws-lambda-powertools/logger';
import type { KmsCall, SfnCall, SnsCall } from '../../core/aws-api';
import type { Attestor } from '../../core/attestation';
import { ChangeClient } from '../../core/change-client';
import type { ExpiryScanConfig } from '../../core/config';
import * as z from '../../core/schema';
import { scanLimitsSchema, scanPolicySchema, type ScanLimits, type ScanPolicy } from '../../core/scan-policy';
import { scan, type ScanDeps, type ScanSummary } from './scan';
import { changeStarter, describeSummary } from './start';

/** What the expiry scan works with: its clients, its configuration and its logger. */
export interface ExpiryScanDeps {
  /** KMS, to list and read the keys; give it the SDK's retry, the scan paces itself below the quotas as well. */
  kms: KmsCall;
  /** Step Functions, to start the changes. */
  sfn: SfnCall;
  /** SNS, for the summary message on the outcome topic. */
  sns: SnsCall;
  /** Attests the scan's starts (GenerateMac with the attestation key). */
  attestor: Attestor;
  config: ExpiryScanConfig;
  logger: Logger;
}

/** The scheduled event; `dryRun` reports what would be started and starts nothing. */
export const scanEventSchema = z.lazy(() => z.looseObject({ dryRun: z._default(z.boolean(), false) }));

/**
 * The scheduled expiry scan: one run, one summary message on the outcome topic. The policy and the limits are
 * parsed once, here, so a bad configuration fails the cold start naming the field.
 */
export function createExpiryScan(deps: ExpiryScanDeps): (event: unknown) => Promise<ScanSummary> {
  const { kms, sfn, sns, attestor, config, logger } = deps;
  const { policy, limits } = scanSettings(config);
  const start = scanStarter(sfn, attestor, config);

  return async (event) => {
    const { dryRun } = scanEventSchema.parse(event ?? {});
    const now = new Date();
    logger.resetKeys();
    logger.appendKeys({ executionId: `scan-${now.toISOString()}` });
    const summary = await scan({ kms, now, start }, policy, limits, dryRun);
    await sns('Publish', {
      TopicArn: config.outcomeTopicArn,
      Subject: `keymat expiry scan: ${summary.started.length} started, ${summary.skipped.length} skipped`.slice(0, 100),
      Message: [...describeSummary(summary), '', JSON.stringify(summary, null, 2)].join('\n'),
      MessageAttributes: { event: { DataType: 'String', StringValue: 'ScanSummary' } },
    });
    logger.info('scan finished', { started: summary.started.length, skipped: summary.skipped.length });
    return summary;
  };
}

/** The scan's policy and limits, parsed from its configuration: a bad one fails the cold start naming the field. */
export function scanSettings(config: Pick<ExpiryScanConfig, 'policyJson' | 'limitsJson'>): {
  policy: ScanPolicy;
  limits: ScanLimits;
} {
  return {
    policy: scanPolicySchema.parse(parseJson(config.policyJson, 'the scan policy')),
    limits: scanLimitsSchema.parse(parseJson(config.limitsJson, 'the scan limits')),
  };
}

/** How the scan starts its changes: in its workflow, attested as its own. */
export const scanStarter = (
  sfn: SfnCall,
  attestor: Attestor,
  config: Pick<ExpiryScanConfig, 'stateMachineArn'>,
): ScanDeps['start'] => changeStarter(new ChangeClient({ sfn, stateMachineArn: config.stateMachineArn }), attestor);

function parseJson(text: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new Error(`${what} is not JSON (${(err as Error).message}); got '${text.slice(0, 200)}'`, { cause: err });
  }
}
