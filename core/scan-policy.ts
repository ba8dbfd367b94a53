// The expiry scan's policy and pace, as the CDK context, the CLI and the scan function take them: here rather than
// beside the scan, because the construct library's typings name them and must not reach the scan's AWS calls (whose
// SDK types a CDK app does not install).
import * as z from './schema';

/** Which materials violate the policy. A rule left out is off. */
export const scanPolicySchema = z.lazy(() =>
  z.strictObject({
    /** Materials whose own ValidTo falls within this many days. */
    expiresWithinDays: z.optional(z.number().check(z.int(), z.gte(0), z.lte(365))),
    /** Materials imported (rotated in, or the key created) more than this many days ago. */
    importedMoreThanDays: z.optional(z.number().check(z.int(), z.gte(1), z.lte(3650))),
    /** A key tag whose value (YYYY-MM-DD) is the day from which the key's current material is retired. */
    retireTag: z.optional(z.string().check(z.minLength(1), z.maxLength(128))),
  }),
);

/** Requests per second for each KMS operation the scan calls: set them below the account's quotas. */
export const scanLimitsSchema = z.lazy(() =>
  z.strictObject({
    maxChanges: z.number().check(z.int(), z.gte(0), z.lte(1000)),
    concurrency: z._default(z.number().check(z.int(), z.gte(1), z.lte(64)), 8),
    rates: z.strictObject({
      ListKeys: z.number().check(z.positive()),
      DescribeKey: z.number().check(z.positive()),
      ListKeyRotations: z.number().check(z.positive()),
      ListResourceTags: z.number().check(z.positive()),
    }),
  }),
);

export type ScanPolicy = z.infer<typeof scanPolicySchema>;
export type ScanLimits = z.infer<typeof scanLimitsSchema>;
