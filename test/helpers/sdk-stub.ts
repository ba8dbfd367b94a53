/** One SDK call the stub received: the client's service, the operation and its input. */
export interface StubbedCall {
  service: string;
  operation: string;
  input: Record<string, unknown>;
}

/** What the stub answers a call with: an output, or an error named as the SDK names a service's exception. */
export type StubAnswer = { output: Record<string, unknown> } | { error: string; message?: string };

interface SdkCommand {
  input: Record<string, unknown>;
  constructor: { name: string };
}

/**
 * Every SDK client of one module registry answering from the test: it replaces the `send` that all SDK v3 clients
 * inherit (the base class of `@aws-sdk/client-kms`'s client, shared by every service's client), records each call, and
 * answers what the test set for the operation (`on`), or an empty output. Unlike aws-sdk-client-mock, which stubs one
 * client class of the test's own registry, it reaches the clients a handler module makes inside
 * `jest.isolateModules`: install it with that registry's `require`.
 */
export class SdkStub {
  readonly calls: StubbedCall[] = [];
  private readonly answers = new Map<string, (call: StubbedCall) => StubAnswer>();

  /** Answers `operation` (e.g. `DescribeKey`) with `answer`, or with what `answer` makes of the call. */
  on(operation: string, answer: StubAnswer | ((call: StubbedCall) => StubAnswer)): this {
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

  /** Makes the SDK clients of the registry that `load` requires from answer from this stub. */
  install(load: (id: string) => unknown): void {
    const { KMSClient } = load('@aws-sdk/client-kms') as { KMSClient: { prototype: object } };
    const base = Object.getPrototypeOf(KMSClient.prototype) as { send: unknown };
    const answer = async (client: { config: { serviceId: string } }, command: SdkCommand) => {
      const call = {
        service: client.config.serviceId,
        operation: command.constructor.name.replace(/Command$/, ''),
        input: command.input,
      };
      this.calls.push(call);
      const given = this.answers.get(call.operation)?.(call) ?? { output: {} };
      if ('error' in given) {
        throw Object.assign(new Error(given.message ?? given.error), {
          name: given.error,
          $fault: 'client',
          $metadata: { httpStatusCode: 400, requestId: `req-${this.calls.length}` },
        });
      }
      return { $metadata: { httpStatusCode: 200, requestId: `req-${this.calls.length}` }, ...given.output };
    };
    base.send = function (this: { config: { serviceId: string } }, command: SdkCommand) {
      return answer(this, command);
    };
  }
}
