import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { ConnectionSlots, type SlotCloseReason, type SlotLimits } from '../connection-slots.js';

interface Exchange {
  request: IncomingMessage;
  response: ServerResponse;
}

/** The HTTP (and HTTPS) port's connection slots: a request is the unit of work. */
export class HttpConnectionSlots {
  private readonly slots: ConnectionSlots<Exchange>;

  constructor(
    server: Server,
    limits: Pick<SlotLimits<Exchange>, 'max' | 'perAddress' | 'firstWorkMs'>,
    onClose: (reason: SlotCloseReason) => void,
  ) {
    this.slots = new ConnectionSlots(
      {
        ...limits,
        // Node's own headers timeout runs from a connection's first byte: one that sent some gets that long more.
        graceAfterBytes: true,
        // A body still arriving was not accepted: a newcomer may take its slot once no idle connection is left.
        unaccepted: ({ request }) => !request.complete,
      },
      onClose,
    );
    // Before the HTTP (or TLS) layer sees the socket: a refused one costs nothing more.
    server.prependListener('connection', (socket: Socket) => this.slots.admit(socket));
    server.on('request', (request: IncomingMessage, response: ServerResponse) => this.started(request, response));
  }

  /**
   * Shutdown: closes at once every connection that has no request, or whose request's body is still arriving (it
   * was not accepted yet), and every other one as soon as its answer is written.
   */
  drain(): void {
    this.slots.drain(({ response }) => {
      // Connection: close tells the client not to reuse a connection the drain is about to close.
      if (!response.headersSent) response.shouldKeepAlive = false;
    });
  }

  private started(request: IncomingMessage, response: ServerResponse): void {
    const socket = rawSocket(request.socket);
    const exchange = { request, response };
    if (!this.slots.begin(socket, exchange)) return;
    if (this.slots.draining) response.shouldKeepAlive = false;
    response.once('close', () => {
      // The answer is written: a draining server lets the connection go rather than keep it alive.
      if (this.slots.end(socket, exchange) && this.slots.draining) socket.destroySoon();
    });
  }
}

/** A request's socket is the TLS socket on HTTPS; the slot is kept under the TCP socket it wraps. */
function rawSocket(socket: Socket): Socket {
  return (socket as Socket & { _parent?: Socket })._parent ?? socket;
}
