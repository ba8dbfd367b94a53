import { KMSClient } from '@aws-sdk/client-kms';
import { DEFAULT_REGION } from './kms/model';

/** Credentials for the local stack: it reads the Region from the signature and checks nothing else. */
export const LOCAL_CREDENTIALS = { accessKeyId: 'AKIAKEYMATLOCAL', secretAccessKey: 'keymat-local-secret' };

export const localKmsClient = (endpoint: string, region: string = DEFAULT_REGION): KMSClient =>
  new KMSClient({ endpoint, region, credentials: LOCAL_CREDENTIALS });
