#!/usr/bin/env node
import { quietSdkNodeNotice } from './env';
import { processIo } from './output';
import { runKeymat } from './program';

/** The `keymat` command (`npm run build` bundles it into dist/cli/keymat.mjs): the program on this process's streams. */
quietSdkNodeNotice();
void runKeymat(process.argv.slice(2), processIo()).then((code) => {
  process.exitCode = code;
});
