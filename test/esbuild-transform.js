// A transpile-only jest transform on the esbuild the build already uses: `tsc --noEmit` in `npm run check`
// type-checks every file, so the tests need the types stripped, nothing more. (Hand-written: @swc/jest does the same
// but its platform packages cannot be kept in the lock file here, which breaks `npm ci`; the esbuild-jest packages
// are unmaintained. No test uses jest.mock, whose hoisting this transform would not do.)
const { transformSync } = require('esbuild');

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
    return { code, map };
  },
};
