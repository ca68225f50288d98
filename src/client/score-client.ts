import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';

export interface ScoreOptions {
  url: string;
  /** Defaults from the file extension: .jpg/.jpeg, .png, .bmp; raw frames need it (image/x-raw; width=..). */
  contentType?: string | undefined;
  headers?: Record<string, string>;
  timeoutMs?: number;
}

export interface ScoreAnswer {
  status: number;
  contentType: string | null;
  requestId: string | null;
  retryAfter: string | null;
  /** Parsed JSON when the answer is JSON, else the text. */
  body: unknown;
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

/** Posts one image the way a pipeline's HTTP extension node does, and returns the answer. */
export async function scoreImage(body: Uint8Array, options: ScoreOptions): Promise<ScoreAnswer> {
  const response = await fetch(options.url, {
    method: 'POST',
    body,
    headers: {
      'content-type': options.contentType ?? 'application/octet-stream',
      accept: 'application/json',
      'user-agent': 'httpextension-client',
      'x-ms-client-request-id': crypto.randomUUID(),
      ...options.headers,
    },
    signal: AbortSignal.timeout(options.timeoutMs ?? 30_000),
  });
  const text = await response.text();
  const contentType = response.headers.get('content-type');
  let parsed: unknown = text;
  if (contentType?.includes('json') && text.length > 0) parsed = JSON.parse(text);
  return {
    status: response.status,
    contentType,
    requestId: response.headers.get('x-ms-client-request-id'),
    retryAfter: response.headers.get('retry-after'),
    body: parsed,
  };
}

export async function scoreFile(path: string, options: ScoreOptions): Promise<ScoreAnswer> {
  const bytes = await readFile(path);
  return scoreImage(bytes, { ...options, contentType: options.contentType ?? contentTypeForFile(path) });
}
