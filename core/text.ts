/**
 * Free text from people (reasons, comments) and its way back to a terminal or a page: control characters and the
 * Unicode format characters that make text read differently from what it is (bidirectional overrides, zero-width
 * characters) are refused in inputs, stripped from comments, and escaped on output.
 */

const UNSAFE =
  // eslint-disable-next-line no-control-regex -- matching control characters is the point
  /[\u0000-\u001f\u007f-\u009f\u00ad\u061c\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]/u;
const UNSAFE_ALL = new RegExp(UNSAFE.source, 'gu');

/** The longest comment kept with a decision. */
export const MAX_COMMENT_LENGTH = 500;

/** Whether text holds a control or invisible formatting character. */
export const hasUnsafeCharacters = (text: string): boolean => UNSAFE.test(text);

/** A decision's comment as recorded: unsafe characters removed, whitespace trimmed, at most 500 characters. */
export function cleanComment(comment: string | undefined): string | undefined {
  const cleaned = (comment ?? '').replace(UNSAFE_ALL, ' ').replace(/ {2,}/g, ' ').trim().slice(0, MAX_COMMENT_LENGTH);
  return cleaned === '' ? undefined : cleaned;
}

/** Text for a terminal: every unsafe character shown as its `\uXXXX` escape, so nothing can redraw the screen. */
export const printable = (text: string): string =>
  text.replace(UNSAFE_ALL, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);

/** The characters a POSIX shell word may hold unquoted and still mean itself. */
const SHELL_SAFE = /^[\w@%+=:,./-]+$/;

/**
 * A word a POSIX shell reads back as exactly `word`, for commands printed as advice: left bare when it holds only
 * characters that mean themselves, else in single quotes (each `'` written as `'\''`), so a path holding spaces,
 * quotes, `$`, globs or newlines pastes safely.
 */
export const shellQuote = (word: string): string => (SHELL_SAFE.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`);

/** A count with its noun, in the singular for one: `counted(1, 'key')` is `1 key`, `counted(2, 'key')` `2 keys`. */
export const counted = (n: number, noun: string, plural = `${noun}s`): string => `${n} ${n === 1 ? noun : plural}`;
