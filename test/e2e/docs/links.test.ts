import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { brokenLinks, githubSlug, headingAnchors } from '../../helpers/markdown-links';

const root = join(__dirname, '..', '..', '..');

/** The project's Markdown pages: the front page, docs/, and the READMEs of local/ and bench/ where they exist. */
const pages = [
  'README.md',
  ...readdirSync(join(root, 'docs'))
    .filter((name) => name.endsWith('.md'))
    .map((name) => `docs/${name}`),
  ...['local/README.md', 'bench/README.md'].filter((page) => existsSync(join(root, page))),
];

describe('every relative link and anchor of the documentation resolves', () => {
  it.each(pages)('%s', (page) => {
    expect(brokenLinks(join(root, page), root)).toEqual([]);
  });
});

describe('githubSlug', () => {
  it('lower-cases the heading and turns spaces into hyphens', () => {
    expect(githubSlug('Limits and troubleshooting')).toBe('limits-and-troubleshooting');
  });

  it('drops punctuation but keeps hyphens, underscores, digits and letters of any script', () => {
    expect(githubSlug('Change management: freeze windows, change tickets, events')).toBe(
      'change-management-freeze-windows-change-tickets-events',
    );
    expect(githubSlug('Step 2 — the key_id (déjà vu)?')).toBe('step-2--the-key_id-déjà-vu');
  });

  it('reads a heading as rendered: code spans, links and emphasis give their words', () => {
    expect(githubSlug('Freeze windows (`changeCalendars`)')).toBe('freeze-windows-changecalendars');
    expect(githubSlug('See [the KMS facts](kms.md) **now**')).toBe('see-the-kms-facts-now');
  });
});

describe('headingAnchors', () => {
  it('numbers repeated headings and ignores lines in code blocks', () => {
    const markdown = ['# Title', '## Usage', '```sh', '# not a heading', '```', '## Usage', '### Usage ##'].join('\n');
    expect([...headingAnchors(markdown)]).toEqual(['title', 'usage', 'usage-1', 'usage-2']);
  });
});

describe('brokenLinks', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'keymat-links-'));
    mkdirSync(join(dir, 'docs'));
    writeFileSync(join(dir, 'docs', 'target.md'), '# Target\n\n## Known section\n');
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const check = (markdown: string) => {
    writeFileSync(join(dir, 'README.md'), markdown);
    return brokenLinks(join(dir, 'README.md'), dir);
  };

  it('accepts links to existing files, folders and headings, in the same file too', () => {
    expect(check('# Top\n\n[a](docs/target.md) [b](docs/target.md#known-section) [c](docs/) [d](#top)\n')).toEqual([]);
  });

  it("reads a path that starts with '/' from the repository's root", () => {
    writeFileSync(join(dir, 'docs', 'page.md'), '[a](/docs/target.md#target) [b](/target.md)\n');
    expect(brokenLinks(join(dir, 'docs', 'page.md'), dir)).toEqual([
      "docs/page.md:1: link '/target.md': no file target.md",
    ]);
  });

  it('names the file, the line, the link and the missing file', () => {
    expect(check('# Top\n\nsee [the page](docs/missing.md)\n')).toEqual([
      "README.md:3: link 'docs/missing.md': no file docs/missing.md",
    ]);
  });

  it('names the missing anchor and the file it was looked for in', () => {
    expect(check('[a](docs/target.md#unknown-section)\n[b](#nowhere)\n')).toEqual([
      "README.md:1: link 'docs/target.md#unknown-section': no heading with anchor '#unknown-section' in docs/target.md",
      "README.md:2: link '#nowhere': no heading with anchor '#nowhere' in README.md",
    ]);
  });

  it('checks reference definitions as well as inline links', () => {
    expect(check('[the page][p]\n\n[p]: docs/gone.md\n')).toEqual([
      "README.md:3: link 'docs/gone.md': no file docs/gone.md",
    ]);
  });

  it('skips links with a scheme and links inside code', () => {
    expect(
      check(
        '[web](https://example.com/x.md#y) [mail](mailto:a@example.com) `[x](gone.md)`\n```md\n[y](gone.md)\n```\n',
      ),
    ).toEqual([]);
  });
});
