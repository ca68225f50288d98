import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import { Agent, request } from 'undici';
import { validateResponse } from '../../src/schema/validate.js';

const vendorSchema = JSON.parse(
  readFileSync(new URL('../../../test/fixtures/vendor/extension-data-schema.json', import.meta.url), 'utf8'),
) as object;
const vendorValidate = new Ajv({ allErrors: true, strict: false }).compile(vendorSchema);

export const agent = new Agent({ keepAliveTimeout: 10_000, connections: 16 });

export interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json: unknown;
}

/**
 * POSTs a body and checks the answer is well-formed for its status: 200 is JSON valid against our strict schema
 * and the vendor's; 204 is empty; an error is our JSON error shape with a code of the catalogue.
 */
export async function post(
  url: string,
  body: Uint8Array | string,
  headers: Record<string, string> = {},
  method = 'POST',
): Promise<Answer> {
  const response = await request(url, { method: method as 'POST', body, headers, dispatcher: agent });
  const text = await response.body.text();
  const answer: Answer = { status: response.statusCode, headers: response.headers, text, json: undefined };
  checkWellFormed(answer);
  return answer;
}

export async function get(url: string, headers: Record<string, string> = {}): Promise<Answer> {
  const response = await request(url, { method: 'GET', headers, dispatcher: agent });
  const text = await response.body.text();
  const answer: Answer = { status: response.statusCode, headers: response.headers, text, json: undefined };
  if (text.length > 0 && String(response.headers['content-type']).includes('json')) answer.json = JSON.parse(text);
  return answer;
}

/** Problems of an inference answer against the vendor's schema (none: valid). */
export function vendorProblems(value: unknown): string[] {
  return vendorValidate(value) ? [] : (vendorValidate.errors ?? []).map((e) => `${e.instancePath} ${e.message}`);
}

/**
 * Asserts that a published message's inferences are valid against our strict schema and the vendor's. The vendor's
 * schema has no `sequenceId` (its own tracker emitted one all the same, and our strict schema allows it): it is
 * left out of the vendor check only, so everything else about a tracked entity is held to the vendor's schema.
 */
export function assertValidInferences(body: Record<string, unknown>): void {
  const answer = { inferences: body.inferences };
  assert.deepEqual(validateResponse(answer), [], 'inferences must match the strict schema');
  const withoutSequenceIds = {
    inferences: (body.inferences as Record<string, unknown>[]).map(({ sequenceId: _, ...rest }) => rest),
  };
  assert.deepEqual(vendorProblems(withoutSequenceIds), [], 'inferences must match the vendor schema');
}

/** A server's answer (`{inferences: [...]}`, nothing stripped) valid against our strict schema and the vendor's. */
export function assertSchemas(json: unknown): void {
  assert.deepEqual(validateResponse(json), [], 'answer must match the strict schema');
  assert.deepEqual(vendorProblems(json), [], 'answer must match the vendor schema');
}

export function checkWellFormed(answer: Answer): void {
  const type = String(answer.headers['content-type'] ?? '');
  if (answer.status === 204) {
    assert.equal(answer.text, '', '204 must have an empty body');
    return;
  }
  assert.match(type, /^application\/json/, `status ${answer.status} must be JSON, got ${type}: ${answer.text}`);
  answer.json = JSON.parse(answer.text);
  if (answer.status === 200) {
    assertSchemas(answer.json);
  } else if (answer.status >= 400) {
    const body = answer.json as Record<string, unknown>;
    assert.deepEqual(Object.keys(body).sort(), ['code', 'error', 'message', 'requestId', 'statusCode']);
    assert.equal(body.statusCode, answer.status);
    assert.match(String(body.code), /^HX_ERR_[A-Z]+_[A-Z_]+$/);
    if (answer.status === 503) assert.match(String(answer.headers['retry-after']), /^\d+$/, '503 needs Retry-After');
  }
}

/** Asserts an error answer's status and code. */
export function assertError(answer: Answer, status: number, code: string): void {
  assert.equal(answer.status, status, answer.text);
  assert.equal((answer.json as { code: string }).code, code, answer.text);
}

export function fixture(path: string): Buffer {
  return readFileSync(new URL(`../../../test/fixtures/${path}`, import.meta.url));
}

/** Sends raw bytes on a fresh connection and returns everything the server answers until it closes or `untilMs`. */
export function rawExchange(port: number, chunks: Array<string | Buffer>, untilMs = 2000): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let received = '';
    const timer = setTimeout(() => socket.destroy(), untilMs);
    socket.on('data', (d) => {
      received += d.toString('latin1');
    });
    socket.on('error', (error: NodeJS.ErrnoException) => {
      // The server may reset a connection whose body it refused; what it answered first still counts.
      if (error.code === 'ECONNRESET' || error.code === 'EPIPE') return;
      reject(error);
    });
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(received);
    });
    socket.on('connect', () => {
      for (const chunk of chunks) socket.write(chunk);
    });
  });
}

/** Polls `check` (every 10 ms, up to `ms`) until it holds: waiting for a state, never for a guessed duration. */
export async function until(what: string, check: () => boolean | Promise<boolean>, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`${what} did not happen within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** The value of an unlabelled gauge on `base`/metrics. */
export async function gauge(base: string, name: string): Promise<number> {
  const text = (await get(`${base}/metrics`)).text;
  const match = new RegExp(`^${name} (\\S+)$`, 'm').exec(text);
  if (match === null) throw new Error(`${name} is not in /metrics`);
  return Number(match[1]);
}

/** A file that, once created, releases the `behave` double's `?do=hold&until=` frames. */
export function releaseFile(): { path: string; release(): void } {
  const path = join(mkdtempSync(join(tmpdir(), 'hx-hold-')), 'release');
  return { path: encodeURIComponent(path), release: () => writeFileSync(path, '') };
}
