import { LOCAL_ACCOUNT_ID } from './kms/model';

/**
 * STS GetCallerIdentity for the local stack: the caller is the IAM user named by the request's access key id, so
 * `AWS_ACCESS_KEY_ID=bob keymat approve …` acts as bob, as a second identity would against AWS.
 */
export function getCallerIdentity(
  body: string,
  accessKeyId: string,
  requestId: string,
): { status: number; xml: string } {
  const action = new URLSearchParams(body).get('Action');
  if (action !== 'GetCallerIdentity') {
    return {
      status: 400,
      xml: `<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>InvalidAction</Code><Message>${action ?? ''} is not supported locally</Message></Error><RequestId>${requestId}</RequestId></ErrorResponse>`,
    };
  }
  const user = accessKeyId.replace(/[^\w+=,.@-]/g, '_');
  return {
    status: 200,
    xml: `<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><GetCallerIdentityResult><Arn>arn:aws:iam::${LOCAL_ACCOUNT_ID}:user/${user}</Arn><UserId>${user}</UserId><Account>${LOCAL_ACCOUNT_ID}</Account></GetCallerIdentityResult><ResponseMetadata><RequestId>${requestId}</RequestId></ResponseMetadata></GetCallerIdentityResponse>`,
  };
}
