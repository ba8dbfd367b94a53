import { randomUUID } from 'node:crypto';
import { appendJsonLine, readJsonLines } from './jsonl';
import { xmlAnswer, type Answer, type IncomingRequest, type LocalService } from './local-service';

/** One message published to the local SNS, as the outbox keeps it. */
export interface OutboxMessage {
  messageId: string;
  time: string;
  topicArn: string;
  subject?: string;
  message: string;
  attributes: Record<string, string>;
}

/** SNS Publish over the query protocol (form-encoded request, XML response), captured to an outbox file. */
export class LocalSns implements LocalService {
  constructor(readonly outboxPath: string) {}

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
    appendJsonLine(this.outboxPath, published);
    return xmlAnswer(
      requestId,
      200,
      `<PublishResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><PublishResult><MessageId>${published.messageId}</MessageId></PublishResult><ResponseMetadata><RequestId>${requestId}</RequestId></ResponseMetadata></PublishResponse>`,
      { service: 'sns', operation: action },
    );
  }

  read(): OutboxMessage[] {
    return readOutbox(this.outboxPath);
  }
}

export const readOutbox = (path: string): OutboxMessage[] => readJsonLines<OutboxMessage>(path);

const escapeXml = (s: string): string =>
  s.replace(/[<>&'"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[c] as string);

const errorXml = (code: string, message: string, requestId: string): string =>
  `<ErrorResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><Error><Type>Sender</Type><Code>${code}</Code><Message>${escapeXml(message)}</Message></Error><RequestId>${requestId}</RequestId></ErrorResponse>`;
