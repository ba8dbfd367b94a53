import type { AwsCredentials } from '../core/config';
import { errorMessage } from '../core/errors';
// zod's functional build, as core uses it: the full build costs the CLI's start-up about 90 ms.
import * as z from '../core/schema';
import type { WireResponse } from '../functions/runtime/aws-protocols';
import { createSender } from '../functions/runtime/aws-transport';

/**
 * keymat's gateway as the CLI reaches it: every request SigV4-signed (service `lambda`) with the caller's own
 * credentials by the SDK's signer, so that the gateway learns who asks from the signature, never from the body.
 */
export interface GatewayEndpoint {
  /** The Function URL (or the local stack's gateway path), e.g. `https://abc.lambda-url.eu-west-1.on.aws/`. */
  url: string;
  region: string;
  /**
   * Who signs: static credentials for the local stack.
   * @default the SDK's default credential chain, for a deployed stack (loaded only then)
   */
  credentials?: AwsCredentials | (() => Promise<AwsCredentials>);
}

/**
 * A refusal or failure the gateway answered, with its error name (e.g. `ApprovalRefused`); `GatewayUnreachable`
 * (status 0) when no answer came, `GatewayUnreadable` when the answer was not the JSON asked for.
 */
export class GatewayError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status: number,
  ) {
    super(message);
    this.name = code;
  }
}

const refusal = z.object({ error: z.optional(z.string()), message: z.optional(z.string()) });

/**
 * Sends one signed JSON request to the gateway and returns its JSON answer, checked against `answer`; a refusal (any
 * status but 2xx) throws GatewayError with the gateway's error name and message.
 */
export async function callGateway<S extends z.ZodMiniType>(
  endpoint: GatewayEndpoint,
  path: string,
  body: unknown,
  answer: S,
): Promise<z.infer<S>> {
  const base = new URL(endpoint.url);
  // Resolved before sending, so that missing credentials fail as themselves, not as a gateway that did not answer.
  const credentials = endpoint.credentials ?? (await import('@aws-sdk/credential-provider-node')).defaultProvider();
  const send = createSender({
    service: 'lambda',
    region: endpoint.region,
    credentials: typeof credentials === 'function' ? await credentials() : credentials,
  });
  let response: WireResponse;
  try {
    response = await send(base, {
      path: `/${path.replace(/^\//, '')}`,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
  } catch (err) {
    throw new GatewayError(
      'GatewayUnreachable',
      `the gateway at ${base.origin} did not answer (${errorMessage(err)})`,
      0,
    );
  }
  const ok = response.status >= 200 && response.status < 300;
  const text = response.body.toString('utf8');
  const unreadable = (why: string) =>
    new GatewayError(
      'GatewayUnreadable',
      `the gateway answered ${response.status} with ${why}: ${text.slice(0, 200)}`,
      response.status,
    );
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw unreadable('something that is not JSON');
  }
  if (!ok) {
    const parsed = refusal.safeParse(json);
    const { error, message } = parsed.success ? parsed.data : {};
    throw new GatewayError(error ?? `HTTP${response.status}`, message ?? text.slice(0, 500), response.status);
  }
  const parsed = answer.safeParse(json);
  if (!parsed.success) throw unreadable('an answer keymat does not know');
  return parsed.data;
}
