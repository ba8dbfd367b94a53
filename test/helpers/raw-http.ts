import { connect } from 'node:net';

/** What came back on a raw connection: the status line's code, and the whole text. */
export interface RawAnswer {
  status: number;
  text: string;
}

/**
 * Sends bytes on a fresh TCP connection exactly as given (so a request can be malformed in ways no HTTP client
 * allows) and collects what the server sends until it closes its side. By default it half-closes after writing, as a
 * truncated request needs; `halfClose: false` keeps the connection open for a complete request, whose answer the
 * server gives before it closes.
 */
export function rawExchange(
  endpoint: string,
  bytes: string | Buffer,
  { halfClose = true }: { halfClose?: boolean } = {},
): Promise<RawAnswer> {
  const { hostname, port } = new URL(endpoint);
  return new Promise((resolve, reject) => {
    const socket = connect({ host: hostname, port: Number(port), allowHalfOpen: halfClose });
    const chunks: Buffer[] = [];
    socket.setTimeout(10_000, () => socket.destroy(new Error('no answer within 10 s')));
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('close', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0), text });
    });
    socket.write(bytes, () => {
      if (halfClose) socket.end();
    });
  });
}

/** A signed-looking AWS JSON request: the local stack reads the credential scope, not the signature. */
export function jsonRequest(
  service: string,
  target: string,
  body: string,
  contentLength = Buffer.byteLength(body),
): string {
  return [
    'POST / HTTP/1.1',
    'host: 127.0.0.1',
    `x-amz-target: ${target}`,
    'content-type: application/x-amz-json-1.1',
    `authorization: AWS4-HMAC-SHA256 Credential=AKIAKEYMATLOCAL/20250101/us-east-1/${service}/aws4_request, SignedHeaders=host, Signature=0`,
    `content-length: ${contentLength}`,
    'connection: close',
    '',
    body,
  ].join('\r\n');
}
