/** Parsing of Content-Type (RFC 9110 section 8.3); which types are accepted is the engine's (admission.ts). */

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
