import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { performance } from 'node:perf_hooks';
import { DigestSession, parseChallenges, pickDigest } from './digest-auth.js';

export const DEFAULT_SCORE_URL = 'http://127.0.0.1:5001/score';

export interface ScoreOptions {
  /** Default: DEFAULT_SCORE_URL, the default route of a server started with no options. */
  url?: string | undefined;
  /** Defaults from the file extension: .jpg/.jpeg, .png, .bmp; raw frames need it (image/x-raw; width=..). */
  contentType?: string | undefined;
  headers?: Record<string, string>;
  /** Basic or Digest credentials, used when the server answers 401 with a challenge for either. */
  credentials?: { username: string; password: string } | undefined;
  timeoutMs?: number;
}

export interface ScoreAnswer {
  status: number;
  contentType: string | null;
  requestId: string | null;
  retryAfter: string | null;
  /** The body as received: JSON, or an image (an annotated frame). */
  bytes: Uint8Array;
  /** Parsed JSON when the answer is JSON, else undefined. */
  json: unknown;
  /** From sending the first byte to the last byte of the answer, 401 round trips included. */
  durationMs: number;
}

const TYPES: Record<string, string> = {
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.png': 'image/png',
  '.bmp': 'image/bmp',
};

export function contentTypeForFile(path: string): string {
  return TYPES[extname(path).toLowerCase()] ?? 'application/octet-stream';
}

/** The Authorization answering a 401's challenges: Digest when offered (stronger), else Basic; undefined: none. */
function answerChallenge(
  header: string | null,
  credentials: { username: string; password: string },
  uri: string,
): string | undefined {
  const challenges = parseChallenges(header ?? undefined);
  const digest = pickDigest(challenges);
  if (digest !== undefined)
    return new DigestSession(digest, credentials.username, credentials.password).authorization('POST', uri);
  if (challenges.some((c) => c.scheme === 'basic')) {
    return `Basic ${Buffer.from(`${credentials.username}:${credentials.password}`).toString('base64')}`;
  }
  return undefined;
}

/**
 * Posts one image the way a pipeline's HTTP extension node does, and returns the answer. Credentials are sent only
 * once the server asks for them (a 401 naming Basic or Digest), never preemptively.
 */
export async function scoreImage(body: Uint8Array, options: ScoreOptions = {}): Promise<ScoreAnswer> {
  const url = new URL(options.url ?? DEFAULT_SCORE_URL);
  const headers: Record<string, string> = {
    'content-type': options.contentType ?? 'application/octet-stream',
    accept: 'application/json, image/jpeg;q=0.5',
    'user-agent': 'httpextension-client',
    'x-ms-client-request-id': crypto.randomUUID(),
    ...options.headers,
  };
  const signal = AbortSignal.timeout(options.timeoutMs ?? 30_000);
  const started = performance.now();
  let response = await fetch(url, { method: 'POST', body, headers, signal });
  if (response.status === 401 && options.credentials !== undefined) {
    const authorization = answerChallenge(
      response.headers.get('www-authenticate'),
      options.credentials,
      `${url.pathname}${url.search}`,
    );
    if (authorization !== undefined) {
      await response.arrayBuffer();
      response = await fetch(url, { method: 'POST', body, headers: { ...headers, authorization }, signal });
    }
  }
  const bytes = new Uint8Array(await response.arrayBuffer());
  const durationMs = performance.now() - started;
  const contentType = response.headers.get('content-type');
  const json =
    contentType?.includes('json') && bytes.byteLength > 0 ? JSON.parse(Buffer.from(bytes).toString('utf8')) : undefined;
  return {
    status: response.status,
    contentType,
    requestId: response.headers.get('x-ms-client-request-id'),
    retryAfter: response.headers.get('retry-after'),
    bytes,
    json,
    durationMs,
  };
}

export async function scoreFile(path: string, options: ScoreOptions = {}): Promise<ScoreAnswer> {
  const bytes = await readFile(path);
  return scoreImage(bytes, { ...options, contentType: options.contentType ?? contentTypeForFile(path) });
}
