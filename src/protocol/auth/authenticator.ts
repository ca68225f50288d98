import { schemeValue, verifyBasic } from './basic.js';
import { DigestVerifier } from './digest.js';
import { matchesAny } from './secret.js';
import type { AuthScheme, AuthSettings } from './types.js';

export type AuthResult = { ok: true } | { ok: false; missing: boolean; challenges: string[] };

export interface AuthRequest {
  method: string;
  /** The request-target as sent (path and query), which Digest signs. */
  url: string;
  headers: Record<string, string | string[] | undefined>;
}

/**
 * Checks a request against a set of schemes: any one that verifies admits it. Runs on headers alone, before the
 * body is read, so an unauthenticated client cannot make the server buffer a frame.
 */
export class Authenticator {
  private readonly digest: DigestVerifier | undefined;

  constructor(private readonly settings: AuthSettings) {
    this.digest = settings.schemes.includes('digest')
      ? new DigestVerifier({
          realm: settings.realm,
          users: settings.users,
          algorithms: settings.digest.algorithms,
          nonceTtlMs: settings.digest.nonceTtlMs,
          secret: settings.digest.secret,
        })
      : undefined;
  }

  check(request: AuthRequest, schemes: readonly AuthScheme[] = this.settings.schemes): AuthResult {
    if (schemes.length === 0) return { ok: true };
    const authorization = single(request.headers.authorization);
    let stale = false;
    for (const scheme of schemes) {
      switch (scheme) {
        case 'basic':
          if (verifyBasic(authorization, this.settings.users)) return { ok: true };
          break;
        case 'bearer': {
          const token = schemeValue(authorization, 'bearer');
          if (token !== undefined && matchesAny(token, this.settings.tokens)) return { ok: true };
          break;
        }
        case 'header': {
          const header = this.settings.header;
          const value = header ? single(request.headers[header.name.toLowerCase()]) : undefined;
          if (header && value !== undefined && matchesAny(value, header.values)) return { ok: true };
          break;
        }
        case 'digest': {
          const verdict = this.digest!.verify(authorization, request.method, request.url);
          if (verdict === 'ok') return { ok: true };
          if (verdict === 'stale') stale = true;
          break;
        }
      }
    }
    const missing = authorization === undefined && !this.presentsHeader(request);
    return { ok: false, missing, challenges: this.challenges(schemes, stale) };
  }

  private presentsHeader(request: AuthRequest): boolean {
    const header = this.settings.header;
    return header !== undefined && request.headers[header.name.toLowerCase()] !== undefined;
  }

  private challenges(schemes: readonly AuthScheme[], stale: boolean): string[] {
    const realm = this.settings.realm;
    return schemes.flatMap((scheme) => {
      switch (scheme) {
        case 'basic':
          return [`Basic realm="${realm}", charset="UTF-8"`];
        case 'bearer':
          return [`Bearer realm="${realm}"`];
        case 'digest':
          return this.digest!.challenges(stale);
        default:
          // 'header': no registered scheme says "send this header"; name it so an operator sees what is expected.
          return [`ApiKey realm="${realm}", header="${this.settings.header?.name ?? ''}"`];
      }
    });
  }
}

function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}
