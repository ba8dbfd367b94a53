import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { callerArn } from './caller';
import {
  jsonAnswer,
  jsonError,
  parseJsonBody,
  type Answer,
  type IncomingRequest,
  type LocalService,
} from './local-service';

const GET_SECRET_VALUE = 'secretsmanager.GetSecretValue';

/**
 * Secrets Manager GetSecretValue for the approval-link secret. The secret is made on first use and kept in the state
 * folder (`approval-link-secret`, mode 0600), so links stay valid across restarts of the stack. Whatever SecretId is
 * asked for, this is the secret answered: the local stack holds no other. Only keymat's internal caller may read it
 * (the deployed secret's policy grants it to keymat's functions alone); anyone else is refused AccessDeniedException.
 */
export class LocalSecrets implements LocalService {
  private readonly file: string;

  constructor(
    stateDir: string,
    /** The internal access key id: the one caller allowed to read the secret. */
    private readonly reader: string,
  ) {
    this.file = join(stateDir, 'approval-link-secret');
  }

  matches(request: IncomingRequest): boolean {
    return request.target === GET_SECRET_VALUE;
  }

  async handle(request: IncomingRequest): Promise<Answer> {
    const body = parseJsonBody(request.body);
    if (!body) {
      return jsonError('1.1', request.requestId, {
        status: 400,
        type: 'SerializationException',
        message: 'The request body is not valid JSON',
      });
    }
    const secretId = typeof body.SecretId === 'string' ? body.SecretId : undefined;
    if (request.accessKeyId !== this.reader) {
      return jsonError('1.1', request.requestId, {
        status: 400,
        type: 'AccessDeniedException',
        message: `User: ${callerArn(request.accessKeyId)} is not authorized to perform: secretsmanager:GetSecretValue on resource: ${secretId ?? 'keymat-approval-links'} because no resource-based policy allows the secretsmanager:GetSecretValue action`,
      });
    }
    return jsonAnswer('1.1', request.requestId, 200, {
      ARN: secretId,
      Name: 'keymat-approval-links',
      SecretString: this.secret(),
    });
  }

  private secret(): string {
    if (!existsSync(this.file)) writeFileSync(this.file, randomBytes(32).toString('base64url'), { mode: 0o600 });
    return readFileSync(this.file, 'utf8');
  }
}
