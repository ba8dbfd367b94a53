import { fromNodeProviderChain } from '@aws-sdk/credential-providers';
import { Sha256 } from '@smithy/core/checksum';
import { HttpRequest } from '@smithy/core/protocols';
import { NodeHttpHandler, streamCollector } from '@smithy/node-http-handler';
import { SignatureV4 } from '@smithy/signature-v4';
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from '@smithy/types';
import { errorMessage } from '../core/errors';
import * as z from '../core/schema';

/**
 * keymat's gateway as the CLI reaches it: every request SigV4-signed (service `lambda`) with the caller's own
 * credentials by the SDK's signer and sent by the SDK's HTTP handler, so that the gateway learns who asks from the
 * signature, never from the body. A Function URL is not an SDK operation, so this is the CLI's one request that no SDK
 * client sends.
 */
export interface GatewayEndpoint {
  /** The Function URL (or the local stack's gateway path), e.g. `https://abc.lambda-url.eu-west-1.on.aws/`. */
  url: string;
  region: string;
  /**
   * Who signs: static credentials for the local stack.
   * @default the SDK's default credential chain, for a deployed stack
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

/** The SDK's HTTP handler (node:http and node:https, keep-alive), one for the CLI's process. */
const HANDLER = new NodeHttpHandler();

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
  const given = endpoint.credentials ?? fromNodeProviderChain();
  // Resolved before sending, so that missing credentials fail as themselves, not as a gateway that did not answer.
  const credentials = typeof given === 'function' ? await given() : given;
  const signer = new SignatureV4({ service: 'lambda', region: endpoint.region, credentials, sha256: Sha256 });
  const payload = JSON.stringify(body);
  const request = new HttpRequest({
    method: 'POST',
    protocol: base.protocol,
    hostname: base.hostname,
    ...(base.port !== '' && { port: Number(base.port) }),
    path: `${base.pathname.replace(/\/$/, '')}/${path.replace(/^\//, '')}`,
    headers: {
      host: base.host,
      'content-type': 'application/json',
      'content-length': String(Buffer.byteLength(payload)),
    },
    body: payload,
  });
  let response: { status: number; text: string };
  try {
    const { response: answer } = await HANDLER.handle((await signer.sign(request)) as HttpRequest);
    const bytes = await streamCollector(answer.body);
    response = { status: answer.statusCode, text: Buffer.from(bytes).toString('utf8') };
  } catch (err) {
    throw new GatewayError(
      'GatewayUnreachable',
      `the gateway at ${base.origin} did not answer (${errorMessage(err)})`,
      0,
    );
  }
  const ok = response.status >= 200 && response.status < 300;
  const text = response.text;
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
