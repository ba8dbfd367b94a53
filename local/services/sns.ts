import { randomUUID } from 'node:crypto';
import { escapeXml, xmlAnswer, type Answer, type IncomingRequest, type LocalService } from './local-service';
import type { OutboxMessage } from '../state/records';
import { LocalStateError, type StateStore } from '../state/store';

export type { OutboxMessage } from '../state/records';

/**
 * SNS Publish over the query protocol (form-encoded request, XML response), captured to the state database's outbox.
 * A message is answered with its MessageId only once it is committed; one that cannot be written is answered
 * InternalError (500), so the publisher retries.
 */
export class LocalSns implements LocalService {
  constructor(private readonly store: StateStore) {}

  matches(request: IncomingRequest): boolean {
    return request.service === 'sns';
  }

  async handle(request: IncomingRequest): Promise<Answer> {
    const { requestId } = request;
    const form = new URLSearchParams(request.body);
    const action = form.get('Action') ?? '';
    const refuse = (code: string, message: string): Answer =>
      xmlAnswer(requestId, 400, errorXml(code, message, requestId), { service: 'sns', operation: action, error: code });
    if (action !== 'Publish') return refuse('InvalidAction', `${action} is not supported locally`);
    const topicArn = form.get('TopicArn');
    const message = form.get('Message');
    if (!topicArn || !message) return refuse('InvalidParameter', `${topicArn ? 'Message' : 'TopicArn'} is required`);
    const attributes: Record<string, string> = {};
    for (let i = 1; form.has(`MessageAttributes.entry.${i}.Name`); i++) {
      attributes[form.get(`MessageAttributes.entry.${i}.Name`) as string] =
        form.get(`MessageAttributes.entry.${i}.Value.StringValue`) ?? '';
    }
    const published: OutboxMessage = {
      messageId: randomUUID(),
      time: new Date().toISOString(),
      topicArn,
      ...(form.get('Subject') && { subject: form.get('Subject') as string }),
      message,
      attributes,
    };
    try {
      this.store.appendOutbox(published);
    } catch (err) {
      if (!(err instanceof LocalStateError)) throw err;
      return xmlAnswer(requestId, 500, errorXml('InternalError', err.message, requestId, 'Receiver'), {
        service: 'sns',
        operation: action,
        error: 'InternalError',
      });
    }
    return xmlAnswer(
      requestId,
      200,
      `<PublishResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><PublishResult><MessageId>${published.messageId}</MessageId></PublishResult><ResponseMetadata><RequestId>${requestId}</RequestId></ResponseMetadata></PublishResponse>`,
      { service: 'sns', operation: action },
    );
  }

  /** The outbox, oldest first. */
  read(): OutboxMessage[] {
    return this.store.readOutbox();
  }
}

const errorXml = (code: string, message: string, requestId: string, type = 'Sender'): string =>
  `<ErrorResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><Error><Type>${type}</Type><Code>${code}</Code><Message>${escapeXml(message)}</Message></Error><RequestId>${requestId}</RequestId></ErrorResponse>`;
