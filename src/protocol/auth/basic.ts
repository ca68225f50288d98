import { matchesAny } from './secret.js';
import type { AuthUser } from './types.js';

/** RFC 7617 Basic: `Authorization: Basic base64(user:password)`. */
export function verifyBasic(authorization: string | undefined, users: readonly AuthUser[]): boolean {
  const credentials = schemeValue(authorization, 'basic');
  if (credentials === undefined) return false;
  const decoded = Buffer.from(credentials, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return false;
  const username = decoded.slice(0, colon);
  const password = decoded.slice(colon + 1);
  // Every user is checked, so timing does not reveal which usernames exist.
  let ok = false;
  for (const user of users) {
    const userOk = matchesAny(username, [user.username]);
    const passwordOk = matchesAny(password, user.passwords);
    if (userOk && passwordOk) ok = true;
  }
  return ok;
}

const TOKEN68 = /^[A-Za-z0-9\-._~+/]+=*$/;

/** The credentials after `<scheme> ` in an Authorization header (scheme compared case-insensitively). */
export function schemeValue(authorization: string | undefined, scheme: string): string | undefined {
  if (authorization === undefined) return undefined;
  const space = authorization.indexOf(' ');
  if (space < 0 || authorization.slice(0, space).toLowerCase() !== scheme) return undefined;
  const value = authorization.slice(space + 1).trim();
  // RFC 9110 token68 (Basic's base64, Bearer's b64token): one credential. Anything else, e.g. a second scheme after a
  // comma ("Basic x, Digest ..."), is refused rather than decoded leniently.
  return TOKEN68.test(value) ? value : undefined;
}
