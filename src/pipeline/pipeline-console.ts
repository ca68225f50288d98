import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CONSOLE_ASSETS, CONSOLE_HEADERS, consoleHtml } from '../console/assets.js';
import { FrameRings } from '../console/frame-rings.js';
import { LiveViewers } from '../console/live.js';
import { HxError } from '../errors.js';

/** What the runner's console shows of one live pipeline. */
export interface PipelineStatus {
  name: string;
  topology: string;
  state: 'starting' | 'running' | 'stopping' | 'ended' | 'failed';
  framesSent: number;
  answers: number;
  messages: number;
  errors: number;
  /** Why it failed, what it is recording, ... */
  detail: string;
}

/** A frame an extension node sent and what it answered, in the source frame's coordinates. */
export interface AnsweredSample {
  pipeline: string;
  node: string;
  mediaType: string | undefined;
  width: number;
  height: number;
  bytes: Uint8Array;
  /** `{"inferences":[...]}` as published, undefined for "no result" (204). */
  json: string | undefined;
}

/**
 * `httpextension pipeline ... --console PORT`: the server's console page over the runner's live pipelines: each
 * pipeline's state and counts, and the frames its extension nodes sent with the answers drawn (a stream per
 * pipeline). Plain HTTP on loopback unless told otherwise (it has no authentication of its own: it shows camera
 * frames, so expose it only where the cameras could be seen).
 */
export class PipelineConsole {
  private readonly rings = new FrameRings();
  private readonly live = new LiveViewers(this.rings);
  private readonly server: Server;

  constructor(private readonly statuses: () => PipelineStatus[]) {
    this.server = createServer((req, res) => this.handle(req, res));
    // Connections that never send a request must not hold a slot (and the process) for long.
    this.server.headersTimeout = 10_000;
    this.server.requestTimeout = 30_000;
  }

  /** True when someone watches the pipeline: only then is it worth encoding its frames. */
  watching(pipeline: string): boolean {
    return this.live.watching(pipeline);
  }

  record(sample: AnsweredSample): void {
    const frame = this.rings.add({
      stream: sample.pipeline,
      source: sample.node,
      at: Date.now(),
      mediaType: sample.mediaType,
      width: sample.width,
      height: sample.height,
      bytes: sample.bytes,
      json: sample.json,
      drawn: false,
    });
    this.live.publish(frame);
  }

  async listen(port: number, host: string): Promise<string> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => resolve());
    });
    const address = this.server.address() as AddressInfo;
    const shown = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    return `http://${shown}:${address.port}/`;
  }

  async close(): Promise<void> {
    this.live.closeAll();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeAllConnections();
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://console');
    const asset = CONSOLE_ASSETS[url.pathname];
    const frameId = /^\/console\/api\/frames\/(\d{1,15})$/.exec(url.pathname)?.[1];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      answerError(
        res,
        new HxError('HX_ERR_HTTP_METHOD_NOT_ALLOWED', 'The console only answers GET', { headers: { allow: 'GET' } }),
      );
    } else if (url.pathname === '/') {
      send(res, 'text/html; charset=utf-8', consoleHtml('pipeline'));
    } else if (asset !== undefined) {
      send(res, asset.type, asset.body());
    } else if (url.pathname === '/console/api/state') {
      send(res, 'application/json; charset=utf-8', JSON.stringify(this.state()));
    } else if (url.pathname === '/console/api/live') {
      this.openLive(res, url.searchParams.get('stream') ?? '');
    } else if (frameId !== undefined) {
      const frame = this.rings.frame(Number(frameId));
      if (frame?.mediaType !== undefined && frame.bytes.byteLength > 0) {
        res.writeHead(200, { ...CONSOLE_HEADERS, 'content-type': frame.mediaType });
        res.end(frame.bytes);
      } else {
        answerError(res, new HxError('HX_ERR_HTTP_NOT_FOUND', 'That frame is no longer kept'));
      }
    } else {
      answerError(res, new HxError('HX_ERR_HTTP_NOT_FOUND', `No route at ${url.pathname}`));
    }
  }

  private state() {
    const pipelines = this.statuses();
    return {
      kind: 'pipeline',
      at: Date.now(),
      running: pipelines.filter((p) => p.state === 'running').length,
      pipelines,
      streams: this.rings.streams(),
      viewers: this.live.count,
      heldBytes: this.rings.heldBytes,
    };
  }

  private openLive(res: ServerResponse, stream: string): void {
    const refused = this.live.refusal(stream);
    if (refused !== undefined) answerError(res, refused);
    else this.live.open(res, stream);
  }
}

function send(res: ServerResponse, type: string, body: string): void {
  res.writeHead(200, { ...CONSOLE_HEADERS, 'content-type': type });
  res.end(body);
}

/** An error in the server's shape (docs/errors.md), so one client reads both consoles' errors alike. */
function answerError(res: ServerResponse, error: HxError): void {
  const { status, headers, body } = error.answer('');
  res.writeHead(status, { ...headers, 'content-type': 'application/json; charset=utf-8' });
  res.end(JSON.stringify(body));
}
