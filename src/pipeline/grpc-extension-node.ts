import { FORMAT_SPECS } from '../contract/pixel-format.js';
import { HxError } from '../errors.js';
import { fromProtoInference, type StreamMessage } from '../schema/grpc-inference.js';
import { ExtensionNode, type ExtensionNodeOptions } from './extension-node.js';
import type { MediaItem, NodeContext } from './graph.js';
import type { ExtensionClient, ExtensionStream } from './grpc-stream.js';
import type { EncodedImage } from './image-encoder.js';
import { SharedMemoryRing } from './shared-memory-ring.js';
import type { GrpcExtensionSpec, ImageFormatSpec } from './topology.js';
import type { VideoFrame } from './video-source.js';

/**
 * Samples in flight at most on a live stream. The contract lets a client pipeline samples; a few cover the round
 * trip without letting a slow extension queue frames that are stale by the time it reaches them.
 */
export const GRPC_WINDOW = 4;

type SampleFormat = NonNullable<
  NonNullable<NonNullable<StreamMessage['mediaStreamDescriptor']>['mediaDescriptor']>['videoFrameSampleFormat']
>;

/** The loaded gRPC side of a node: the module, the endpoint's client and the call metadata. */
interface Transport {
  grpc: typeof import('./grpc-stream.js');
  client: ExtensionClient;
  metadata: import('@grpc/grpc-js').Metadata;
}

/**
 * The `GrpcExtension` node: one `ProcessMediaStream` per node, opened at the first frame (the descriptor carries the
 * geometry of the images sent, known only then) and reopened when that geometry changes or the stream failed. Frames
 * travel embedded or through a shared memory ring this node creates in /dev/shm; acks carry the inferences,
 * published as the HTTP node publishes its 200 answers (an ack without inferences is the gRPC 204). Sampling,
 * encoding and the bound on frames in flight are ExtensionNode's.
 */
export class GrpcExtensionNode extends ExtensionNode {
  /**
   * grpc-js and the contract's protobuf loading are most of a pipeline's start: loaded by the first gRPC node, so
   * that a topology without one never pays for them. Started here, awaited by the first frame.
   */
  private readonly transport: Promise<Transport>;
  private stream: ExtensionStream | undefined;
  private streamFormat = '';
  private ring: SharedMemoryRing | undefined;

  constructor(
    override readonly spec: GrpcExtensionSpec,
    context: NodeContext,
    emit: (item: MediaItem) => Promise<void>,
    options: ExtensionNodeOptions,
  ) {
    super(spec, context, emit, options, options.live ? GRPC_WINDOW : 1);
    this.transport = import('./grpc-stream.js').then((grpc) => ({ grpc, ...grpc.endpointClient(spec) }));
    // Awaited (and so reported) by send() and release(); never an unhandled rejection meanwhile.
    this.transport.catch(() => {});
  }

  protected async send(frame: VideoFrame, image: EncodedImage): Promise<unknown[] | undefined> {
    let stream: ExtensionStream;
    let offset: number | undefined;
    let transport: Transport;
    try {
      transport = await this.transport;
      stream = this.streamFor(transport, image);
      if (this.ring !== undefined) {
        offset = this.ring.allocate(image.body.length);
        if (offset === undefined) return this.noRoom(image);
        try {
          this.ring.write(offset, image.body);
        } catch (error) {
          // tmpfs full (ENOSPC): the region holds nothing the extension will read.
          this.ring.release(offset);
          throw error;
        }
      }
    } catch (error) {
      this.context.notice(`${this.spec.name}: ${String(error)}`);
      await this.protocolError('grpc', (error as { code?: string }).code ?? 'Error', String(error));
      return undefined;
    }
    try {
      const content =
        offset === undefined
          ? { contentBytes: { bytes: image.body } }
          : { contentReference: { addressOffset: offset, lengthBytes: image.body.length } };
      const answer = await stream.sample(frame.pts90k, content);
      this.counters.answered++;
      const inferences: unknown[] = [];
      for (const proto of answer) {
        try {
          inferences.push(fromProtoInference(proto));
        } catch (error) {
          this.context.notice(`${this.spec.name}: ${String(error)}: not published`);
        }
      }
      if (inferences.length === 0) return this.nothingFound(frame);
      const unpadded = this.unpad(inferences, image);
      await this.answer(frame, { inferences: unpadded });
      return unpadded;
    } catch (error) {
      await this.streamFailed(transport, stream, error);
      return undefined;
    } finally {
      if (offset !== undefined) this.ring?.release(offset);
    }
  }

  protected async release(): Promise<void> {
    const stream = this.stream;
    this.stream = undefined;
    const transport = await this.transport.catch(() => undefined);
    const failure = await stream?.end();
    if (failure !== undefined && stream !== undefined && transport !== undefined) {
      await this.streamFailed(transport, stream, failure);
    }
    transport?.client.close();
    this.ring?.close();
  }

  /** The open stream for images like this one, opening (or reopening) it as needed. */
  private streamFor(transport: Transport, image: EncodedImage): ExtensionStream {
    const format = sampleFormat(this.spec.format, image);
    const key = JSON.stringify(format);
    if (this.stream?.open && this.streamFormat === key) return this.stream;
    if (this.stream?.open) void this.stream.end(); // geometry changed (a reconnected camera): a new descriptor
    if (this.spec.dataTransfer.mode === 'sharedMemory' && this.ring === undefined) {
      this.ring = new SharedMemoryRing(
        `httpextension-${this.context.naming.pipelineName}-${this.spec.name}`,
        this.spec.dataTransfer.sizeMiB * 1024 * 1024,
      );
    }
    this.stream = new transport.grpc.ExtensionStream(
      transport.client,
      transport.metadata,
      {
        graphIdentifier: {
          mediaServicesArmId: '',
          graphInstanceName: this.context.naming.pipelineName,
          graphNodeName: this.spec.name,
        },
        extensionConfiguration: this.spec.extensionConfiguration,
        mediaDescriptor: { timescale: 90_000, videoFrameSampleFormat: format },
        ...(this.ring === undefined
          ? {}
          : {
              sharedMemoryBufferTransferProperties: {
                handleName: this.ring.handleName,
                lengthBytes: this.ring.sizeBytes,
              },
            }),
      },
      this.options.requestTimeoutMs,
    );
    this.streamFormat = key;
    return this.stream;
  }

  private async noRoom(image: EncodedImage): Promise<undefined> {
    if (image.body.length > this.ring!.sizeBytes) {
      const message = `a ${image.body.length}-byte frame does not fit in the ${this.ring!.sizeBytes}-byte shared memory: raise dataTransfer.sharedMemorySizeMiB`;
      this.context.notice(`${this.spec.name}: ${message}`);
      await this.protocolError('grpc', 'SharedMemoryTooSmall', message);
      return undefined;
    }
    // Every region holds a frame the extension has not acked yet: this frame is skipped, as a busy window skips one.
    this.counters.sent--;
    this.counters.dropped++;
    return undefined;
  }

  /** One diagnostics event per failed stream; back-off before the next one; refused credentials end the pipeline. */
  private async streamFailed(transport: Transport, stream: ExtensionStream, error: unknown): Promise<void> {
    if (this.stream === stream) this.stream = undefined;
    if (stream.reported) return;
    stream.reported = true;
    const failure = transport.grpc.StreamFailure.of(error);
    this.context.notice(`${this.spec.name}: ${this.spec.endpoint.url}: ${failure.message}`);
    await this.protocolError('grpc', failure.codeName, failure.details);
    this.backoffUntil = Date.now() + this.options.retryAfterDefaultSecs * 1000;
    if (failure.refusesCredentials) {
      this.context.fail(
        new HxError(
          'HX_ERR_PIPELINE_EXTENSION',
          `${this.spec.name}: ${this.spec.endpoint.url} ended the stream ${failure.codeName} (${failure.details}): stopping this pipeline`,
        ),
      );
    }
  }
}

/** The descriptor's `video_frame_sample_format` for the images the node sends. */
function sampleFormat(format: ImageFormatSpec, image: EncodedImage): SampleFormat {
  const { inputWidth: width, inputHeight: height } = image.placement;
  const dimensions = { width, height };
  switch (format.kind) {
    case 'raw':
      return {
        encoding: 'RAW',
        pixelFormat: format.pixelFormat.toUpperCase(),
        dimensions,
        strideBytes: width * FORMAT_SPECS[format.pixelFormat].bytesPerPixel,
      };
    case 'jpeg':
      return { encoding: 'JPG', dimensions };
    case 'png':
      return { encoding: 'PNG', dimensions };
    case 'bmp':
      return { encoding: 'BMP', dimensions };
  }
}
