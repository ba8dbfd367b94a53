import { EXIT } from '../../../cli/output';
import { keymatInProcess } from '../../helpers/run-cli';

/** What `--help` says of required options, and how a command names an option whose file it cannot read. */
it('marks a required option as required in --help, and no other', async () => {
  const r = await keymatInProcess(['reject', '--help']);
  expect(r.code).toBe(EXIT.ok);
  const lines = r.stdout.split('\n');
  expect(lines.filter((l) => l.includes('(required)'))).toEqual([
    '  --comment <text>           why the change is rejected (required)',
  ]);
});

it('names --parameters, the path and the reason when the file is not there', async () => {
  const r = await keymatInProcess([
    'recovery',
    'prove',
    'keymat-CHG-1',
    '--parameters',
    'nope.json',
    '--material',
    'm.bin',
  ]);
  expect(r).toEqual({
    code: EXIT.failed,
    stdout: '',
    stderr: "keymat: --parameters 'nope.json' cannot be read: ENOENT: no such file or directory\n",
  });
});
