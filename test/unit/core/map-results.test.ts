import type { S3Call } from '../../../core/aws-api';
import { NOT_STARTED, readMapResults, type MapRunManifest, type MapRunOutput } from '../../../core/map-results';

/**
 * Reading a Distributed Map's results back from S3, as its ResultWriter exports them: the manifest first, then each
 * status's files.
 */
const BUCKET = 'keymat-results';
const RUN = 'arn:aws:states:eu-west-1:111122223333:mapRun:Keymat-fleet-scan/ScanMembers:3f1c';
const OUTPUT: MapRunOutput = {
  MapRunArn: RUN,
  ResultWriterDetails: { Bucket: BUCKET, Key: 'fleet-scan-results/3f1c/manifest.json' },
};

/** An S3 whose objects are these texts; GetObject of any other key fails NoSuchKey. */
function s3Of(objects: Record<string, string>): S3Call & { gets: string[] } {
  const gets: string[] = [];
  const call = (async (operation: string, input: { Bucket: string; Key: string }) => {
    gets.push(`${operation} ${input.Bucket}/${input.Key}`);
    const text = objects[input.Key];
    if (text === undefined) throw Object.assign(new Error('The specified key does not exist.'), { name: 'NoSuchKey' });
    return { Body: { transformToString: async () => text } };
  }) as unknown as S3Call;
  return Object.assign(call, { gets });
}

const manifest = (files: Partial<MapRunManifest['ResultFiles']>): string =>
  JSON.stringify({
    DestinationBucket: BUCKET,
    MapRunArn: RUN,
    ResultFiles: { SUCCEEDED: [], FAILED: [], PENDING: [], ...files },
  });
const file = (Key: string) => ({ Key, Size: 1 });

describe('readMapResults', () => {
  it("reads every file the manifest lists: the children's outputs, the failed records, the never-started ones", async () => {
    const s3 = s3Of({
      [OUTPUT.ResultWriterDetails.Key]: manifest({
        SUCCEEDED: [file('r/SUCCEEDED_0.json'), file('r/SUCCEEDED_1.json')],
        FAILED: [file('r/FAILED_0.json')],
        PENDING: [file('r/PENDING_0.json')],
      }),
      'r/SUCCEEDED_0.json': JSON.stringify([{ n: 1 }]),
      'r/SUCCEEDED_1.json': JSON.stringify([{ n: 2 }, { n: 3 }]),
      'r/FAILED_0.json': JSON.stringify([{ Status: 'FAILED', Input: '{}', Error: 'MemberRoleUnavailable' }]),
      'r/PENDING_0.json': JSON.stringify([{ Input: '{"account":"444455556666","region":"eu-west-1"}' }]),
    });
    expect(await readMapResults(s3, OUTPUT)).toEqual([
      { n: 1 },
      { n: 2 },
      { n: 3 },
      { Status: 'FAILED', Input: '{}', Error: 'MemberRoleUnavailable' },
      { Status: 'PENDING', Input: '{"account":"444455556666","region":"eu-west-1"}', Error: NOT_STARTED },
    ]);
    expect(s3.gets).toHaveLength(5);
  });

  it("takes a successful child's output from its whole record, as a ResultWriter without COMPACT writes it", async () => {
    const s3 = s3Of({
      [OUTPUT.ResultWriterDetails.Key]: manifest({ SUCCEEDED: [file('r/SUCCEEDED_0.json')] }),
      'r/SUCCEEDED_0.json': JSON.stringify([{ Status: 'SUCCEEDED', Output: '{"n":1}', Name: 'child' }]),
    });
    expect(await readMapResults(s3, OUTPUT)).toEqual([{ n: 1 }]);
  });

  it('refuses a manifest that is not one, naming the object', async () => {
    const s3 = s3Of({ [OUTPUT.ResultWriterDetails.Key]: JSON.stringify({ MapRunArn: RUN }) });
    await expect(readMapResults(s3, OUTPUT)).rejects.toThrow(
      `s3://${BUCKET}/${OUTPUT.ResultWriterDetails.Key} is not a map run's manifest`,
    );
  });

  it('refuses a result file that is not a JSON array, naming it', async () => {
    const s3 = s3Of({
      [OUTPUT.ResultWriterDetails.Key]: manifest({ FAILED: [file('r/FAILED_0.json')] }),
      'r/FAILED_0.json': '{"truncated":',
    });
    await expect(readMapResults(s3, OUTPUT)).rejects.toThrow(`s3://${BUCKET}/r/FAILED_0.json is not JSON`);
  });
});
