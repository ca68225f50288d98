import { readFileSync } from 'node:fs';
import type { SecureContextOptions } from 'node:tls';
import type { Config } from '../../config/defaults.js';

/**
 * Mozilla's "intermediate" profile: TLS 1.2 only with ECDHE key exchange (forward secrecy) and AEAD ciphers, no
 * static RSA and no CBC; TLS 1.3's suites listed too, since Node takes both from this one string.
 */
const TLS_CIPHERS = [
  'TLS_AES_128_GCM_SHA256',
  'TLS_AES_256_GCM_SHA384',
  'TLS_CHACHA20_POLY1305_SHA256',
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
].join(':');

export type TlsFiles = SecureContextOptions & { requestCert?: boolean; rejectUnauthorized?: boolean };

/** PEM files read into the options Node's TLS layer takes. */
export function readTlsFiles(tls: Config['tls']): TlsFiles {
  return {
    cert: readFileSync(tls.certFile!),
    key: readFileSync(tls.keyFile!),
    minVersion: tls.minVersion,
    ciphers: TLS_CIPHERS,
    ...(tls.caFile ? { ca: readFileSync(tls.caFile), requestCert: true, rejectUnauthorized: true } : {}),
  };
}

/** Node's HTTP(S) server options: header and body limits, and TLS when a certificate is configured. */
export function listenerOptions(config: Readonly<Config>): { https: object } | { http: object } {
  const options = {
    maxHeaderSize: config.maxHeaderBytes,
    headersTimeout: config.headersTimeoutMs,
    requestTimeout: config.bodyTimeoutMs,
    // How often Node checks the two timeouts above (its default, 30 s, would let a slow client linger).
    connectionsCheckingInterval: Math.min(1000, config.headersTimeoutMs),
  };
  if (config.tls.certFile === undefined) return { http: options };
  return { https: { ...readTlsFiles(config.tls), handshakeTimeout: config.tls.handshakeTimeoutMs, ...options } };
}
