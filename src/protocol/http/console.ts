import type { FastifyInstance, FastifyReply } from 'fastify';
import type { Config } from '../../config/defaults.js';
import { CONSOLE_ASSETS, CONSOLE_HEADERS, consoleHtml } from '../../console/assets.js';
import { FrameRings } from '../../console/frame-rings.js';
import { LiveViewers } from '../../console/live.js';
import { redactOptions } from '../../console/redact.js';
import { HxError } from '../../errors.js';
import type { InferenceEngine } from '../../inference/engine.js';
import type { Metrics } from '../../observability/metrics.js';
import { ConsoleGroup, frameIdsOf, imageOf, type ProcessView } from './console-group.js';
import { replyError } from './reply-error.js';

/**
 * The console's paths: each is behind the server's auth schemes (see auth-hook.ts), like the inference routes. `/`
 * is the console for a browser (server.ts), the server's index for everyone else.
 */
export const CONSOLE_PATHS = [
  '/',
  '/console/',
  '/console/app.js',
  '/console/app.css',
  '/console/api/state',
  '/console/api/live',
  '/console/api/frames/:id',
] as const;

/** Media kinds a browser shows as they are; raw pixels are announced without an image. */
const SHOWABLE: Readonly<Record<string, string>> = { jpeg: 'image/jpeg', png: 'image/png', bmp: 'image/bmp' };

/** The console page itself. */
export function sendConsolePage(reply: FastifyReply): FastifyReply {
  return reply.headers(CONSOLE_HEADERS).type('text/html; charset=utf-8').send(consoleHtml('server'));
}

/** A browser asking for a page (its Accept names text/html), not a script or a probe. */
export function wantsPage(accept: string | undefined): boolean {
  return accept !== undefined && /(^|,)\s*text\/html\s*(;|,|$)/i.test(accept);
}

/**
 * The web console (`GET /console/`, and `GET /` for browsers): the page and its three feeds, all read from the engine's own API and the server's
 * metrics. Frames reach it as the engine's `answered` events; their bytes are kept only for streams a viewer watches.
 */
export function installConsole(
  app: FastifyInstance,
  config: Readonly<Config>,
  engine: InferenceEngine,
  metrics: Metrics,
): void {
  const group = engine.group();
  const rings = new FrameRings(undefined, group === undefined ? undefined : frameIdsOf(group));
  const live = new LiveViewers(rings);
  const view = async (): Promise<ProcessView> => ({
    engine: engine.state(),
    figures: await metrics.routeFigures(),
    streams: rings.streams(),
    viewers: live.count,
    heldBytes: rings.heldBytes,
  });
  // In a supervised group the console shows every process's streams and figures (console-group.ts).
  const peers = group === undefined ? undefined : new ConsoleGroup(group, rings, live, view);
  engine.watchFrames((_route, stream) => live.watching(stream) || peers?.watchedElsewhere(stream) === true);
  engine.on('answered', (frame) => {
    const shown =
      frame.image ??
      (frame.body === undefined ? undefined : { mediaType: SHOWABLE[frame.media.kind], bytes: frame.body });
    const stored = rings.add({
      stream: frame.stream,
      source: frame.route,
      at: frame.at,
      mediaType: shown?.mediaType,
      width: frame.media.width,
      height: frame.media.height,
      bytes: shown?.mediaType === undefined ? new Uint8Array(0) : shown.bytes,
      json: frame.json,
      drawn: frame.image !== undefined,
    });
    live.publish(stored);
    peers?.announce(stored);
  });
  app.addHook('preClose', async () => live.closeAll());

  const security = CONSOLE_HEADERS;
  app.get('/console/', async (_request, reply) => sendConsolePage(reply));
  for (const [path, asset] of Object.entries(CONSOLE_ASSETS)) {
    app.get(path, async (_request, reply) => reply.headers(security).type(asset.type).send(asset.body()));
  }

  const lanes = engine.lanes();
  const routes = config.routes.map((route) => ({
    path: route.path,
    processor: route.processor,
    options: redactOptions(route.options ?? {}),
    annotate: route.annotate === true,
    runs: lanes[route.path] ?? '',
  }));
  app.get('/console/api/state', async (_request, reply) => {
    const own = await view();
    const seen = peers === undefined ? { ...own, processes: 1 } : await peers.state(own);
    const { engine: state, figures, streams, viewers, heldBytes, processes } = seen;
    return reply
      .headers(security)
      .send({ kind: 'server', at: Date.now(), engine: state, processes, routes, figures, streams, viewers, heldBytes });
  });

  app.get<{ Querystring: { stream?: string } }>('/console/api/live', async (request, reply) => {
    const stream = typeof request.query.stream === 'string' ? request.query.stream : '';
    const refused = live.refusal(stream);
    if (refused !== undefined) return replyError(reply, request, refused);
    const kept = peers === undefined ? [] : await peers.recent(stream);
    // The event stream is written by LiveViewers on the raw response, for as long as the viewer stays.
    reply.hijack();
    live.open(reply.raw, stream, kept);
    return reply;
  });

  app.get<{ Params: { id: string } }>('/console/api/frames/:id', async (request, reply) => {
    const id = /^\d{1,15}$/.test(request.params.id) ? Number(request.params.id) : undefined;
    const frame = id === undefined ? undefined : peers === undefined ? imageOf(rings, id) : await peers.bytes(id);
    if (frame === undefined) {
      return replyError(reply, request, new HxError('HX_ERR_HTTP_NOT_FOUND', 'That frame is no longer kept'));
    }
    return reply
      .headers({ ...security, 'cache-control': 'private, max-age=3600, immutable' })
      .type(frame.mediaType)
      .send(Buffer.from(frame.bytes));
  });
}
