import { wrapKeyMaterial } from '../../core/key-wrap';
import { attestedSubmission, readImportParameters } from '../../core/recovery';
import type { Custodian } from './engine';

/**
 * A custodian for direct runs (`keymat local run`, the tests): reads the import parameters from the published
 * request, wraps its copy of the material under them, and hands the submission over as keymat's gateway would,
 * attested for `custodian`. A copy of another material makes the proof fail, as in AWS.
 *
 * @param copy the plaintext material the custodian holds
 */
export function localCustodian(copy: Buffer, custodian = 'keymat-local-custodian'): Custodian {
  return async ({ executionArn, message, payload, attestor }) => {
    const parameters = readImportParameters(message.message);
    const wrapped = wrapKeyMaterial(Buffer.from(parameters.publicKey, 'base64'), copy, parameters.wrappingAlgorithm);
    return attestedSubmission(attestor, executionArn, payload.plan, {
      wrappedKeyMaterial: wrapped.toString('base64'),
      importToken: parameters.importToken,
      wrappingAlgorithm: parameters.wrappingAlgorithm,
      custodian,
      at: new Date().toISOString(),
      channel: 'local-run',
    });
  };
}
