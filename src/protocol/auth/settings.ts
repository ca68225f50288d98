import { randomBytes } from 'node:crypto';
import type { AuthConfig } from '../../config/defaults.js';
import type { AuthSettings } from './types.js';

/** The validated auth config (secrets already read from env and files) as the authenticator needs it. */
export function authSettings(config: Readonly<AuthConfig>): AuthSettings {
  return {
    schemes: [...config.schemes],
    realm: config.realm,
    users: config.users.map((user) => ({ username: user.username, passwords: [...(user.passwords ?? [])] })),
    tokens: [...config.tokens],
    header:
      config.header.name === undefined ? undefined : { name: config.header.name, values: [...config.header.values] },
    // A fresh key per process: nonces from before a restart are simply refused and re-issued.
    digest: {
      algorithms: [...config.digest.algorithms],
      nonceTtlMs: config.digest.nonceTtlMs,
      secret: randomBytes(32),
    },
  };
}
