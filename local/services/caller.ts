import { LOCAL_ACCOUNT_ID } from '../constants';

/**
 * The IAM user a local request acts as: the one named by its SigV4 access key id (characters IAM does not allow in a
 * user name become `_`). STS answers with it, and the emulated key policies name it when they deny a call.
 */
export const callerArn = (accessKeyId: string): string =>
  `arn:aws:iam::${LOCAL_ACCOUNT_ID}:user/${callerName(accessKeyId)}`;

/** The user name of {@link callerArn}. */
export const callerName = (accessKeyId: string): string => accessKeyId.replace(/[^\w+=,.@-]/g, '_');
