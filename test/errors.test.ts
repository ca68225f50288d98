import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { renderErrorsDoc } from '../scripts/errors-doc.js';
import { ERRORS } from '../src/errors.js';
import { toErrorResponse } from '../src/protocol/error-response.js';

test('docs/errors.md is the catalogue (regenerate with npm run docs:errors)', () => {
  const doc = readFileSync(new URL('../../docs/errors.md', import.meta.url), 'utf8');
  assert.equal(doc, renderErrorsDoc());
  for (const code of Object.keys(ERRORS)) assert.ok(doc.includes(`| \`${code}\` |`), code);
});

test('every code is HX_ERR_<AREA>_<WHAT> with a 4xx/5xx status', () => {
  for (const [code, { status }] of Object.entries(ERRORS)) {
    assert.match(code, /^HX_ERR_[A-Z]+_[A-Z_]+$/);
    assert.ok(status >= 400 && status < 600);
  }
});

test('an unknown error becomes a 500 that leaks nothing', () => {
  const response = toErrorResponse(new Error('ENOENT: /srv/models/secret.onnx'), 'req-1');
  assert.deepEqual(response.body, {
    statusCode: 500,
    code: 'HX_ERR_SERVER_INTERNAL',
    error: 'Internal Server Error',
    message: 'Internal server error',
    requestId: 'req-1',
  });
});

test("fastify's own errors are mapped into the catalogue", () => {
  const tooLarge = toErrorResponse(
    Object.assign(new Error('x'), { code: 'FST_ERR_CTP_BODY_TOO_LARGE', statusCode: 413 }),
    'r',
  );
  assert.equal(tooLarge.body.code, 'HX_ERR_LIMIT_BODY_TOO_LARGE');
  const badUrl = toErrorResponse(Object.assign(new Error('x'), { code: 'FST_ERR_BAD_URL', statusCode: 400 }), 'r');
  assert.equal(badUrl.body.code, 'HX_ERR_HTTP_BAD_REQUEST');
});
