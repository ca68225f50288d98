import { randomUUID } from 'node:crypto';
import { checkServerIdentity, type TLSSocket } from 'node:tls';
import { Agent, buildConnector, type Dispatcher, request } from 'undici';
import { DigestSession, parseChallenges, pickDigest } from '../client/digest-auth.js';
import { HxError } from '../errors.js';
import { ExtensionNode, type ExtensionNodeOptions } from './extension-node.js';
import type { MediaItem, NodeContext } from './graph.js';
import type { EncodedImage } from './image-encoder.js';
import type { HttpExtensionSpec } from './topology.js';
import type { VideoFrame } from './video-source.js';

export type HttpExtensionNodeOptions = ExtensionNodeOptions;

/** What the vendor's node sent as User-Agent (protocol.md); some extensions log or check it. */
export const USER_AGENT = 'Azure Media Services';

/**
 * The `HttpExtension` node: POSTs frames one at a time, and turns answers into events downstream (200), nothing
 * (204), back-off (503) or ProtocolError diagnostics (other errors). Sampling, encoding and the bound on frames in
 * flight (one) are ExtensionNode's.
 */
export class HttpExtensionNode extends ExtensionNode {
  private readonly dispatcher: Agent;
  private digest: DigestSession | undefined;
  private readonly target: URL;

  constructor(
    override readonly spec: HttpExtensionSpec,
    context: NodeContext,
    emit: (item: MediaItem) => Promise<void>,
    options: HttpExtensionNodeOptions,
  ) {
    super(spec, context, emit, options, 1);
    this.target = new URL(spec.endpoint.url);
    const tls = spec.endpoint.tls;
    const tlsOptions = tls
      ? {
          ...(tls.trustedCertificates.length > 0 ? { ca: tls.trustedCertificates } : {}),
          rejectUnauthorized: !tls.ignoreSignature,
          ...(tls.ignoreHostname ? { checkServerIdentity: () => undefined } : {}),
        }
      : {};
    this.dispatcher = new Agent({
      keepAliveTimeout: 30_000,
      connections: 1,
      connect: tls?.ignoreSignature && !tls.ignoreHostname ? hostnameOnlyConnector(tlsOptions) : tlsOptions,
    });
  }

  protected async release(): Promise<void> {
    await this.dispatcher.close();
  }

  protected async send(frame: VideoFrame, image: EncodedImage): Promise<unknown[] | undefined> {
    try {
      let answer = await this.post(image);
      if (answer.status === 401 && this.answerChallenge(answer.headers['www-authenticate'])) {
        answer = await this.post(image);
      }
      return await this.handle(answer, frame, image);
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      const message = error instanceof Error ? error.message : String(error);
      this.context.notice(`${this.spec.name}: ${this.target.href}: ${message}`);
      await this.protocolError('http', typeof code === 'string' ? code : 'NetworkError', message);
      return undefined;
    }
  }

  /** Starts (or renews, on a stale nonce) a Digest session from a 401 challenge; false when there is none to answer. */
  private answerChallenge(header: string | string[] | undefined): boolean {
    const credentials = this.spec.endpoint.credentials;
    if (credentials?.kind !== 'usernamePassword') return false;
    const challenge = pickDigest(parseChallenges(header));
    if (challenge === undefined) return false;
    const renewing = this.digest !== undefined;
    const session = new DigestSession(challenge, credentials.username ?? '', credentials.password ?? '');
    // A second 401 for a session we already had is only worth a retry when the server says the nonce is stale.
    if (renewing && !session.stale) {
      this.digest = undefined;
      return false;
    }
    this.digest = session;
    return true;
  }

  private async post(
    image: EncodedImage,
  ): Promise<{ status: number; headers: Dispatcher.ResponseData['headers']; text: string; contentType: string }> {
    const headers: Record<string, string> = {
      'content-type': image.contentType,
      // What each vendor generation sent (LVA 1.0 / 2.0 also accepted anything).
      accept: this.context.naming.lva ? 'application/json, */*' : 'application/json',
      'user-agent': USER_AGENT,
      'x-ms-client-request-id': randomUUID(),
    };
    const credentials = this.spec.endpoint.credentials;
    if (credentials?.kind === 'httpHeader') {
      headers[credentials.headerName!.toLowerCase()] = credentials.headerValue!;
    } else if (credentials?.kind === 'usernamePassword') {
      headers.authorization = this.digest
        ? this.digest.authorization('POST', `${this.target.pathname}${this.target.search}`)
        : `Basic ${Buffer.from(`${credentials.username}:${credentials.password}`).toString('base64')}`;
    }
    const response = await request(this.target, {
      method: 'POST',
      body: image.body,
      headers,
      dispatcher: this.dispatcher,
      headersTimeout: this.options.requestTimeoutMs,
      bodyTimeout: this.options.requestTimeoutMs,
    });
    const bytes = Buffer.from(await response.body.arrayBuffer());
    const contentType = String(response.headers['content-type'] ?? '');
    return {
      status: response.statusCode,
      headers: response.headers,
      contentType,
      text:
        /json|text|xml/i.test(contentType) || contentType === '' ? bytes.toString('utf8') : bytes.toString('base64'),
    };
  }

  private async handle(
    answer: { status: number; headers: Dispatcher.ResponseData['headers']; text: string; contentType: string },
    frame: VideoFrame,
    image: EncodedImage,
  ): Promise<unknown[] | undefined> {
    const { status } = answer;
    if (status === 204) {
      this.counters.answered++;
      return this.nothingFound(frame);
    }
    if (status >= 200 && status < 300) {
      this.counters.answered++;
      let parsed: unknown;
      try {
        parsed = /json/i.test(answer.contentType) ? JSON.parse(answer.text) : undefined;
      } catch {
        parsed = undefined;
      }
      let body: Record<string, unknown>;
      let inferences: unknown[] = [];
      if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed)) {
        // JSON objects go on as they are (protocol.md): extra top-level keys kept, and an object outside the
        // inference schema forwarded rather than wrapped.
        body = { ...(parsed as Record<string, unknown>) };
        if (Array.isArray(body.inferences)) {
          inferences = this.unpad(body.inferences, image);
          body.inferences = inferences;
        }
      } else {
        // Not JSON (or not an object): the vendor forwarded such answers wrapped as opaque bytes.
        const bytes = /json|text|xml/i.test(answer.contentType)
          ? Buffer.from(answer.text, 'utf8').toString('base64')
          : answer.text;
        inferences = [
          {
            type: 'other',
            other: { contentType: answer.contentType || 'application/octet-stream', contentBytes: bytes },
          },
        ];
        body = { inferences };
      }
      await this.answer(frame, body);
      return inferences;
    }
    if (status !== 503) {
      // Echoed like network errors: an operator watching stderr sees why nothing is published.
      this.context.notice(`${this.spec.name}: ${this.target.href}: HTTP ${status}: ${answer.text.slice(0, 200)}`);
    }
    if (status === 503) {
      const seconds = retryAfterSeconds(answer.headers['retry-after']) ?? this.options.retryAfterDefaultSecs;
      this.backoffUntil = Date.now() + seconds * 1000;
      this.context.notice(`${this.spec.name}: 503, backing off for ${seconds} s`);
    }
    await this.protocolError('http', String(status), answer.text);
    if (status === 401 || status === 403) {
      // Credentials the extension refuses stay refused: end the pipeline instead of failing every frame for ever.
      this.context.fail(
        new HxError(
          'HX_ERR_PIPELINE_EXTENSION',
          `${this.spec.name}: ${this.target.href} answered ${status} (${status === 401 ? 'credentials refused' : 'forbidden'}): stopping this pipeline`,
        ),
      );
    }
    return undefined;
  }
}

/**
 * `ignoreSignature` without `ignoreHostname`: the chain is not verified, the host name still is. Node checks the
 * host name only after a chain that verified, so with `rejectUnauthorized: false` it would check neither: the
 * connector checks it itself on the certificate the server presented.
 */
function hostnameOnlyConnector(options: buildConnector.BuildOptions): buildConnector.connector {
  const connect = buildConnector({ ...options, rejectUnauthorized: false });
  return (opts, callback) =>
    connect(opts, (error, socket) => {
      if (error !== null || socket === null) {
        callback(error ?? new Error('no socket'), null);
        return;
      }
      const problem = checkServerIdentity(opts.servername || opts.hostname, (socket as TLSSocket).getPeerCertificate());
      if (problem !== undefined) {
        socket.destroy();
        callback(problem, null);
        return;
      }
      callback(null, socket);
    });
}

/** Retry-After is delay-seconds or an HTTP-date (RFC 9110 section 10.2.3). */
export function retryAfterSeconds(header: string | string[] | undefined): number | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  if (value === undefined || value.trim() === '') return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim());
  const date = Date.parse(value);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, (date - Date.now()) / 1000);
}
