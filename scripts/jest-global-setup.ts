import { buildCli } from './build';

/**
 * Builds the CLI before any test runs (a fraction of a second): the tests spawn dist/cli/keymat.js, the file the
 * package ships, so they never run a CLI older than the sources.
 */
export default async function globalSetup(): Promise<void> {
  await buildCli();
}
