import { execFileSync } from 'node:child_process';
import { shellQuote } from '../../../core/text';

describe('shellQuote', () => {
  it('leaves a word of plain path characters bare', () => {
    expect(shellQuote('/home/me/.keymat/state.db')).toBe('/home/me/.keymat/state.db');
    expect(shellQuote('a-b_c+d=e:f,g@h%i')).toBe('a-b_c+d=e:f,g@h%i');
  });

  it('quotes an empty word, so it stays one argument', () => {
    expect(shellQuote('')).toBe("''");
  });

  it.each([
    '/tmp/my state/state.db',
    "/tmp/it's here",
    '/tmp/$HOME `id` $(id) *.db ?',
    '/tmp/a\nb\tc',
    "''\\'",
    '-rf /',
  ])('gives back %j exactly when a shell reads it', (word) => {
    const echoed = execFileSync('sh', ['-c', `printf %s ${shellQuote(word)}`], { encoding: 'utf8' });
    expect(echoed).toBe(word);
  });
});
