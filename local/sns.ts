import { randomUUID } from 'node:crypto';
import { appendJsonLine, readJsonLines } from './jsonl';

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
export class LocalSns {
  constructor(readonly outboxPath: string) {}

  /** Handles one query-protocol request; returns the HTTP status and XML body. */
  handle(body: string, requestId: string): { status: number; xml: string; action: string; error?: string } {
    const form = new URLSearchParams(body);
    const action = form.get('Action') ?? '';
    if (action !== 'Publish') {
      return {
        status: 400,
        action,
        error: 'InvalidAction',
        xml: errorXml('InvalidAction', `${action} is not supported locally`, requestId),
      };
    }
    const topicArn = form.get('TopicArn');
    const message = form.get('Message');
    if (!topicArn || !message) {
      const missing = topicArn ? 'Message' : 'TopicArn';
      return {
        status: 400,
        action,
        error: 'InvalidParameter',
        xml: errorXml('InvalidParameter', `${missing} is required`, requestId),
      };
    }
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
    return {
      status: 200,
      action,
      xml: `<PublishResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><PublishResult><MessageId>${published.messageId}</MessageId></PublishResult><ResponseMetadata><RequestId>${requestId}</RequestId></ResponseMetadata></PublishResponse>`,
    };
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
