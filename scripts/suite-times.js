// A jest reporter: each suite's wall time, slowest first, after the run (`npm test` prints it; the target for the
// whole run is 120 s on 2 cores).
const { relative } = require('node:path');

class SuiteTimes {
  constructor(globalConfig) {
    this.rootDir = globalConfig.rootDir;
  }

  onRunComplete(_contexts, results) {
    const rows = results.testResults
      .map((r) => ({
        file: relative(this.rootDir, r.testFilePath),
        seconds: (r.perfStats.end - r.perfStats.start) / 1000,
      }))
      .sort((a, b) => b.seconds - a.seconds);
    const width = Math.max(...rows.map((r) => r.file.length));
    const lines = rows.map((r) => `  ${r.file.padEnd(width)}  ${r.seconds.toFixed(1).padStart(6)} s`);
    const wall = (Date.now() - results.startTime) / 1000;
    process.stderr.write(`\nSuite times (wall ${wall.toFixed(1)} s for ${rows.length} suites):\n${lines.join('\n')}\n`);
  }
}

module.exports = SuiteTimes;
