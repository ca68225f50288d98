import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Server, ServerCredentials, type ServiceDefinition } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import type { Logger } from 'pino';
import type { Config } from '../../config/defaults.js';
import type { InferenceEngine } from '../../inference/engine.js';
import type { Metrics } from '../../observability/metrics.js';
import { EXTENSION_PROTO, GRPC_LOADER_OPTIONS, PROTO_DIR, PROTO_PACKAGE } from '../../schema/grpc-inference.js';
import { Authenticator } from '../auth/authenticator.js';
import { authSettings } from '../auth/settings.js';
import { type Call, Session } from './session.js';

export interface GrpcFrontEnd {
  port: number;
  /** Graceful stop: every stream answers what it accepted and ends UNAVAILABLE; then the listener closes. */
  close(): Promise<void>;
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
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`${config.host}:${config.grpc.port ?? 0}`, credentials(config), (error, bound) =>
      error ? reject(error) : resolve(bound),
    ),
  );
  deps.logger.info({ port, host: config.host, tls: config.tls.certFile !== undefined }, 'gRPC extension listening');
  return {
    port,
    close: async () => {
      closing = true;
      await Promise.all([...sessions].map((session) => session.drain()));
      await new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
    },
  };
}

function credentials(config: Readonly<Config>): ServerCredentials {
  const { tls } = config;
  if (tls.certFile === undefined || tls.keyFile === undefined) return ServerCredentials.createInsecure();
  return ServerCredentials.createSsl(
    tls.caFile ? readFileSync(tls.caFile) : null,
    [{ cert_chain: readFileSync(tls.certFile), private_key: readFileSync(tls.keyFile) }],
    tls.caFile !== undefined,
  );
}
