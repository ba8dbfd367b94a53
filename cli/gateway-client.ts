import { Sha256 } from '@smithy/core/checksum';
import { SignatureV4 } from '@smithy/signature-v4';
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from '@smithy/types';
// zod's functional build, as core uses it: the full build costs the CLI's start-up about 90 ms.
import * as z from '../core/schema';

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
  credentials?: AwsCredentialIdentity | AwsCredentialIdentityProvider;
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
  const url = new URL(path.replace(/^\//, ''), endpoint.url.endsWith('/') ? endpoint.url : `${endpoint.url}/`);
  const payload = JSON.stringify(body);
  const signer = new SignatureV4({
    credentials: endpoint.credentials ?? (await import('@aws-sdk/credential-provider-node')).defaultProvider(),
    region: endpoint.region,
    service: 'lambda',
    sha256: Sha256,
  });
  const signed = await signer.sign({
    method: 'POST',
    protocol: url.protocol,
    hostname: url.hostname,
    ...(url.port && { port: Number(url.port) }),
    path: url.pathname,
    headers: { host: url.host, 'content-type': 'application/json' },
    body: payload,
  });
  let response: Response;
  try {
    response = await fetch(url, { method: 'POST', headers: signed.headers, body: payload });
  } catch (err) {
    const cause = err instanceof Error && err.cause instanceof Error ? err.cause.message : String(err);
    throw new GatewayError('GatewayUnreachable', `the gateway at ${url.origin} did not answer (${cause})`, 0);
  }
  const text = await response.text();
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
  if (!response.ok) {
    const parsed = refusal.safeParse(json);
    const { error, message } = parsed.success ? parsed.data : {};
    throw new GatewayError(error ?? `HTTP${response.status}`, message ?? text.slice(0, 500), response.status);
  }
  const parsed = answer.safeParse(json);
  if (!parsed.success) throw unreadable('an answer keymat does not know');
  return parsed.data;
}
