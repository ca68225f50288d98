import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

/** Why the front end closed a connection itself. */
export type SlotCloseReason = 'evicted' | 'refused-address' | 'refused-full' | 'drain' | 'no-request';

interface Slot {
  socket: Socket;
  address: string;
  /** Requests whose headers arrived and whose answer is not finished yet. */
  requests: number;
  /** The request being answered, to tell a drain whether its body is still arriving. */
  current: IncomingMessage | undefined;
  response: ServerResponse | undefined;
  /** A request came on this connection once: an idle keep-alive connection, not one that never spoke. */
  served: boolean;
  /** Closes the connection if its first request's headers have not arrived by then. */
  firstRequest: NodeJS.Timeout | undefined;
}

export interface SlotLimits {
  /** Connections open at once. */
  max: number;
  /** Connections open at once from one remote address. */
  perAddress: number;
  /**
   * A connection must have sent its first request's headers within this of connecting. Node's own headers timeout
   * only starts at the first byte: a connection that never sends one would be kept for ever.
   */
  firstRequestMs: number;
}

/**
 * Connection slots, counted by the front end instead of Node's `maxConnections` (which refuses the newcomer, so a
 * thousand idle sockets lock out every client, health probes included). As nginx does when it runs out of
 * connections, a newcomer over a limit takes the slot of the oldest connection that has no request in progress:
 * first those that never sent one (a bare connect, a TLS handshake never finished, headers trickling in), then idle
 * keep-alive ones. Only when every slot is answering a request is the newcomer refused. The header, handshake and
 * keep-alive timeouts close such connections anyway; this keeps the slots usable until they do.
 */
export class ConnectionSlots {
  private readonly limits: SlotLimits;
  /** In arrival order: the first match is the oldest. */
  private readonly slots = new Map<Socket, Slot>();
  private readonly byAddress = new Map<string, number>();
  private readonly onClose: (reason: SlotCloseReason) => void;
  private draining = false;

  constructor(server: Server, limits: SlotLimits, onClose: (reason: SlotCloseReason) => void) {
    this.limits = limits;
    this.onClose = onClose;
    // Before the HTTP (or TLS) layer sees the socket: a refused one costs nothing more.
    server.prependListener('connection', (socket: Socket) => this.admit(socket));
    server.on('request', (request: IncomingMessage, response: ServerResponse) => this.started(request, response));
  }

  get open(): number {
    return this.slots.size;
  }

  /**
   * Shutdown: closes at once every connection that has no request, or whose request's body is still arriving (it
   * was not accepted yet), and every other one as soon as its answer is written. New connections are still taken,
   * so that late clients are answered 503 (draining) rather than refused at the TCP level.
   */
  drain(): void {
    this.draining = true;
    for (const slot of [...this.slots.values()]) {
      if (slot.requests === 0 || slot.current?.complete === false) this.close(slot, 'drain');
      else if (slot.response !== undefined && !slot.response.headersSent) slot.response.shouldKeepAlive = false;
    }
  }

  private admit(socket: Socket): void {
    const address = socket.remoteAddress ?? '';
    const fromAddress = this.byAddress.get(address) ?? 0;
    if (fromAddress >= this.limits.perAddress && !this.evict((s) => s.address === address)) {
      this.refuse(socket, 'refused-address');
      return;
    }
    if (this.slots.size >= this.limits.max && !this.evict(() => true)) {
      this.refuse(socket, 'refused-full');
      return;
    }
    const slot: Slot = {
      socket,
      address,
      requests: 0,
      current: undefined,
      response: undefined,
      served: false,
      firstRequest: undefined,
    };
    this.awaitFirstRequest(slot, false);
    this.slots.set(socket, slot);
    this.byAddress.set(address, (this.byAddress.get(address) ?? 0) + 1);
    socket.once('close', () => this.release(slot));
  }

  /**
   * A connection that sent bytes but no complete head yet is Node's to time out (it answers 408 from the first byte
   * on); it gets one more period for that, and is closed here only if it is still silent after it (e.g. a TLS
   * connection that finished its handshake and sent nothing more).
   */
  private awaitFirstRequest(slot: Slot, rearmed: boolean): void {
    slot.firstRequest = setTimeout(() => {
      if (!rearmed && slot.socket.bytesRead > 0) this.awaitFirstRequest(slot, true);
      else this.close(slot, 'no-request');
    }, this.limits.firstRequestMs);
    slot.firstRequest.unref();
  }

  private started(request: IncomingMessage, response: ServerResponse): void {
    const slot = this.slots.get(rawSocket(request.socket));
    if (slot === undefined) return;
    slot.requests++;
    slot.served = true;
    clearTimeout(slot.firstRequest);
    slot.current = request;
    slot.response = response;
    // Connection: close tells the client not to reuse a connection the drain is about to close.
    if (this.draining) response.shouldKeepAlive = false;
    response.once('close', () => {
      slot.requests--;
      if (slot.current === request) {
        slot.current = undefined;
        slot.response = undefined;
      }
      // The answer is written: a draining server lets the connection go rather than keep it alive.
      if (this.draining && slot.requests === 0) slot.socket.destroySoon();
    });
  }

  /** Closes the oldest matching connection without a request in progress; false when there is none. */
  private evict(match: (slot: Slot) => boolean): boolean {
    let idle: Slot | undefined;
    for (const slot of this.slots.values()) {
      if (slot.requests > 0 || !match(slot)) continue;
      if (!slot.served) {
        this.close(slot, 'evicted');
        return true;
      }
      idle ??= slot;
    }
    if (idle === undefined) return false;
    this.close(idle, 'evicted');
    return true;
  }

  private close(slot: Slot, reason: SlotCloseReason): void {
    if (this.slots.get(slot.socket) !== slot) return;
    this.release(slot);
    slot.socket.destroy();
    this.onClose(reason);
  }

  private refuse(socket: Socket, reason: SlotCloseReason): void {
    socket.destroy();
    this.onClose(reason);
  }

  private release(slot: Slot): void {
    clearTimeout(slot.firstRequest);
    if (this.slots.get(slot.socket) !== slot) return;
    this.slots.delete(slot.socket);
    const left = (this.byAddress.get(slot.address) ?? 1) - 1;
    if (left === 0) this.byAddress.delete(slot.address);
    else this.byAddress.set(slot.address, left);
  }
}

/** A request's socket is the TLS socket on HTTPS; the slot is kept under the TCP socket it wraps. */
function rawSocket(socket: Socket): Socket {
  return (socket as Socket & { _parent?: Socket })._parent ?? socket;
}
