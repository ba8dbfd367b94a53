import { buildCli } from './build';

/**
 * Builds the CLI before any test runs (about a second): the tests spawn dist/cli/keymat.mjs, the file the
 * package ships, so they never run a CLI older than the sources.
 */
export default async function globalSetup(): Promise<void> {
  await buildCli();
}
