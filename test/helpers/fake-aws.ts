import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One request the fake received, decoded: the signature's service, the operation and its input. */
export interface FakeCall {
  service: string;
  operation: string;
  /** The JSON input; for SNS the form fields; for Lambda Invoke the function name and payload text. */
  input: Record<string, unknown>;
  headers: IncomingHttpHeaders;
}

/** What the fake answers a call with: an output (JSON, or a flat XML result for SNS), or an error. */
export type FakeAnswer =
  | { output: Record<string, unknown>; headers?: Record<string, string> }
  | { error: string; status: number; message?: string };

const CREDENTIAL_SCOPE = /Credential=[^/]+\/\d{8}\/[^/]+\/([^/]+)\/aws4_request/;

/** Dates as epoch seconds and bytes as base64, as the JSON protocols carry them. */
function wireJson(value: unknown): string {
  return JSON.stringify(value, function (this: Record<string, unknown>, key, v: unknown) {
    const raw = this[key];
    if (raw instanceof Date) return raw.getTime() / 1000;
    if (raw instanceof Uint8Array) return Buffer.from(raw).toString('base64');
    return v;
  });
}

/**
 * A fake AWS endpoint on 127.0.0.1 for tests of code that calls AWS through keymat's own client: it decodes each
 * request (JSON protocols by `X-Amz-Target`, SNS by `Action`, Lambda Invoke by path), records it, and answers what
 * the test set for the operation (`on`), or an empty output.
 */
export class FakeAws {
  readonly calls: FakeCall[] = [];
  private readonly answers = new Map<string, (call: FakeCall) => FakeAnswer>();
  private server: Server | undefined;

  /** Answers `operation` (e.g. `DescribeKey`) with `answer`, or with what `answer` makes of the call. */
  on(operation: string, answer: FakeAnswer | ((call: FakeCall) => FakeAnswer)): this {
    this.answers.set(operation, typeof answer === 'function' ? answer : () => answer);
    return this;
  }

  /** Forgets the calls and the answers set. */
  reset(): void {
    this.calls.length = 0;
    this.answers.clear();
  }

  /** The inputs of the calls of one operation, in order. */
  inputs(operation: string): Record<string, unknown>[] {
    return this.calls.filter((c) => c.operation === operation).map((c) => c.input);
  }

  async start(): Promise<string> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const call = this.decode(req.url ?? '/', req.headers, Buffer.concat(chunks).toString('utf8'));
        this.calls.push(call);
        const answer = this.answers.get(call.operation)?.(call) ?? { output: {} };
        const query = call.service === 'sns';
        const headers: Record<string, string> = {
          'x-amzn-requestid': `req-${this.calls.length}`,
          'content-type': query ? 'text/xml' : 'application/x-amz-json-1.1',
        };
        if ('error' in answer) {
          const body = query
            ? `<ErrorResponse><Error><Type>Sender</Type><Code>${answer.error}</Code><Message>${answer.message ?? ''}</Message></Error></ErrorResponse>`
            : JSON.stringify({ __type: answer.error, message: answer.message ?? '' });
          res.writeHead(answer.status, headers).end(body);
          return;
        }
        const body = query
          ? `<${call.operation}Response><${call.operation}Result>${Object.entries(answer.output)
              .map(([k, v]) => `<${k}>${String(v)}</${k}>`)
              .join('')}</${call.operation}Result></${call.operation}Response>`
          : call.operation === 'Invoke'
            ? String(answer.output.Payload ?? '')
            : wireJson(answer.output);
        res.writeHead(200, { ...headers, ...answer.headers }).end(body);
      });
    });
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  stop(): Promise<void> {
    return new Promise((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  private decode(url: string, headers: IncomingHttpHeaders, body: string): FakeCall {
    const service = CREDENTIAL_SCOPE.exec(headers.authorization ?? '')?.[1] ?? '';
    const target = headers['x-amz-target'];
    if (typeof target === 'string') {
      return { service, operation: target.split('.').pop() ?? '', input: JSON.parse(body || '{}'), headers };
    }
    const invoke = /^\/2015-03-31\/functions\/([^/]+)\/invocations/.exec(url);
    if (invoke) {
      const input = { FunctionName: decodeURIComponent(invoke[1] as string), Payload: body };
      return { service, operation: 'Invoke', input, headers };
    }
    const form = Object.fromEntries(new URLSearchParams(body));
    return { service, operation: form.Action ?? '', input: form, headers };
  }
}
