import { callerArn, callerName } from './caller';
import { LOCAL_ACCOUNT_ID } from '../constants';
import { xmlAnswer, type Answer, type IncomingRequest, type LocalService } from './local-service';

const escapeXml = (s: string): string =>
  s.replace(/[<>&'"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[c] ?? c);

/**
 * STS GetCallerIdentity for the local stack: the caller is the IAM user named by the request's access key id, so
 * `AWS_ACCESS_KEY_ID=bob keymat approve …` acts as bob, as a second identity would against AWS.
 */
export class LocalSts implements LocalService {
  matches(request: IncomingRequest): boolean {
    return request.service === 'sts';
  }

  async handle(request: IncomingRequest): Promise<Answer> {
    const { requestId } = request;
    const action = new URLSearchParams(request.body).get('Action');
    if (action !== 'GetCallerIdentity') {
      return xmlAnswer(
        requestId,
        400,
        `<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>InvalidAction</Code><Message>${escapeXml(action ?? '')} is not supported locally</Message></Error><RequestId>${requestId}</RequestId></ErrorResponse>`,
      );
    }
    const user = callerName(request.accessKeyId);
    return xmlAnswer(
      requestId,
      200,
      `<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><GetCallerIdentityResult><Arn>${callerArn(request.accessKeyId)}</Arn><UserId>${user}</UserId><Account>${LOCAL_ACCOUNT_ID}</Account></GetCallerIdentityResult><ResponseMetadata><RequestId>${requestId}</RequestId></ResponseMetadata></GetCallerIdentityResponse>`,
    );
  }
}
