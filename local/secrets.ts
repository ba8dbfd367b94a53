import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
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
 * asked for, this is the secret answered: the local stack holds no other.
 */
export class LocalSecrets implements LocalService {
  private readonly file: string;

  constructor(stateDir: string) {
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
