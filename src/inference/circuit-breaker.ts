/**
 * Per-route circuit breaker for processors that keep failing their executor (crashing a worker, throwing outside
 * any task): after `failures` faults in a row the route is refused at once for `backoffMs`, then one frame is let
 * through; if it faults too, the pause doubles (up to `maxBackoffMs`); a frame that completes closes the breaker.
 * The other routes, and the workers they share, keep serving meanwhile.
 */
export interface BreakerOptions {
  failures: number;
  backoffMs: number;
  maxBackoffMs: number;
  now?: () => number;
  /** The breaker of `key` opened for `backoffMs`. */
  onOpen?: (key: string, backoffMs: number) => void;
}

interface Circuit {
  faults: number;
  openUntil: number;
  backoffMs: number;
  /** A frame let through after the pause, not answered yet. */
  trial: boolean;
}

export class CircuitBreaker {
  private readonly options: BreakerOptions;
  private readonly circuits = new Map<string, Circuit>();

  constructor(options: BreakerOptions) {
    this.options = options;
  }

  private now(): number {
    return this.options.now?.() ?? performance.now();
  }

  /** Undefined when a frame of `key` may run; else the seconds to wait (the rest of the pause, at least 1). */
  /** `claim` false: only asks (a trial frame is claimed when the frame itself is admitted). */
  refusal(key: string, claim = true): number | undefined {
    const circuit = this.circuits.get(key);
    if (circuit === undefined || circuit.openUntil === 0) return undefined;
    const left = circuit.openUntil - this.now();
    if (left > 0 || circuit.trial) return Math.max(1, Math.ceil(left / 1000));
    if (claim) circuit.trial = true;
    return undefined;
  }

  fault(key: string): void {
    const circuit = this.circuits.get(key) ?? { faults: 0, openUntil: 0, backoffMs: 0, trial: false };
    this.circuits.set(key, circuit);
    circuit.faults++;
    if (!circuit.trial && circuit.faults < this.options.failures) return;
    circuit.backoffMs =
      circuit.backoffMs === 0 ? this.options.backoffMs : Math.min(circuit.backoffMs * 2, this.options.maxBackoffMs);
    circuit.openUntil = this.now() + circuit.backoffMs;
    circuit.trial = false;
    this.options.onOpen?.(key, circuit.backoffMs);
  }

  /** A frame of `key` completed without faulting its executor. */
  success(key: string): void {
    this.circuits.delete(key);
  }
}
