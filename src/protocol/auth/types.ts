export type AuthScheme = 'basic' | 'digest' | 'bearer' | 'header';

/** A user for Basic and Digest; several passwords may be valid at once (rotation). */
export interface AuthUser {
  username: string;
  passwords: string[];
}

/** Resolved credentials (secrets read from env and files at boot). */
export interface AuthSettings {
  schemes: AuthScheme[];
  realm: string;
  users: AuthUser[];
  tokens: string[];
  header: { name: string; values: string[] } | undefined;
  digest: { algorithms: Array<'SHA-256' | 'MD5'>; nonceTtlMs: number; secret: Buffer };
}
