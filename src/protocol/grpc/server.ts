import { once } from 'node:events';
import { createServer, type Socket } from 'node:net';
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
import { ConnectionSlots, configuredSlotLimits } from '../connection-slots.js';
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
  // Our own listener in front of grpc-js, so that idle and half-open connections are counted and evicted as on
  // the HTTP port (grpc-js bounds neither); each admitted socket is handed to grpc-js's HTTP/2 (or TLS) server.
  const slots = new ConnectionSlots<Session>(
    {
      ...configuredSlotLimits(config),
      // A gRPC client opens its stream right after connecting: no reason to wait longer for one that sent bytes.
      graceAfterBytes: false,
      // A stream still without its descriptor was not accepted: a newcomer may take its connection's slot.
      unaccepted: (session) => !session.described,
    },
    (reason) => deps.metrics.observeConnectionClosed('grpc', reason),
  );
  /** Admitted TCP sockets by peer, to find the connection a call came on (grpc-js shows a call only its peer). */
  const sockets = new Map<string, Socket>();
  let closing = false;
  server.addService(service, {
    ProcessMediaStream: (call: Call) => {
      const socket = sockets.get(call.getPeer());
      const session = new Session(call, sessionDeps, ++next);
      if (socket !== undefined) slots.begin(socket, session);
      if (closing) void session.drain();
      sessions.add(session);
      const ended = (): void => {
        sessions.delete(session);
        if (socket !== undefined) slots.end(socket, session);
      };
      call.on('close', ended);
      call.on('finish', ended);
      call.on('cancelled', ended);
    },
  });
  const certificates = config.tls.certFile === undefined ? undefined : new Certificates(config.tls);
  const injector = server.createConnectionInjector(credentials(config, certificates));
  const listener = createServer({ noDelay: true }, (socket) => {
    if (!slots.admit(socket)) return;
    const key = peerOf(socket);
    sockets.set(key, socket);
    // A later connection may reuse the port once this one is gone: only this socket's own entry goes.
    socket.once('close', () => {
      if (sockets.get(key) === socket) sockets.delete(key);
    });
    injector.injectConnection(socket);
  });
  listener.listen(config.grpc.port ?? 0, config.host);
  await Promise.race([
    once(listener, 'listening'),
    once(listener, 'error').then(([error]) => {
      throw error;
    }),
  ]);
  const address = listener.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  deps.logger.info({ port, host: config.host, tls: config.tls.certFile !== undefined }, 'gRPC extension listening');
  return {
    port,
    close: async () => {
      closing = true;
      // Connections without a stream hold nothing: closed now, as on the HTTP port. Late clients are refused at
      // connect (gRPC clients see UNAVAILABLE either way, and go elsewhere).
      slots.drain();
      const listenerClosed = new Promise<void>((resolve) => listener.close(() => resolve()));
      // Every frame in flight ends by its deadline; the grace period bounds what is left (a peer that never reads).
      const grace = setTimeout(() => {
        server.forceShutdown();
        for (const socket of sockets.values()) socket.destroy();
      }, config.shutdownGraceMs + config.requestTimeoutMs);
      await Promise.all([...sessions].map((session) => session.drain()));
      await new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
      // Connections whose last stream ended meanwhile, if grpc-js left them open.
      slots.drain();
      await listenerClosed;
      clearTimeout(grace);
    },
    reloadTls: () => certificates?.reload(),
  };
}

/** A connection's peer as grpc-js's `call.getPeer()` spells it. */
function peerOf(socket: Socket): string {
  return socket.remotePort ? `${socket.remoteAddress}:${socket.remotePort}` : `${socket.remoteAddress}`;
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
