import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EncryptCommand, KMSClient } from '@aws-sdk/client-kms';
import { DEFAULT_REGION, LOCAL_CREDENTIALS } from '../../../local/constants';
import { MAX_BODY_BYTES } from '../../../local/services/router';
import { errorOf } from '../../helpers/local-stack';
import { jsonRequest, rawExchange } from '../../helpers/raw-http';
import { serve, type ServedStack } from '../../helpers/run-cli';

// The whole stack in a process of its own (`keymat local serve`), so a request that crashed it would show.
let served: ServedStack;
let dir: string;
/** ListKeys' answer body right after the start: the attestation key is the only key. */
let keysAtStart: string;
const listKeys = async (): Promise<string> => {
  const answer = await rawExchange(served.endpoint, jsonRequest('kms', 'TrentService.ListKeys', '{}'));
  expect(answer.status).toBe(200);
  return answer.text.slice(answer.text.indexOf('\r\n\r\n') + 4);
};
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'keymat-router-'));
  served = await serve(['local', 'serve', '--state-dir', dir]);
  keysAtStart = await listKeys();
}, 60_000);
afterAll(async () => {
  await served.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** The stack still answers, and still holds only the attestation key: the refused request changed nothing. */
async function expectServingUnchanged(): Promise<void> {
  expect(JSON.parse(keysAtStart)).toEqual({ Keys: [expect.objectContaining({})], Truncated: false });
  expect(await listKeys()).toBe(keysAtStart);
}

/** A POST to the gateway, signed-looking as `accessKeyId` or unsigned. */
function gatewayRequest(route: string, body: string, accessKeyId?: string): string {
  return [
    `POST /gateway${route} HTTP/1.1`,
    'host: 127.0.0.1',
    'content-type: application/json',
    ...(accessKeyId
      ? [
          `authorization: AWS4-HMAC-SHA256 Credential=${accessKeyId}/20250101/us-east-1/lambda/aws4_request, SignedHeaders=host, Signature=0`,
        ]
      : []),
    `content-length: ${Buffer.byteLength(body)}`,
    'connection: close',
    '',
    body,
  ].join('\r\n');
}

describe('a request the router cannot serve', () => {
  it.each([
    ['KMS', 'kms', 'TrentService.CreateKey'],
    ['Secrets Manager', 'secretsmanager', 'secretsmanager.GetSecretValue'],
    ['Step Functions', 'states', 'AWSStepFunctions.StartExecution'],
  ])('answers malformed JSON to %s with 400 SerializationException', async (_name, service, target) => {
    const answer = await rawExchange(served.endpoint, jsonRequest(service, target, '{"KeyId": '));
    expect(answer.status).toBe(400);
    expect(answer.text).toMatch(/x-amzn-errortype: SerializationException/i);
    expect(answer.text).toContain('"message":"The request body is not valid JSON"');
    await expectServingUnchanged();
    expect(existsSync(join(dir, 'approval-link-secret'))).toBe(false);
  });

  it('answers a malformed request line with 400', async () => {
    const answer = await rawExchange(served.endpoint, 'NOT AN HTTP REQUEST\r\n\r\n');
    expect(answer.status).toBe(400);
    expect(answer.text).toContain('The request could not be read');
    await expectServingUnchanged();
  });

  it('answers a body shorter than its Content-Length with 400', async () => {
    const cutShort = jsonRequest('kms', 'TrentService.CreateKey', '{"Origin":"EXTERNAL"}', 500);
    const answer = await rawExchange(served.endpoint, cutShort);
    expect(answer.status).toBe(400);
    expect(answer.text).toContain('as long as its Content-Length');
    await expectServingUnchanged();
  });

  it('reads a whole body over the limit before it answers 413, so its sender sees the answer', async () => {
    const body = `{"Description":"${'x'.repeat(16 * MAX_BODY_BYTES)}"}`;
    const answer = await rawExchange(served.endpoint, jsonRequest('kms', 'TrentService.CreateKey', body), {
      halfClose: false,
    });
    expect(answer.status).toBe(413);
    expect(answer.text).toMatch(/x-amzn-errortype: RequestEntityTooLargeException/i);
    await expectServingUnchanged();
  });

  it('answers an SDK client that sends a body over the limit with RequestEntityTooLargeException, not EPIPE', async () => {
    const kms = new KMSClient({
      endpoint: served.endpoint,
      region: DEFAULT_REGION,
      credentials: LOCAL_CREDENTIALS,
      maxAttempts: 1,
    });
    try {
      const err = await errorOf(() =>
        kms.send(new EncryptCommand({ KeyId: 'alias/any', Plaintext: Buffer.alloc(12 * MAX_BODY_BYTES) })),
      );
      expect(err).toMatchObject({
        name: 'RequestEntityTooLargeException',
        $metadata: expect.objectContaining({ httpStatusCode: 413 }),
      });
    } finally {
      kms.destroy();
    }
    await expectServingUnchanged();
  });

  it('refuses a chunked body that grows over the limit with 413', async () => {
    const chunk = 'x'.repeat(64 * 1024);
    const chunks = Array.from({ length: MAX_BODY_BYTES / chunk.length + 1 }, () => `10000\r\n${chunk}\r\n`).join('');
    const request = jsonRequest('kms', 'TrentService.CreateKey', '').replace(
      /content-length: 0\r\n/,
      'transfer-encoding: chunked\r\n',
    );
    const answer = await rawExchange(served.endpoint, `${request}${chunks}0\r\n\r\n`);
    expect(answer.status).toBe(413);
    await expectServingUnchanged();
  });

  it('refuses an unsigned KMS request with MissingAuthenticationTokenException', async () => {
    const unsigned = jsonRequest('kms', 'TrentService.CreateKey', '{}').replace(/authorization: [^\r]*\r\n/, '');
    const answer = await rawExchange(served.endpoint, unsigned);
    expect(answer.status).toBe(400);
    expect(answer.text).toMatch(/x-amzn-errortype: MissingAuthenticationTokenException/i);
    await expectServingUnchanged();
  });

  it.each([
    ['a second Credential after the signature', ', Credential=alice/20250101/us-east-1/kms/aws4_request'],
    ['no SignedHeaders or Signature', 'STRIP'],
  ])('refuses an Authorization header with %s with IncompleteSignatureException', async (_name, change) => {
    const request = jsonRequest('kms', 'TrentService.CreateKey', '{}');
    const malformed =
      change === 'STRIP'
        ? request.replace(/(authorization: [^,\r]*),[^\r]*\r\n/, '$1\r\n')
        : request.replace(/(authorization: [^\r]*)\r\n/, `$1${change}\r\n`);
    expect(malformed).not.toBe(request);
    const answer = await rawExchange(served.endpoint, malformed);
    expect(answer.status).toBe(400);
    expect(answer.text).toMatch(/x-amzn-errortype: IncompleteSignatureException/i);
    await expectServingUnchanged();
  });

  it('refuses an unsigned gateway request with 403', async () => {
    const answer = await rawExchange(served.endpoint, gatewayRequest('/changes', '{}'));
    expect(answer.status).toBe(403);
    expect(answer.text).toContain('{"Message":"Forbidden"}');
    await expectServingUnchanged();
  });

  it('answers a gateway body that is not JSON with 400 InvalidRequest', async () => {
    const answer = await rawExchange(served.endpoint, gatewayRequest('/changes', '{"keyId": ', 'alice'));
    expect(answer.status).toBe(400);
    expect(answer.text).toContain('"error":"InvalidRequest"');
    await expectServingUnchanged();
  });

  it('answers an unknown gateway route with 404', async () => {
    const answer = await rawExchange(served.endpoint, gatewayRequest('/delete-everything', '{}', 'alice'));
    expect(answer.status).toBe(404);
    expect(answer.text).toContain('"error":"NotFound"');
    await expectServingUnchanged();
  });

  it('refuses the link secret to a caller that is not keymat with AccessDeniedException', async () => {
    const answer = await rawExchange(
      served.endpoint,
      jsonRequest('secretsmanager', 'secretsmanager.GetSecretValue', '{"SecretId":"keymat-approval-links"}'),
    );
    expect(answer.status).toBe(400);
    expect(answer.text).toMatch(/x-amzn-errortype: AccessDeniedException/i);
    expect(answer.text).toContain('User: arn:aws:iam::111122223333:user/AKIAKEYMATLOCAL is not authorized');
    expect(existsSync(join(dir, 'approval-link-secret'))).toBe(false);
  });
});
