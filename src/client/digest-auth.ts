import { createHash, randomBytes } from 'node:crypto';

/** One `WWW-Authenticate` challenge: its scheme and its parameters (names lower-cased). */
export interface Challenge {
  scheme: string;
  params: Record<string, string>;
}

/** Parses a `WWW-Authenticate` header value (possibly several challenges, RFC 9110 section 11.6.1). */
export function parseChallenges(header: string | string[] | undefined): Challenge[] {
  const values = header === undefined ? [] : Array.isArray(header) ? header : [header];
  const out: Challenge[] = [];
  for (const value of values) {
    const re = /\s*([A-Za-z0-9!#$%&'*+.^_`|~-]+)(?:\s*=\s*("(?:[^"\\]|\\.)*"|[^\s,]*))?\s*,?/gy;
    let current: Challenge | undefined;
    re.lastIndex = 0;
    while (re.lastIndex < value.length) {
      const m = re.exec(value);
      if (m === null || m[0] === '') break;
      const token = m[1]!;
      const raw = m[2];
      if (raw === undefined) {
        // A bare token starts a new challenge (a token68 after it would have an `=`; neither Basic nor Digest uses one).
        current = { scheme: token.toLowerCase(), params: {} };
        out.push(current);
      } else if (current) {
        current.params[token.toLowerCase()] = raw.startsWith('"') ? raw.slice(1, -1).replace(/\\(.)/g, '$1') : raw;
      }
    }
  }
  return out;
}

const ALGORITHMS: Record<string, string> = {
  md5: 'md5',
  'md5-sess': 'md5',
  'sha-256': 'sha256',
  'sha-256-sess': 'sha256',
};

/** Picks the strongest Digest challenge we can answer (SHA-256 before MD5, RFC 7616 section 3.7). */
export function pickDigest(challenges: Challenge[]): Challenge | undefined {
  const digests = challenges.filter(
    (c) => c.scheme === 'digest' && ALGORITHMS[(c.params.algorithm ?? 'MD5').toLowerCase()] !== undefined,
  );
  return digests.find((c) => (c.params.algorithm ?? '').toLowerCase().startsWith('sha-256')) ?? digests[0];
}

/**
 * Answers Digest challenges (RFC 7616, qop=auth, MD5 or SHA-256, -sess variants) and keeps the nonce between
 * requests, counting `nc`, so that only the first request of a connection pays the 401 round trip.
 */
export class DigestSession {
  private nc = 0;

  constructor(
    private readonly challenge: Challenge,
    private readonly username: string,
    private readonly password: string,
  ) {}

  get stale(): boolean {
    return (this.challenge.params.stale ?? '').toLowerCase() === 'true';
  }

  authorization(method: string, uri: string): string {
    const p = this.challenge.params;
    const algorithmName = p.algorithm ?? 'MD5';
    const hashName = ALGORITHMS[algorithmName.toLowerCase()] ?? 'md5';
    const h = (s: string) => createHash(hashName).update(s).digest('hex');
    const realm = p.realm ?? '';
    const nonce = p.nonce ?? '';
    const qops = (p.qop ?? '').split(',').map((q) => q.trim().toLowerCase());
    const useQop = qops.includes('auth');
    this.nc++;
    const nc = this.nc.toString(16).padStart(8, '0');
    const cnonce = randomBytes(12).toString('hex');
    let ha1 = h(`${this.username}:${realm}:${this.password}`);
    if (algorithmName.toLowerCase().endsWith('-sess')) ha1 = h(`${ha1}:${nonce}:${cnonce}`);
    const ha2 = h(`${method}:${uri}`);
    const response = useQop ? h(`${ha1}:${nonce}:${nc}:${cnonce}:auth:${ha2}`) : h(`${ha1}:${nonce}:${ha2}`);
    const q = (s: string) => `"${s.replace(/(["\\])/g, '\\$1')}"`;
    const parts = [
      `username=${q(this.username)}`,
      `realm=${q(realm)}`,
      `nonce=${q(nonce)}`,
      `uri=${q(uri)}`,
      `algorithm=${algorithmName}`,
      `response=${q(response)}`,
    ];
    if (useQop) parts.push('qop=auth', `nc=${nc}`, `cnonce=${q(cnonce)}`);
    if (p.opaque !== undefined) parts.push(`opaque=${q(p.opaque)}`);
    return `Digest ${parts.join(', ')}`;
  }
}
