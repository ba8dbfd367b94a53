// A transpile-only jest transform on the esbuild the build already uses: `tsc --noEmit` in `npm run check`
// type-checks every file, so the tests need the types stripped, nothing more. (Hand-written: @swc/jest does the same
// but its platform packages cannot be kept in the lock file here, which breaks `npm ci`; the esbuild-jest packages
// are unmaintained. No test uses jest.mock, whose hoisting this transform would not do.) For coverage, jest
// instruments the output itself, mapping it back to the TypeScript through the source map returned here.
const { createHash } = require('node:crypto');
const { readFileSync } = require('node:fs');
const { transformSync, version } = require('esbuild');

// Jest's own cache key would not change when this file or esbuild does, and would serve output from before.
const TRANSFORM = createHash('sha1').update(readFileSync(__filename)).update(version).digest('hex');

module.exports = {
  process(source, filename) {
    const { code, map } = transformSync(source, {
      loader: 'ts',
      format: 'cjs',
      target: 'node20',
      // A dynamic import() becomes a require(), which jest's module registry serves (its vm has no import()).
      supported: { 'dynamic-import': false },
      sourcefile: filename,
      sourcemap: 'external',
      sourcesContent: false,
    });
    // An object: istanbul ignores a source map given as a string, and would report the output's line numbers.
    return { code, map: JSON.parse(map) };
  },
  getCacheKey(source, filename, { configString, instrument }) {
    return createHash('sha1')
      .update(TRANSFORM)
      .update(configString)
      .update(instrument ? 'instrument' : '')
      .update(filename)
      .update(source)
      .digest('hex');
  },
};
