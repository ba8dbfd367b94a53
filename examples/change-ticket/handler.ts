import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { ticketRequestSchema } from '../../core/change-ticket';
import { createServiceNowCheck } from './servicenow';

/**
 * The ServiceNow check as a Lambda function (Node 24, ES module). Its environment names the instance and the
 * Secrets Manager secret holding the integration user, as JSON `{"username": …, "password": …}`; its role needs
 * `secretsmanager:GetSecretValue` on that secret, and keymat's ValidateOrigin role `lambda:InvokeFunction` on it
 * (keymat grants that when `changeTicketCheck` names the function).
 */
const secrets = new SecretsManagerClient({});
const secretArn = process.env.SERVICENOW_CREDENTIALS_SECRET_ARN;
const instanceUrl = process.env.SERVICENOW_INSTANCE_URL;
if (!secretArn || !instanceUrl) {
  throw new Error('set SERVICENOW_INSTANCE_URL and SERVICENOW_CREDENTIALS_SECRET_ARN');
}

let credentials: Promise<{ username: string; password: string }> | undefined;
const check = createServiceNowCheck({
  instanceUrl,
  credentials: () =>
    (credentials ??= secrets
      .send(new GetSecretValueCommand({ SecretId: secretArn }))
      .then((s) => JSON.parse(s.SecretString ?? '{}') as { username: string; password: string })
      .catch((err: unknown) => {
        // Read again on the next call rather than keep a failure.
        credentials = undefined;
        throw err;
      })),
});

/** The Lambda entry point: keymat's request in, the answer out. */
export const handler = async (event: unknown) => check(ticketRequestSchema.parse(event));
