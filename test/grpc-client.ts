import { join } from 'node:path';
import {
  type ClientDuplexStream,
  credentials,
  loadPackageDefinition,
  Metadata,
  type ServiceError,
  status,
} from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import type { StreamMessage } from '../src/protocol/grpc/session.js';
import { EXTENSION_PROTO, GRPC_LOADER_OPTIONS, PROTO_DIR } from '../src/schema/grpc-inference.js';

type Constructor = new (
  address: string,
  creds: ReturnType<typeof credentials.createInsecure>,
) => {
  ProcessMediaStream(metadata: Metadata): ClientDuplexStream<StreamMessage, StreamMessage>;
  close(): void;
};

const definition = loadSync(join(PROTO_DIR, EXTENSION_PROTO), { ...GRPC_LOADER_OPTIONS, includeDirs: [PROTO_DIR] });
// biome-ignore lint/suspicious/noExplicitAny: the generated package tree is untyped
const pkg = loadPackageDefinition(definition) as any;
const MediaGraphExtension = pkg.microsoft.azure.media.live_video_analytics.extensibility.grpc.v1
  .MediaGraphExtension as Constructor;

export interface TestStream {
  send(message: StreamMessage): void;
  /** The next message from the server (rejects if the stream ends first). */
  next(): Promise<StreamMessage>;
  /** Half-closes our side. */
  end(): void;
  /** How the server ended the stream. */
  ended: Promise<{ code: status; details: string }>;
}

/** A grpc-js client of our server, streaming as a peer of the contract does. */
export function openStream(port: number, auth?: string, ca?: Buffer): TestStream & { close(): void } {
  const creds = ca === undefined ? credentials.createInsecure() : credentials.createSsl(ca);
  const client = new MediaGraphExtension(`127.0.0.1:${port}`, creds);
  const metadata = new Metadata();
  if (auth !== undefined) metadata.set('x-ms-authentication', auth);
  const call = client.ProcessMediaStream(metadata);
  const received: StreamMessage[] = [];
  const waiting: Array<{ resolve(m: StreamMessage): void; reject(e: Error): void }> = [];
  let over: Error | undefined;
  call.on('data', (message: StreamMessage) => {
    const waiter = waiting.shift();
    if (waiter) waiter.resolve(message);
    else received.push(message);
  });
  const ended = new Promise<{ code: status; details: string }>((resolve) => {
    call.on('error', (error: ServiceError) => resolve({ code: error.code, details: error.details }));
    call.on('status', (s: { code: status; details: string }) => {
      if (s.code === status.OK) resolve({ code: s.code, details: s.details });
    });
  });
  void ended.then((s) => {
    over = new Error(`stream ended: ${s.code} ${s.details}`);
    for (const waiter of waiting.splice(0)) waiter.reject(over);
  });
  return {
    send: (message) => call.write(message),
    next: () => {
      const message = received.shift();
      if (message !== undefined) return Promise.resolve(message);
      if (over !== undefined) return Promise.reject(over);
      return new Promise((resolve, reject) => waiting.push({ resolve, reject }));
    },
    end: () => call.end(),
    ended,
    close: () => client.close(),
  };
}

/** A descriptor message with sequence number 1. */
export function descriptor(
  extensionConfiguration: string,
  format: NonNullable<NonNullable<StreamMessage['mediaStreamDescriptor']>['mediaDescriptor']>['videoFrameSampleFormat'],
  shm?: { handleName: string; lengthBytes: number },
): StreamMessage {
  return {
    sequenceNumber: 1,
    mediaStreamDescriptor: {
      extensionConfiguration,
      mediaDescriptor: { timescale: 90000, videoFrameSampleFormat: format },
      ...(shm ? { sharedMemoryBufferTransferProperties: shm } : {}),
    },
  };
}
