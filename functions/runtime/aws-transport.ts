import { Sha256 } from '@smithy/core/checksum';
import { SignatureV4 } from '@smithy/signature-v4';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { AwsCredentials } from '../../core/config';
import type { WireRequest, WireResponse } from './aws-protocols';

/** Signs and sends one request; resolves with the answer, whatever its status. */
export type SendRequest = (endpoint: URL, wire: WireRequest) => Promise<WireResponse>;

/**
 * What sends a client's requests: SigV4 signing for one service in one Region, over node:https (node:http for a local
 * endpoint). aws-client.ts imports this module at a client's first call, so a cold start loads neither the signer nor
 * node's http, https and tls. The CLI's gateway client sends through it too: Node's `fetch` would parse the answer with
 * a WebAssembly HTTP parser, whose compilation costs a short-lived process about 190 ms of CPU.
 */
export function createSender(signing: { service: string; region: string; credentials: AwsCredentials }): SendRequest {
  const signer = new SignatureV4({ ...signing, sha256: Sha256 });
  return async (endpoint, wire) => {
    const body = typeof wire.body === 'string' ? Buffer.from(wire.body) : wire.body;
    const path = `${endpoint.pathname.replace(/\/$/, '')}${wire.path}`;
    const query = wire.query ?? {};
    const search = new URLSearchParams(query).toString();
    const signed = await signer.sign({
      method: 'POST',
      protocol: endpoint.protocol,
      hostname: endpoint.hostname,
      ...(endpoint.port && { port: Number(endpoint.port) }),
      path,
      query,
      headers: { ...wire.headers, host: endpoint.host, 'content-length': String(body.length) },
      body,
    });
    const request = endpoint.protocol === 'http:' ? httpRequest : httpsRequest;
    return new Promise((resolve, reject) => {
      const req = request(
        {
          method: 'POST',
          protocol: endpoint.protocol,
          hostname: endpoint.hostname,
          port: endpoint.port,
          path: search === '' ? path : `${path}?${search}`,
          headers: signed.headers,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.once('error', reject);
          res.once('end', () =>
            resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
          );
        },
      );
      req.once('error', reject);
      req.end(body);
    });
  };
}
