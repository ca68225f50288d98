import { createHash, createHmac, randomBytes } from 'node:crypto';
import { matchesAny } from './secret.js';
import type { AuthUser } from './types.js';

/**
 * RFC 7616 HTTP Digest with qop=auth, SHA-256 and MD5. Nonces are stateless (timestamp + random + HMAC under a
 * per-process key) so any request can be checked without a lookup; an expired but genuine nonce gets a challenge
 * with stale=true, so the client retries with the new nonce without asking the user again. Nonce counts are
 * remembered per nonce for its lifetime and must increase, so a captured request cannot be replayed.
 */
export class DigestVerifier {
  private readonly seen = new Map<string, { nc: number; expires: number }>();
  private lastSweep = Date.now();

  constructor(
    private readonly options: {
      realm: string;
      users: readonly AuthUser[];
      algorithms: ReadonlyArray<'SHA-256' | 'MD5'>;
      nonceTtlMs: number;
      secret: Buffer;
      now?: () => number;
    },
  ) {}

  private now(): number {
    return this.options.now?.() ?? Date.now();
  }

  private opaque(): string {
    return createHmac('sha256', this.options.secret).update('opaque').digest('hex').slice(0, 32);
  }

  /** One WWW-Authenticate value per algorithm, preferred first (SHA-256). */
  challenges(stale = false): string[] {
    const nonce = this.issueNonce();
    const opaque = this.opaque();
    return this.options.algorithms.map(
      (algorithm) =>
        `Digest realm="${this.options.realm}", qop="auth", algorithm=${algorithm}, nonce="${nonce}", ` +
        `opaque="${opaque}"${stale ? ', stale=true' : ''}`,
    );
  }

  /** 'ok', 'stale' (genuine nonce past its lifetime: challenge again with stale=true) or 'invalid'. */
  verify(authorization: string | undefined, method: string, requestUri: string): 'ok' | 'stale' | 'invalid' {
    const params = parseDigest(authorization);
    if (params === undefined) return 'invalid';
    const { username, realm, nonce, uri, response, qop, nc, cnonce } = params;
    const algorithm = (params.algorithm ?? 'MD5').toUpperCase();
    if (!username || !nonce || !uri || !response || realm !== this.options.realm) return 'invalid';
    if (qop !== 'auth' || !nc || !cnonce || !/^[0-9a-f]{8}$/i.test(nc)) return 'invalid';
    if (!this.options.algorithms.some((a) => a === algorithm)) return 'invalid';
    if (uri !== requestUri) return 'invalid';
    // RFC 7616 section 3.3: the client returns the opaque value unchanged; anything else was not our challenge.
    if (params.opaque !== this.opaque()) return 'invalid';
    const issued = this.checkNonce(nonce);
    if (issued === 'invalid') return 'invalid';
    const hash = (s: string) =>
      createHash(algorithm === 'MD5' ? 'md5' : 'sha256')
        .update(s, 'utf8')
        .digest('hex');
    const ha2 = hash(`${method}:${uri}`);
    let ok = false;
    for (const user of this.options.users) {
      const expected = user.passwords.map((password) => {
        const ha1 = hash(`${user.username}:${this.options.realm}:${password}`);
        return hash(`${ha1}:${nonce}:${nc}:${cnonce}:${qop}:${ha2}`);
      });
      if (matchesAny(username, [user.username]) && matchesAny(response.toLowerCase(), expected)) ok = true;
    }
    if (!ok) return 'invalid';
    if (issued === 'stale') return 'stale';
    return this.acceptCount(nonce, Number.parseInt(nc, 16)) ? 'ok' : 'invalid';
  }

  private issueNonce(): string {
    const body = Buffer.alloc(16);
    body.writeDoubleBE(this.now(), 0);
    randomBytes(8).copy(body, 8);
    const mac = createHmac('sha256', this.options.secret).update(body).digest().subarray(0, 16);
    return Buffer.concat([body, mac]).toString('base64url');
  }

  private checkNonce(nonce: string): 'fresh' | 'stale' | 'invalid' {
    const raw = Buffer.from(nonce, 'base64url');
    if (raw.length !== 32) return 'invalid';
    const body = raw.subarray(0, 16);
    const mac = createHmac('sha256', this.options.secret).update(body).digest().subarray(0, 16);
    if (!matchesAny(mac.toString('hex'), [raw.subarray(16).toString('hex')])) return 'invalid';
    const issuedAt = body.readDoubleBE(0);
    return this.now() - issuedAt > this.options.nonceTtlMs ? 'stale' : 'fresh';
  }

  /** A nonce count must grow: the same (nonce, nc) twice is a replay. */
  private acceptCount(nonce: string, nc: number): boolean {
    const now = this.now();
    if (now - this.lastSweep > this.options.nonceTtlMs) {
      for (const [key, entry] of this.seen) if (entry.expires < now) this.seen.delete(key);
      this.lastSweep = now;
    }
    const entry = this.seen.get(nonce);
    if (entry !== undefined && nc <= entry.nc) return false;
    this.seen.set(nonce, { nc, expires: now + this.options.nonceTtlMs });
    return true;
  }
}

/** Parses `Digest k=v, k="v", ...` (RFC 7616 section 3.4). */
export function parseDigest(authorization: string | undefined): Record<string, string> | undefined {
  if (authorization === undefined || !/^digest\s/i.test(authorization)) return undefined;
  const params: Record<string, string> = {};
  const pattern = /([a-zA-Z0-9_-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))/g;
  for (const match of authorization.slice(7).matchAll(pattern)) {
    const key = match[1]!.toLowerCase();
    params[key] = match[2] !== undefined ? match[2].replace(/\\(.)/g, '$1') : (match[3] ?? '');
  }
  return params;
}
