import { join } from 'node:path';
import {
  type ChannelCredentials,
  type ClientDuplexStream,
  type ClientOptions,
  credentials as channelCredentials,
  loadPackageDefinition,
  Metadata,
  type ServiceError,
  status,
} from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import {
  EXTENSION_PROTO,
  GRPC_LOADER_OPTIONS,
  PROTO_DIR,
  PROTO_PACKAGE,
  type ProtoInference,
  type StreamMessage,
} from '../schema/grpc-inference.js';
import type { GrpcExtensionSpec } from './extension-spec.js';

type Descriptor = NonNullable<StreamMessage['mediaStreamDescriptor']>;
type Content = Pick<NonNullable<StreamMessage['mediaSample']>, 'contentBytes' | 'contentReference'>;

export interface ExtensionClient {
  ProcessMediaStream(metadata: Metadata): ClientDuplexStream<StreamMessage, StreamMessage>;
  close(): void;
}

type ClientConstructor = new (
  address: string,
  credentials: ChannelCredentials,
  options: ClientOptions,
) => ExtensionClient;

let Client: ClientConstructor | undefined;

/** A client of `MediaGraphExtension` at `address` (`host:port`); the contract is loaded from proto/ once. */
export function extensionClient(address: string, credentials: ChannelCredentials): ExtensionClient {
  if (Client === undefined) {
    const definition = loadSync(join(PROTO_DIR, EXTENSION_PROTO), { ...GRPC_LOADER_OPTIONS, includeDirs: [PROTO_DIR] });
    let node: unknown = loadPackageDefinition(definition);
    for (const part of [...PROTO_PACKAGE.split('.'), 'MediaGraphExtension'])
      node = (node as Record<string, unknown>)[part];
    Client = node as ClientConstructor;
  }
  return new Client(address, credentials, {
    // Answers are inferences, not frames; 64 MiB leaves room for an `other` payload an extension may add.
    'grpc.max_receive_message_length': 64 * 1024 * 1024,
  });
}

/** A client of a `GrpcExtension` node's endpoint (its TLS options) and the call metadata carrying its credentials. */
export function endpointClient(spec: GrpcExtensionSpec): { client: ExtensionClient; metadata: Metadata } {
  const tls = spec.endpoint.tls;
  const creds = tls
    ? channelCredentials.createSsl(
        tls.trustedCertificates.length > 0 ? Buffer.from(tls.trustedCertificates.join('\n')) : null,
        null,
        null,
        {
          rejectUnauthorized: !tls.ignoreSignature,
          ...(tls.ignoreHostname ? { checkServerIdentity: () => undefined } : {}),
        },
      )
    : channelCredentials.createInsecure();
  const metadata = new Metadata();
  const credentials = spec.endpoint.credentials;
  if (credentials?.kind === 'usernamePassword') {
    // The contract's authentication: HTTP Basic in the call's metadata.
    const token = Buffer.from(`${credentials.username}:${credentials.password}`).toString('base64');
    metadata.set('x-ms-authentication', `Basic ${token}`);
  } else if (credentials?.kind === 'httpHeader') {
    metadata.set(credentials.headerName!.toLowerCase(), credentials.headerValue!);
  }
  return { client: extensionClient(spec.address, creds), metadata };
}

/** How a stream ended when it did not end cleanly: the gRPC status and the peer's (or our) explanation. */
export class StreamFailure extends Error {
  constructor(
    readonly code: status,
    readonly details: string,
  ) {
    super(`${status[code] ?? code}: ${details}`);
  }

  /** A failure of our own making (not a status from the peer): UNKNOWN. */
  static of(error: unknown): StreamFailure {
    return error instanceof StreamFailure ? error : new StreamFailure(status.UNKNOWN, String(error));
  }

  get codeName(): string {
    return status[this.code] ?? String(this.code);
  }

  /** The extension refused our credentials: retrying cannot help. */
  get refusesCredentials(): boolean {
    return this.code === status.UNAUTHENTICATED || this.code === status.PERMISSION_DENIED;
  }
}

/**
 * One `ProcessMediaStream` call as the contract's client side: our descriptor first (sequence number 1), then each
 * sample numbered 2, 3, ...; `sample()` resolves with the inferences of the message that acks it. Answers may come in
 * any order (the ack says which sample each belongs to). A sample unanswered after `ackTimeoutMs` breaks the stream:
 * a server that forgets acks would otherwise pin shared memory for ever.
 */
export class ExtensionStream {
  private readonly call: ClientDuplexStream<StreamMessage, StreamMessage>;
  private nextSequence = 1;
  private readonly pending = new Map<
    number,
    { resolve(i: ProtoInference[]): void; reject(e: Error): void; timer: NodeJS.Timeout }
  >();
  private failure: StreamFailure | undefined;
  private over = false;
  /** The server's `extension_identifier`, once its descriptor arrived. */
  extensionIdentifier: string | undefined;
  /** Set by whoever reported this stream's failure, so that one failure is one diagnostics event. */
  reported = false;
  /** Resolves when the stream is over: undefined when it ended with OK. */
  readonly ended: Promise<StreamFailure | undefined>;

  constructor(
    client: ExtensionClient,
    metadata: Metadata,
    descriptor: Descriptor,
    private readonly ackTimeoutMs: number,
  ) {
    this.call = client.ProcessMediaStream(metadata);
    this.ended = new Promise((resolve) => {
      this.call.on('data', (message: StreamMessage) => this.onMessage(message));
      this.call.on('error', (error: ServiceError) => {
        this.finish(this.failure ?? new StreamFailure(error.code ?? status.UNKNOWN, error.details ?? error.message));
        resolve(this.failure);
      });
      this.call.on('status', (s: { code: status; details: string }) => {
        if (s.code !== status.OK) return; // 'error' follows
        this.finish(
          this.pending.size > 0
            ? new StreamFailure(
                status.DATA_LOSS,
                `the extension ended the stream with ${this.pending.size} samples unanswered`,
              )
            : undefined,
        );
        resolve(this.failure);
      });
    });
    this.write({ mediaStreamDescriptor: descriptor });
  }

  /** Whether samples can still be sent on this stream. */
  get open(): boolean {
    return !this.over;
  }

  sample(timestamp: number, content: Content): Promise<ProtoInference[]> {
    if (this.over) return Promise.reject(this.failure ?? new StreamFailure(status.CANCELLED, 'the stream is closed'));
    return new Promise((resolve, reject) => {
      const sequence = this.write({ mediaSample: { timestamp, ...content } });
      const timer = setTimeout(() => {
        this.breakWith(
          new StreamFailure(
            status.DEADLINE_EXCEEDED,
            `sample ${sequence} was not acked within ${this.ackTimeoutMs} ms`,
          ),
        );
      }, this.ackTimeoutMs);
      this.pending.set(sequence, { resolve, reject, timer });
    });
  }

  /**
   * Half-closes: the server answers what was sent, then ends the stream; resolves when it is over. A server that
   * keeps the stream open past `ackTimeoutMs` has it cancelled, so that a pipeline always gets to exit.
   */
  async end(): Promise<StreamFailure | undefined> {
    if (this.over) return this.ended;
    this.call.end();
    const timer = setTimeout(() => {
      this.breakWith(
        new StreamFailure(
          status.DEADLINE_EXCEEDED,
          `the stream was not ended within ${this.ackTimeoutMs} ms of our half-close`,
        ),
      );
    }, this.ackTimeoutMs);
    try {
      return await this.ended;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Ends the stream now (the server sees CANCELLED); pending samples fail with `failure`. */
  breakWith(failure: StreamFailure): void {
    if (this.over) return;
    this.failure = failure;
    this.call.cancel();
  }

  private write(message: StreamMessage): number {
    const sequenceNumber = this.nextSequence++;
    this.call.write({ sequenceNumber, ...message });
    return sequenceNumber;
  }

  private onMessage(message: StreamMessage): void {
    if (message.payload === 'mediaStreamDescriptor') {
      this.extensionIdentifier = message.mediaStreamDescriptor?.extensionIdentifier;
      return;
    }
    const entry = this.pending.get(message.ackSequenceNumber ?? 0);
    if (entry === undefined) return; // an ack of the descriptor, or of nothing we sent: nothing waits for it
    this.pending.delete(message.ackSequenceNumber ?? 0);
    clearTimeout(entry.timer);
    entry.resolve(message.mediaSample?.inferences ?? []);
  }

  private finish(failure: StreamFailure | undefined): void {
    if (this.over) return;
    this.over = true;
    this.failure ??= failure;
    const reason = this.failure ?? new StreamFailure(status.DATA_LOSS, 'the stream ended');
    for (const entry of this.pending.values()) {
      clearTimeout(entry.timer);
      entry.reject(reason);
    }
    this.pending.clear();
  }
}
