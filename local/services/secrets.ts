import { randomBytes } from 'node:crypto';
import { existsSync, linkSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LINK_SECRET_FILE, LINK_SECRET_NAME } from '../constants';
import { unwritable } from '../state/store';
import {
  jsonAnswer,
  jsonError,
  parseJsonBody,
  type Answer,
  type IncomingRequest,
  type LocalService,
} from './local-service';

const GET_SECRET_VALUE = 'secretsmanager.GetSecretValue';

/** The secret as keymat makes it: 32 random bytes, base64url. Anything shorter could be guessed. */
const LINK_SECRET = /^[A-Za-z0-9_-]{43}$/;

/**
 * Writes a secret file (mode 0600) unless it exists, and says whether this call made it. The text is written whole
 * under another name, then linked into place (which fails if the file exists): a crash or a full disk never leaves a
 * short secret, and two processes making it at once agree on the first one linked. A file that cannot be written is
 * refused with a `LocalStateError` naming it.
 */
export function createSecretFile(file: string, text: string): boolean {
  const temp = `${file}.${process.pid}.new`;
  try {
    writeFileSync(temp, text, { mode: 0o600 });
    linkSync(temp, file);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw unwritable(file, 'write it', err);
  } finally {
    rmSync(temp, { force: true });
  }
}

/**
 * The approval-link secret in `file`, checked: 32 random bytes in base64url, readable by this user alone. Throws,
 * naming the file and what to do, when it is anything else (an empty file would let anyone sign approval links).
 */
export function readLinkSecret(file: string): string {
  const secret = readFileSync(file, 'utf8');
  if (!LINK_SECRET.test(secret)) {
    throw new Error(
      `${file} does not hold an approval-link secret (32 random bytes, base64url; it holds ${secret.length} characters): delete it and start the local stack again, which makes a new one (links signed before stop working)`,
    );
  }
  if ((statSync(file).mode & 0o077) !== 0) {
    throw new Error(
      `${file} can be read by other users: chmod 600 ${file}, or delete it and start the local stack again`,
    );
  }
  return secret;
}

/**
 * Secrets Manager GetSecretValue for the approval-link secret. The secret is made on first use and kept in the state
 * folder (`approval-link-secret`, mode 0600), so links stay valid across restarts of the stack. Whatever SecretId is
 * asked for, this is the secret answered: the local stack holds no other. Only keymat's own identities may read it
 * (the deployed secret's policy grants it to keymat's functions alone); anyone else is refused AccessDeniedException.
 */
export class LocalSecrets implements LocalService {
  private readonly file: string;

  constructor(
    stateDir: string,
    /** keymat's own access key ids (`keymatAccessKeyIds`): the callers allowed to read the secret. */
    private readonly readers: readonly string[],
  ) {
    this.file = join(stateDir, LINK_SECRET_FILE);
    // Checked at start, so a damaged secret is refused before anything listens.
    if (existsSync(this.file)) readLinkSecret(this.file);
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
    if (!this.readers.includes(request.accessKeyId)) {
      return jsonError('1.1', request.requestId, {
        status: 400,
        type: 'AccessDeniedException',
        message: `User: ${request.caller.arn} is not authorized to perform: secretsmanager:GetSecretValue on resource: ${secretId ?? LINK_SECRET_NAME} because no resource-based policy allows the secretsmanager:GetSecretValue action`,
      });
    }
    return jsonAnswer('1.1', request.requestId, 200, {
      ARN: secretId,
      Name: LINK_SECRET_NAME,
      SecretString: this.secret(),
    });
  }

  private secret(): string {
    if (!existsSync(this.file)) createSecretFile(this.file, randomBytes(32).toString('base64url'));
    return readLinkSecret(this.file);
  }
}
