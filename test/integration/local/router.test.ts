import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MAX_BODY_BYTES } from '../../../local/router';
import { jsonRequest, rawExchange } from '../../helpers/raw-http';
import { serve, type ServedStack } from '../../helpers/run-cli';

// The whole stack in a process of its own (`keymat local serve`), so a request that crashed it would show.
let served: ServedStack;
let dir: string;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'keymat-router-'));
  served = await serve(['local', 'serve', '--state-dir', dir]);
}, 60_000);
afterAll(async () => {
  await served.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** The stack still answers, and still holds no key: the refused request changed nothing. */
async function expectServingUnchanged(): Promise<void> {
  const answer = await rawExchange(served.endpoint, jsonRequest('kms', 'TrentService.ListKeys', '{}'));
  expect(answer.status).toBe(200);
  expect(answer.text).toContain('{"Keys":[],"Truncated":false}');
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

  it('refuses a Content-Length over the limit with 413 without reading the body', async () => {
    const answer = await rawExchange(
      served.endpoint,
      jsonRequest('kms', 'TrentService.CreateKey', '{}', MAX_BODY_BYTES + 1),
    );
    expect(answer.status).toBe(413);
    expect(answer.text).toMatch(/x-amzn-errortype: RequestEntityTooLargeException/i);
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
});
