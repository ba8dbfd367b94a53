import { localLogLevel } from '../env';
import { DEFAULT_EVENT_BUS } from '../../core/defaults';
import { createApprovalPage, type PageRequest, type PageResponse } from '../../functions/approval-page/approval-page';
import { kmsAttestor } from '../../functions/runtime/attestor';
import { createKmsClient, createSecretsClient, createSfnClient } from '../../functions/runtime/aws';
import { createLogger } from '../../functions/runtime/logger';
import { localClientConfig } from './clients';
import { localEventPublisher } from './events';
import type { InternalAccess } from './internal-access';
import type { Answer, IncomingRequest, LocalService } from './local-service';
import { APPROVAL_PAGE_PATH, localResources } from '../constants';

/** Where the page's SDK calls go: the local stack, and the workflow's Region and account. */
export interface ApprovalPageSettings {
  endpoint: string;
  region: string;
  account: string;
  /** The page calls as keymat's own identity: it reads the link secret and attests each decision. */
  internal: InternalAccess;
}

/** The approval page's code, as the Lambda Function URL runs it, with clients that call the local stack. */
function approvalPage(settings: ApprovalPageSettings): (request: PageRequest) => Promise<PageResponse> {
  const aws = localClientConfig(settings.endpoint, settings.region, settings.internal.credentials);
  const resources = localResources(settings.region, settings.account, settings.internal.attestationKeyArn);
  return createApprovalPage({
    sfn: createSfnClient(aws),
    secrets: createSecretsClient(aws),
    attestor: kmsAttestor(createKmsClient(aws), resources.attestationKeyArn),
    events: localEventPublisher(aws),
    config: {
      linkSecretArn: resources.linkSecretArn,
      attestationKeyArn: resources.attestationKeyArn,
      eventBusName: DEFAULT_EVENT_BUS,
    },
    logger: createLogger({ logLevel: localLogLevel() }),
  });
}

/**
 * The approval page at {@link APPROVAL_PAGE_PATH}, served by the same code as the Lambda Function URL in AWS. A
 * browser calls it, so it answers unsigned requests.
 */
export class ApprovalPage implements LocalService {
  readonly anonymous = true;
  private readonly page: (request: PageRequest) => Promise<PageResponse>;

  constructor(settings: ApprovalPageSettings) {
    this.page = approvalPage(settings);
  }

  matches(request: IncomingRequest): boolean {
    return request.url.pathname === APPROVAL_PAGE_PATH;
  }

  async handle(request: IncomingRequest): Promise<Answer> {
    const answer = await this.page({
      requestContext: { http: { method: request.method } },
      rawQueryString: request.url.search.slice(1),
      body: request.body,
    });
    return { status: answer.statusCode, headers: answer.headers, body: answer.body };
  }
}
