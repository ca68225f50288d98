/** Writes docs/errors.md from the catalogue in src/errors.ts (`npm run docs:errors`); a test keeps them in sync. */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ERRORS } from '../src/errors.js';

export function renderErrorsDoc(): string {
  const rows = Object.entries(ERRORS).map(([code, { status, message }]) => `| \`${code}\` | ${status} | ${message} |`);
  return [
    '# Errors',
    '',
    'Every error answer is JSON: `{"statusCode", "code", "error", "message", "requestId"}`. Match on `code`: it is',
    'stable; messages may improve and often say more than the default below (what was expected, which limit).',
    '503 answers always carry `Retry-After` (seconds); 401 answers carry `WWW-Authenticate`; 405 answers carry `Allow`.',
    'This table is generated from `src/errors.ts` by `npm run docs:errors`; a test keeps the two in sync.',
    '',
    '| code | status | default message |',
    '|---|---:|---|',
    ...rows,
    '',
    'Boot-time codes (`HX_ERR_CONFIG_INVALID`, `HX_ERR_PROCESSOR_LOAD`) are never sent to a client: the process prints',
    'them with every problem found and exits with status 2.',
    '',
  ].join('\n');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  writeFileSync(new URL('../../docs/errors.md', import.meta.url), renderErrorsDoc());
}
