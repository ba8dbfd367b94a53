import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';

/**
 * The anchor GitHub gives a heading: its text as rendered (code spans, links and emphasis reduced to their words),
 * lower case, with every character but letters, marks, digits, connector punctuation, hyphens and spaces removed,
 * and each space turned into a hyphen. The same rules as github-slugger, which GitHub uses; no package in
 * node_modules provides them, so they are written here.
 */
export function githubSlug(heading: string): string {
  return renderedText(heading)
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N}\p{Pc}\- ]/gu, '')
    .replace(/ /g, '-');
}

/** A heading's text as GitHub renders it: images by their alt text, links by their text, no code or emphasis marks. */
function renderedText(heading: string): string {
  return heading
    .replace(/<[^>]*>/g, '')
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/[`*]/g, '');
}

/** The lines of a Markdown text outside fenced code blocks, each with its line number (from 1). */
function proseLines(markdown: string): { line: string; number: number }[] {
  const lines: { line: string; number: number }[] = [];
  let fence: string | undefined;
  markdown.split('\n').forEach((line, i) => {
    const marker = /^\s*(`{3,}|~{3,})/.exec(line)?.[1];
    if (marker && (fence === undefined || marker.startsWith(fence))) {
      fence = fence === undefined ? marker : undefined;
      return;
    }
    if (fence === undefined) lines.push({ line, number: i + 1 });
  });
  return lines;
}

/**
 * The anchors of a Markdown file's headings, as GitHub makes them: a repeated heading gets `-1`, `-2`, … after its
 * slug.
 */
export function headingAnchors(markdown: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  for (const { line } of proseLines(markdown)) {
    const text = /^ {0,3}#{1,6}\s+(.*?)(?:\s+#+)?\s*$/.exec(line)?.[1];
    if (text === undefined) continue;
    const slug = githubSlug(text);
    const count = seen.get(slug) ?? 0;
    seen.set(slug, count + 1);
    anchors.add(count === 0 ? slug : `${slug}-${count}`);
  }
  return anchors;
}

/** A link in a Markdown file: where it points, and the line it is on. */
export interface MarkdownLink {
  target: string;
  line: number;
}

/** The inline links, images and link reference definitions of a Markdown text, outside code blocks and code spans. */
export function markdownLinks(markdown: string): MarkdownLink[] {
  const links: MarkdownLink[] = [];
  for (const { line, number } of proseLines(markdown)) {
    const prose = line.replace(/(`+)[\s\S]*?\1/g, '');
    for (const match of prose.matchAll(/\]\(\s*(<[^>]*>|[^)\s]*)/g)) {
      links.push({ target: (match[1] ?? '').replace(/^<|>$/g, ''), line: number });
    }
    const definition = /^ {0,3}\[[^\]]+\]:\s*(\S+)/.exec(prose)?.[1];
    if (definition !== undefined) links.push({ target: definition, line: number });
  }
  return links;
}

/**
 * Checks every relative link of a Markdown file (`root` is the repository's root): the file or folder it names must exist, and an anchor (`#…`) must be
 * one of the target Markdown file's headings. Links with a scheme (`https:`, `mailto:`) are not checked. Returns one
 * line per broken link, naming the file (relative to `root`), the line, the link and what is missing.
 */
export function brokenLinks(file: string, root: string): string[] {
  const problems: string[] = [];
  const from = relative(root, file);
  for (const { target, line } of markdownLinks(readFileSync(file, 'utf8'))) {
    if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue;
    const hash = target.indexOf('#');
    const path = decodeURI(hash === -1 ? target : target.slice(0, hash));
    const anchor = hash === -1 ? undefined : decodeURIComponent(target.slice(hash + 1));
    // GitHub reads a path that starts with '/' from the repository's root.
    const resolved = path === '' ? file : join(path.startsWith('/') ? root : dirname(file), path);
    const where = `${from}:${line}: link '${target}'`;
    if (!existsSync(resolved)) {
      problems.push(`${where}: no file ${relative(root, resolved)}`);
      continue;
    }
    if (anchor === undefined) continue;
    if (statSync(resolved).isDirectory() || !resolved.endsWith('.md')) {
      problems.push(`${where}: ${relative(root, resolved)} is not a Markdown file, so it has no anchors`);
    } else if (!headingAnchors(readFileSync(resolved, 'utf8')).has(anchor)) {
      problems.push(`${where}: no heading with anchor '#${anchor}' in ${relative(root, resolved)}`);
    }
  }
  return problems;
}
