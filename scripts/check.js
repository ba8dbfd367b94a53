// `npm run check`: formatting, lint, types and dependency cycles, in two lanes of about the same length, one per core.
// Each lane runs its commands one after another, stopping at the first that fails, as `&&` would. Each command's
// output is printed whole when it ends, so that the two lanes do not interleave; the run fails when any command does.

const { Buffer } = require('node:buffer');
const { spawn } = require('node:child_process');
const { TSC } = require('./tsc');

const LANES = [
  [
    ['prettier', '--check', '.'],
    ['npm', 'run', '--silent', 'cycles'],
  ],
  [
    [process.execPath, TSC, '--noEmit'],
    ['eslint', '.'],
  ],
];

/** Runs a command (npm puts node_modules/.bin on the PATH), then prints what it wrote; resolves to its success. */
function run([command, ...args]) {
  return new Promise((resolve) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const output = [];
    child.stdout.on('data', (d) => output.push(d));
    child.stderr.on('data', (d) => output.push(d));
    child.on('error', (err) => output.push(Buffer.from(`${err.message}\n`)));
    child.on('close', (code) => {
      process.stdout.write(`> ${[command, ...args].join(' ')}${code === 0 ? '' : ` (exit ${code})`}\n`);
      process.stdout.write(Buffer.concat(output));
      resolve(code === 0);
    });
  });
}

async function lane(commands) {
  for (const command of commands) if (!(await run(command))) return false;
  return true;
}

Promise.all(LANES.map(lane)).then((passed) => {
  process.exitCode = passed.every(Boolean) ? 0 : 1;
});
