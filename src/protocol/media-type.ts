/** Parsing of Content-Type (RFC 9110 section 8.3) and the media types the protocol accepts. */

export interface MediaType {
  /** lower-case type/subtype, '' when the header is absent */
  essence: string;
  params: Record<string, string>;
}

export function parseMediaType(header: string | undefined): MediaType {
  if (header === undefined || header.trim() === '') return { essence: '', params: {} };
  const [head = '', ...rest] = header.split(';');
  const params: Record<string, string> = {};
  for (const part of rest) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    const key = part.slice(0, eq).trim().toLowerCase();
    let value = part.slice(eq + 1).trim();
    if (value.startsWith('"') && value.endsWith('"') && value.length >= 2) value = value.slice(1, -1);
    if (key) params[key] = value;
  }
  return { essence: head.trim().toLowerCase(), params };
}

/**
 * Declared types we decode by sniffing the bytes (Content-Type is a hint: real clients send image/jpg,
 * application/octet-stream or nothing). image/x-raw has no magic and must be declared.
 */
const SNIFFED = new Set([
  '',
  'application/octet-stream',
  'image/jpeg',
  'image/jpg',
  'image/pjpeg',
  'image/png',
  'image/x-png',
  'image/apng',
  'image/bmp',
  'image/x-bmp',
  'image/x-ms-bmp',
  'image/*',
]);

export const RAW_MEDIA_TYPE = 'image/x-raw';

export function isSupportedDeclaredType(essence: string): boolean {
  return essence === RAW_MEDIA_TYPE || SNIFFED.has(essence);
}
