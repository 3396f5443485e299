/**
 * Library code (sdk, agent, coordinator) names options, never CLI flags: an
 * SDK user has no `--time-limit` to pass. Only packages/cli maps an option to
 * its flag (packages/cli/src/option-flags.ts). This reads every string in the
 * library sources with TypeScript's own parser, so comments (which may well
 * talk about the CLI) are not checked and a flag hidden in a template is.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { flagsIn, OPTION_FLAGS, OPTION_PHRASES } from '../packages/cli/src/option-flags.js';

const ROOT = join(import.meta.dirname, '..');
const LIBRARIES = ['packages/sdk/src', 'packages/agent/src', 'packages/coordinator/src'];
const FLAG = /(?<![\w-])--[a-z][a-z0-9-]*/g;

/** Strings that hold a flag but are no message, each with why. Keyed `file: string`. */
const NOT_MESSAGES: Record<string, string> = {};

function sources(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && /\.(ts|mts)$/.test(e.name) && !e.name.endsWith('.d.ts'))
    .map((e) => relative(ROOT, join(e.parentPath, e.name)))
    .filter((file) => !file.includes('/generated/'));
}

/** Every string literal and template piece in `code` that names a flag, with its line. */
function flagStrings(name: string, code: string): { line: number; text: string }[] {
  const source = ts.createSourceFile(name, code, ts.ScriptTarget.Latest, true);
  const found: { line: number; text: string }[] = [];
  const visit = (node: ts.Node): void => {
    if ((ts.isStringLiteralLike(node) || ts.isTemplateLiteralToken(node)) && node.text.match(FLAG)) {
      found.push({ line: source.getLineAndCharacterOfPosition(node.getStart()).line + 1, text: node.text });
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

describe('library messages name options, not CLI flags', () => {
  it('no string in packages/{sdk,agent,coordinator}/src names a --flag (outside the allow-list)', () => {
    const files = LIBRARIES.flatMap(sources);
    expect(files.length).toBeGreaterThan(50);
    const offenders = files.flatMap((file) =>
      flagStrings(file, readFileSync(join(ROOT, file), 'utf8'))
        .filter(({ text }) => !(`${file}: ${text}` in NOT_MESSAGES))
        .map(({ line, text }) => `${file}:${line}: ${JSON.stringify(text)}`),
    );
    const stale = Object.keys(NOT_MESSAGES).filter(
      (entry) => !files.some((file) => flagStrings(file, readFileSync(join(ROOT, file), 'utf8')).some(({ text }) => `${file}: ${text}` === entry)),
    );
    expect(stale, 'allow-list entries that match no string any more').toEqual([]);
    expect(offenders, 'name the option (in backticks, e.g. `timeLimit`) and add it to packages/cli/src/option-flags.ts').toEqual([]);
  });

  it('the scan sees a flag in a string, in a template, and not in a comment', () => {
    const probe = (code: string) => flagStrings('probe.ts', code).map((s) => s.text);
    expect(probe("throw new Error('raise it with --time-limit');")).toEqual(['raise it with --time-limit']);
    // biome-ignore lint/suspicious/noTemplateCurlyInString: the probe is source code that holds a template
    expect(probe('const m = `over ${n} (its --max-time-limit)`;')).toEqual([' (its --max-time-limit)']);
    expect(probe('// pass --state-dir\nconst pem = "-----BEGIN CERTIFICATE-----";')).toEqual([]);
  });

  it('the CLI shows the flag where a library message names the option', () => {
    expect(flagsIn("`timeLimit` 2m is over this coordinator's maximum of 1m (its `maxTimeLimitMs`)")).toBe(
      "--time-limit 2m is over this coordinator's maximum of 1m (its --max-time-limit)",
    );
    expect(flagsIn('`dependency` afterok:9: no job with id 9')).toBe('--dependency afterok:9: no job with id 9');
    // A name the table does not know stays as it is.
    expect(flagsIn('see `picompute init`')).toBe('see `picompute init`');
  });

  it('every flag the CLI shows for an option is a flag the CLI has', () => {
    const cli = sources('packages/cli/src')
      .map((file) => readFileSync(join(ROOT, file), 'utf8'))
      .join('\n');
    const flags = [...Object.values(OPTION_FLAGS), ...OPTION_PHRASES.flatMap(([, shown]) => shown.match(FLAG) ?? [])];
    expect(flags.filter((flag) => !cli.includes(`'${flag} `) && !cli.includes(`'${flag}'`))).toEqual([]);
  });
});
