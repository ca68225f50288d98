import type { Socket } from 'node:net';
import type { Config } from '../config/defaults.js';

/** Why a front end closed a connection itself. */
export type SlotCloseReason = 'evicted' | 'refused-address' | 'refused-full' | 'drain' | 'no-request';

interface Slot<W> {
  socket: Socket;
  address: string;
  /** Work in progress on this connection: HTTP requests being answered, gRPC streams open. */
  work: Set<W>;
  /** Work came on this connection once: an idle keep-alive connection, not one that never spoke. */
  served: boolean;
  /** Closes the connection if no work has begun on it by then. */
  firstWork: NodeJS.Timeout | undefined;
}

export interface SlotLimits<W> {
  /** Connections open at once. */
  max: number;
  /** Connections open at once from one remote address. */
  perAddress: number;
  /**
   * A connection must have begun its first piece of work (an HTTP request's headers, a gRPC stream) within this of
   * connecting, TLS handshake included: a connection that never sends a byte would otherwise be kept for ever.
   */
  firstWorkMs: number;
  /**
   * A connection that has sent bytes by then gets one more period before it is closed (HTTP: Node times out a head
   * that is still arriving itself, and answers it 408).
   */
  graceAfterBytes: boolean;
  /**
   * Work that was not accepted yet (an HTTP body still arriving): a connection with only such work may be evicted,
   * after every idle one, so that slow uploads cannot hold every slot either. Work it does not name is never evicted.
   */
  unaccepted?: (work: W) => boolean;
}

/** The limits every listening port takes from the configuration. */
export function configuredSlotLimits(
  config: Readonly<Config>,
): Pick<SlotLimits<never>, 'max' | 'perAddress' | 'firstWorkMs'> {
  return {
    max: config.maxConnections,
    perAddress: config.maxConnectionsPerAddress,
    firstWorkMs: config.headersTimeoutMs,
  };
}

/**
 * Connection slots of one listening port, counted by the front end instead of Node's `maxConnections` (which
 * refuses the newcomer, so a thousand idle sockets lock out every client, health probes included). As nginx does
 * when it runs out of connections, a newcomer over a limit takes the slot of the oldest connection that has no work
 * in progress: first those that never began any (a bare connect, a TLS handshake never finished, headers trickling
 * in), then idle keep-alive ones. Only when every slot is busy is the newcomer refused. Protocol-neutral: a front
 * end calls `admit` for each accepted socket before its protocol sees it, and `begin`/`end` around each unit of work.
 */
export class ConnectionSlots<W> {
  private readonly limits: SlotLimits<W>;
  /** In arrival order: the first match is the oldest. */
  private readonly slots = new Map<Socket, Slot<W>>();
  private readonly byAddress = new Map<string, number>();
  private readonly onClose: (reason: SlotCloseReason) => void;
  private isDraining = false;

  constructor(limits: SlotLimits<W>, onClose: (reason: SlotCloseReason) => void) {
    this.limits = limits;
    this.onClose = onClose;
  }

  get draining(): boolean {
    return this.isDraining;
  }

  /** Takes a slot for a new connection, evicting an idle one if a limit is reached; false: refused and destroyed. */
  admit(socket: Socket): boolean {
    const address = socket.remoteAddress ?? '';
    const fromAddress = this.byAddress.get(address) ?? 0;
    if (fromAddress >= this.limits.perAddress && !this.evict((s) => s.address === address)) {
      this.refuse(socket, 'refused-address');
      return false;
    }
    if (this.slots.size >= this.limits.max && !this.evict(() => true)) {
      this.refuse(socket, 'refused-full');
      return false;
    }
    const slot: Slot<W> = { socket, address, work: new Set(), served: false, firstWork: undefined };
    this.awaitFirstWork(slot, false);
    this.slots.set(socket, slot);
    this.byAddress.set(address, fromAddress + 1);
    socket.once('close', () => this.release(slot));
    return true;
  }

  /** Work began on the connection of `socket` (the TCP socket `admit` saw); false if it holds no slot. */
  begin(socket: Socket, work: W): boolean {
    const slot = this.slots.get(socket);
    if (slot === undefined) return false;
    slot.work.add(work);
    slot.served = true;
    clearTimeout(slot.firstWork);
    return true;
  }

  /** The work is over; true when the connection has none left. */
  end(socket: Socket, work: W): boolean {
    const slot = this.slots.get(socket);
    if (slot === undefined) return false;
    slot.work.delete(work);
    return slot.work.size === 0;
  }

  /**
   * Shutdown: closes at once every connection that has no work in progress, and those with a piece of work that was
   * not accepted yet (`unaccepted`); `kept` sees each piece of work left to finish. New connections are still
   * admitted: a front end whose listener stays open (HTTP) answers late clients its "draining" rather than a refusal
   * at the TCP level.
   */
  drain(kept: (work: W) => void = () => {}): void {
    this.isDraining = true;
    const unaccepted = this.limits.unaccepted ?? (() => false);
    for (const slot of [...this.slots.values()]) {
      if (slot.work.size === 0 || [...slot.work].some(unaccepted)) this.close(slot, 'drain');
      else slot.work.forEach(kept);
    }
  }

  private awaitFirstWork(slot: Slot<W>, rearmed: boolean): void {
    slot.firstWork = setTimeout(() => {
      if (this.limits.graceAfterBytes && !rearmed && slot.socket.bytesRead > 0) this.awaitFirstWork(slot, true);
      else this.close(slot, 'no-request');
    }, this.limits.firstWorkMs);
    slot.firstWork.unref();
  }

  /**
   * Closes the oldest matching connection without work in progress (one that never had any first, then an idle
   * one), else the oldest whose work was all not accepted yet; false when there is none.
   */
  private evict(match: (slot: Slot<W>) => boolean): boolean {
    let idle: Slot<W> | undefined;
    let unaccepted: Slot<W> | undefined;
    const isUnaccepted = this.limits.unaccepted;
    for (const slot of this.slots.values()) {
      if (!match(slot)) continue;
      if (slot.work.size > 0) {
        if (unaccepted === undefined && isUnaccepted !== undefined && [...slot.work].every(isUnaccepted)) {
          unaccepted = slot;
        }
        continue;
      }
      if (!slot.served) {
        this.close(slot, 'evicted');
        return true;
      }
      idle ??= slot;
    }
    const victim = idle ?? unaccepted;
    if (victim === undefined) return false;
    this.close(victim, 'evicted');
    return true;
  }

  private close(slot: Slot<W>, reason: SlotCloseReason): void {
    if (this.slots.get(slot.socket) !== slot) return;
    this.release(slot);
    slot.socket.destroy();
    this.onClose(reason);
  }

  private refuse(socket: Socket, reason: SlotCloseReason): void {
    socket.destroy();
    this.onClose(reason);
  }

  private release(slot: Slot<W>): void {
    clearTimeout(slot.firstWork);
    if (this.slots.get(slot.socket) !== slot) return;
    this.slots.delete(slot.socket);
    const left = (this.byAddress.get(slot.address) ?? 1) - 1;
    if (left === 0) this.byAddress.delete(slot.address);
    else this.byAddress.set(slot.address, left);
  }
}
