import { defaultProvider } from '@aws-sdk/credential-provider-node';
import { Sha256 } from '@smithy/core/checksum';
import { SignatureV4 } from '@smithy/signature-v4';
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from '@smithy/types';

/**
 * keymat's gateway as the CLI reaches it: every request SigV4-signed (service `lambda`) with the caller's own
 * credentials by the SDK's signer, so that the gateway learns who asks from the signature, never from the body.
 */
export interface GatewayEndpoint {
  /** The Function URL (or the local stack's gateway path), e.g. `https://abc.lambda-url.eu-west-1.on.aws/`. */
  url: string;
  region: string;
  /** @default the SDK's default credential chain */
  credentials?: AwsCredentialIdentity | AwsCredentialIdentityProvider;
}

/** A refusal or failure the gateway answered, with its error name (e.g. `ApprovalRefused`). */
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

/** Sends one signed JSON request to the gateway and returns its JSON answer; a refusal throws GatewayError. */
export async function callGateway<T>(endpoint: GatewayEndpoint, path: string, body: unknown): Promise<T> {
  const url = new URL(path.replace(/^\//, ''), endpoint.url.endsWith('/') ? endpoint.url : `${endpoint.url}/`);
  const payload = JSON.stringify(body);
  const signer = new SignatureV4({
    credentials: endpoint.credentials ?? defaultProvider(),
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
  const response = await fetch(url, { method: 'POST', headers: signed.headers, body: payload });
  const text = await response.text();
  let answer: unknown;
  try {
    answer = JSON.parse(text);
  } catch {
    throw new GatewayError(
      'GatewayUnreadable',
      `the gateway answered ${response.status} with: ${text.slice(0, 200)}`,
      response.status,
    );
  }
  if (!response.ok) {
    const { error, message } = answer as { error?: unknown; message?: unknown };
    throw new GatewayError(
      typeof error === 'string' ? error : `HTTP${response.status}`,
      typeof message === 'string' ? message : text.slice(0, 500),
      response.status,
    );
  }
  return answer as T;
}
