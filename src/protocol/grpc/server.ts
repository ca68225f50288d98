import { join } from 'node:path';
import { createSecureContext } from 'node:tls';
import { experimental, Server, ServerCredentials, type ServiceDefinition } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import type { Logger } from 'pino';
import { Gauge } from 'prom-client';
import type { Config } from '../../config/defaults.js';
import type { InferenceEngine } from '../../inference/engine.js';
import type { Metrics } from '../../observability/metrics.js';
import { EXTENSION_PROTO, GRPC_LOADER_OPTIONS, PROTO_DIR, PROTO_PACKAGE } from '../../schema/grpc-inference.js';
import { Authenticator } from '../auth/authenticator.js';
import { authSettings } from '../auth/settings.js';
import { readTlsFiles } from '../http/tls.js';
import { type Call, Session } from './session.js';

export interface GrpcFrontEnd {
  port: number;
  /** Graceful stop: every stream answers what it accepted and ends UNAVAILABLE; then the listener closes. */
  close(): Promise<void>;
  /** Re-reads the TLS files (SIGHUP): new connections get them, open streams keep theirs. Throws if they are bad. */
  reloadTls(): void;
}

/** Room for protobuf framing around a frame of maxBodyBytes. */
const FRAMING_BYTES = 64 * 1024;

/**
 * The gRPC extension contract's front end (`MediaGraphExtension.ProcessMediaStream`) on the engine the HTTP server
 * uses: the same routes, limits, auth users, TLS certificate and metrics.
 */
export async function startGrpcServer(deps: {
  config: Readonly<Config>;
  engine: InferenceEngine;
  metrics: Metrics;
  logger: Logger;
}): Promise<GrpcFrontEnd> {
  const { config } = deps;
  const definition = loadSync(join(PROTO_DIR, EXTENSION_PROTO), { ...GRPC_LOADER_OPTIONS, includeDirs: [PROTO_DIR] });
  const service = definition[`${PROTO_PACKAGE}.MediaGraphExtension`] as ServiceDefinition;
  const server = new Server({
    'grpc.max_receive_message_length': config.maxBodyBytes + FRAMING_BYTES,
    'grpc.max_send_message_length': config.maxBodyBytes + FRAMING_BYTES,
  });
  const sessions = new Set<Session>();
  const sessionDeps = { ...deps, authenticator: new Authenticator(authSettings(config.auth)) };
  let next = 0;
  new Gauge({
    name: 'httpextension_grpc_streams',
    help: 'gRPC streams open now',
    registers: [deps.metrics.registry],
    collect() {
      this.set(sessions.size);
    },
  });
  let closing = false;
  server.addService(service, {
    ProcessMediaStream: (call: Call) => {
      const session = new Session(call, sessionDeps, ++next);
      if (closing) void session.drain();
      sessions.add(session);
      call.on('close', () => sessions.delete(session));
      call.on('finish', () => sessions.delete(session));
    },
  });
  const certificates = config.tls.certFile === undefined ? undefined : new Certificates(config.tls);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`${config.host}:${config.grpc.port ?? 0}`, credentials(config, certificates), (error, bound) =>
      error ? reject(error) : resolve(bound),
    ),
  );
  deps.logger.info({ port, host: config.host, tls: config.tls.certFile !== undefined }, 'gRPC extension listening');
  return {
    port,
    close: async () => {
      closing = true;
      // Every frame in flight ends by its deadline; the grace period bounds what is left (a peer that never reads).
      const grace = setTimeout(() => server.forceShutdown(), config.shutdownGraceMs + config.requestTimeoutMs);
      await Promise.all([...sessions].map((session) => session.drain()));
      await new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
      clearTimeout(grace);
    },
    reloadTls: () => certificates?.reload(),
  };
}

function credentials(config: Readonly<Config>, certificates: Certificates | undefined): ServerCredentials {
  if (certificates === undefined) return ServerCredentials.createInsecure();
  // grpc-js passes its first argument on as the identity provider and its second as the CA provider (null: no client
  // certificates asked for), whatever its typings name them.
  return experimental.createCertificateProviderServerCredentials(
    certificates,
    config.tls.caFile === undefined ? null : certificates,
    config.tls.caFile !== undefined,
  );
}

/**
 * The server's certificate, key and CA as grpc-js's certificate provider interface wants them, re-read on demand
 * (SIGHUP) rather than by polling. New files are parsed before any listener sees them: a bad pair keeps the old one.
 */
class Certificates implements experimental.CertificateProvider {
  private identity: experimental.IdentityCertificateUpdate;
  private ca: experimental.CaCertificateUpdate | null;
  private readonly identityListeners = new Set<experimental.IdentityCertificateUpdateListener>();
  private readonly caListeners = new Set<experimental.CaCertificateUpdateListener>();

  constructor(private readonly tls: Config['tls']) {
    const { identity, ca } = this.read();
    this.identity = identity;
    this.ca = ca;
  }

  reload(): void {
    const { identity, ca } = this.read();
    this.identity = identity;
    this.ca = ca;
    for (const listener of this.identityListeners) listener(identity);
    for (const listener of this.caListeners) listener(ca);
  }

  private read(): { identity: experimental.IdentityCertificateUpdate; ca: experimental.CaCertificateUpdate | null } {
    const files = readTlsFiles(this.tls);
    createSecureContext(files);
    return {
      identity: { certificate: files.cert as Buffer, privateKey: files.key as Buffer },
      ca: files.ca === undefined ? null : { caCertificate: files.ca as Buffer },
    };
  }

  addIdentityCertificateListener(listener: experimental.IdentityCertificateUpdateListener): void {
    this.identityListeners.add(listener);
    // Later, not now: grpc-js registers the server's watcher only after this returns, and would miss the update.
    queueMicrotask(() => listener(this.identity));
  }
  removeIdentityCertificateListener(listener: experimental.IdentityCertificateUpdateListener): void {
    this.identityListeners.delete(listener);
  }
  addCaCertificateListener(listener: experimental.CaCertificateUpdateListener): void {
    this.caListeners.add(listener);
    queueMicrotask(() => listener(this.ca));
  }
  removeCaCertificateListener(listener: experimental.CaCertificateUpdateListener): void {
    this.caListeners.delete(listener);
  }
}
