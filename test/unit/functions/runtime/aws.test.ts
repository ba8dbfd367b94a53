import { NodeHttpHandler } from '@smithy/node-http-handler';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { awsCall, createKmsClient, createSnsClient, STANDARD_ATTEMPTS } from '../../../../functions/runtime/aws';

/**
 * keymat's clients are the SDK's: these tests check only what keymat chooses (attempts, the NetworkError name) and
 * that it leaves the SDK's endpoint resolution (FIPS, partitions) alone.
 */
const CREDENTIALS = { accessKeyId: 'AKIDTEST', secretAccessKey: 'test-secret' };

describe('awsCall', () => {
  it('names a request that got no answer NetworkError, with the socket error as its cause', async () => {
    const socket = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' });
    const call = awsCall({ send: () => Promise.reject(socket) }, { DescribeKey: class {} } as never);
    await expect(call('DescribeKey' as never, {} as never)).rejects.toMatchObject({
      name: 'NetworkError',
      message: 'the request did not complete: ECONNREFUSED: connect ECONNREFUSED 127.0.0.1:1',
      cause: socket,
    });
  });

  it("lets a service's error through as the SDK named it", async () => {
    const refused = Object.assign(new Error('alias/x is not a key'), { name: 'NotFoundException' });
    const call = awsCall({ send: () => Promise.reject(refused) }, { DescribeKey: class {} } as never);
    await expect(call('DescribeKey' as never, {} as never)).rejects.toBe(refused);
  });
});

describe('attempts', () => {
  let server: Server;
  let endpoint: string;
  let requests = 0;
  beforeAll(async () => {
    server = createServer((req, res) => {
      requests++;
      req.resume().on('end', () => {
        const json = req.headers['content-type']?.includes('json');
        res
          .writeHead(500, { 'content-type': json ? 'application/x-amz-json-1.1' : 'text/xml' })
          .end(
            json
              ? JSON.stringify({ __type: 'KMSInternalException', message: 'internal' })
              : '<ErrorResponse><Error><Type>Receiver</Type><Code>InternalError</Code><Message>internal</Message></Error></ErrorResponse>',
          );
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));
  beforeEach(() => (requests = 0));

  it("makes one attempt per task KMS call: the state machine's Retry rules retry", async () => {
    const kms = createKmsClient({ endpoint, region: 'us-east-1', credentials: CREDENTIALS });
    await expect(kms('DescribeKey', { KeyId: 'k' })).rejects.toMatchObject({ name: 'KMSInternalException' });
    expect(requests).toBe(1);
  });

  it("retries a client that answers people with the SDK's standard attempts", async () => {
    const sns = createSnsClient({ endpoint, region: 'us-east-1', credentials: CREDENTIALS });
    await expect(
      sns('Publish', { TopicArn: 'arn:aws:sns:us-east-1:111122223333:t', Message: 'm' }),
    ).rejects.toMatchObject({ name: 'InternalErrorException' });
    expect(requests).toBe(STANDARD_ATTEMPTS);
  });
});

describe('endpoints', () => {
  const saved = process.env;
  let hosts: string[];
  beforeEach(() => {
    hosts = [];
    jest.spyOn(NodeHttpHandler.prototype, 'handle').mockImplementation((request) => {
      hosts.push(request.hostname);
      return Promise.reject(Object.assign(new Error('no network in tests'), { name: 'NoNetwork' }));
    });
  });
  afterEach(() => {
    process.env = saved;
    jest.restoreAllMocks();
  });

  const hostOf = async (region: string, variables: Record<string, string> = {}) => {
    process.env = { ...saved, ...variables };
    await createKmsClient({ region, credentials: CREDENTIALS })('DescribeKey', { KeyId: 'k' }).catch(() => undefined);
    return hosts[0];
  };

  it('calls the FIPS endpoint when AWS_USE_FIPS_ENDPOINT is true', async () => {
    await expect(hostOf('us-east-1', { AWS_USE_FIPS_ENDPOINT: 'true' })).resolves.toBe(
      'kms-fips.us-east-1.amazonaws.com',
    );
  });

  it("calls GovCloud's FIPS endpoint in us-gov-west-1", async () => {
    await expect(hostOf('us-gov-west-1', { AWS_USE_FIPS_ENDPOINT: 'true' })).resolves.toBe(
      'kms-fips.us-gov-west-1.amazonaws.com',
    );
  });

  it("calls the China partition's endpoint in cn-north-1", async () => {
    await expect(hostOf('cn-north-1')).resolves.toBe('kms.cn-north-1.amazonaws.com.cn');
  });
});
