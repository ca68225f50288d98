/**
 * Writes the configuration table of README.md and the reference part of docs/configuration.md from
 * src/config/schema.ts (`npm run docs:config`); a test keeps them in sync. The YAML example in
 * docs/configuration.md is written by hand and kept: the test checks it against the schema instead.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describeDefault, describeType, itemSettings, SETTINGS, type Setting } from '../src/config/settings.js';

export const README_BEGIN = '<!-- configuration table: generated from src/config/schema.ts by npm run docs:config -->';
export const README_END = '<!-- end of the configuration table -->';

const code = (text: string): string => `\`${text}\``;

function envCell(setting: Setting): string {
  const format = { scalar: '', list: ' (comma-separated)', json: ' (JSON)' } as const;
  return setting.env.map((v) => `${code(v.name)}${format[v.kind]}`).join(', ');
}

function defaultCell(setting: Setting): string {
  const { values, note } = describeDefault(setting.node);
  if (values.length === 0) return 'none';
  return `${values.map(code).join(', ')}${note ? ` (${note})` : ''}`;
}

const flagCell = (setting: Setting): string => (setting.flag ? code(setting.flag) : '');

export function renderReadmeTable(): string {
  return [
    '| key | flag | environment | default | meaning |',
    '|---|---|---|---|---|',
    ...SETTINGS.map(
      (s) => `| ${code(s.key)} | ${flagCell(s)} | ${envCell(s)} | ${defaultCell(s)} | ${s.description} |`,
    ),
  ].join('\n');
}

/** README.md with its configuration table (between the two markers) regenerated. */
export function renderReadme(readme: string): string {
  const begin = readme.indexOf(README_BEGIN);
  const end = readme.indexOf(README_END);
  if (begin < 0 || end < begin) throw new Error('README.md: the configuration table markers are missing');
  return `${readme.slice(0, begin + README_BEGIN.length)}\n${renderReadmeTable()}\n${readme.slice(end)}`;
}

function referenceTables(): string[] {
  const lines = [
    '| key | accepts | default | flag | environment | meaning |',
    '|---|---|---|---|---|---|',
    ...SETTINGS.map(
      (s) =>
        `| ${code(s.key)} | ${describeType(s.node)} | ${defaultCell(s)} | ${flagCell(s)} | ${envCell(s)} | ${s.description} |`,
    ),
  ];
  for (const list of SETTINGS) {
    const items = itemSettings(list);
    if (items.length === 0) continue;
    const required = new Set(list.node.items?.required ?? []);
    lines.push(
      '',
      `Each entry of ${code(list.key)}:`,
      '',
      '| key | accepts | default | meaning |',
      '|---|---|---|---|',
    );
    for (const item of items) {
      const fallback = required.has(item.key) ? 'required' : defaultCell(item);
      lines.push(`| ${code(item.key)} | ${describeType(item.node)} | ${fallback} | ${item.description} |`);
    }
  }
  return lines;
}

const EXAMPLE = /```yaml\n[\s\S]*?```\n/;

/** docs/configuration.md regenerated around the YAML example that `current` holds. */
export function renderConfigurationDoc(current: string): string {
  const example = EXAMPLE.exec(current)?.[0];
  if (example === undefined) throw new Error('docs/configuration.md: the ```yaml example is missing');
  return [
    '# Configuration',
    '',
    'Layers, lowest first: built-in defaults < file (`--config FILE` or `HX_CONFIG`, JSON or YAML) < environment (`HX_*`)',
    '< flags. The result is validated once at start; unknown keys and unknown `HX_*` variables are refused, and every',
    'problem is reported together (exit status 2). `httpextension config [--config FILE]` runs the same validation as',
    '`serve`, then prints the effective configuration with every secret replaced by `[redacted]`.',
    '',
    '## Settings',
    '',
    'Generated from `src/config/schema.ts` by `npm run docs:config` (as is the table in the README, and `--help`); a',
    'test keeps them in sync.',
    '',
    ...referenceTables(),
    '',
    '## A complete file',
    '',
    'Every key; omit what you do not change:',
    '',
    `${example}`,
    'Environment variables for lists take comma-separated values (`HX_AUTH=basic,digest`, `HX_AUTH_TOKEN=a,b`);',
    '`HX_ROUTES` takes JSON (`[{"path":"/score","processor":"colorIntensity"}]`). `HX_AUTH_USERNAME` with',
    "`HX_AUTH_PASSWORD` or `HX_AUTH_PASSWORD_FILE` define one user, replacing the file's users.",
    '',
  ].join('\n');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const readme = new URL('../../README.md', import.meta.url);
  const doc = new URL('../../docs/configuration.md', import.meta.url);
  writeFileSync(readme, renderReadme(readFileSync(readme, 'utf8')));
  writeFileSync(doc, renderConfigurationDoc(readFileSync(doc, 'utf8')));
}
