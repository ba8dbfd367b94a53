// `npm run check`: formatting, lint, types and dependency cycles. tsc alone takes as long as the other three
// together, and each is one process on one core, so tsc runs beside them: on two cores the checks take tsc's time.
// The other three run one after another, stopping at the first that fails, as `&&` would. Each command's output is
// printed whole when it ends, so that the two lanes do not interleave; the run fails when any command does.
const { Buffer } = require('node:buffer');
const { spawn } = require('node:child_process');

const LANES = [
  [['tsc', '--noEmit']],
  [
    ['prettier', '--check', '.'],
    ['eslint', '.'],
    ['npm', 'run', '--silent', 'cycles'],
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
