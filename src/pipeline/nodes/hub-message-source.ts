import type { MediaItem, NodeContext, RuntimeNode } from '../graph.js';
import type { HubSourceSpec } from '../node-specs.js';

/** Subscribes a pipeline's hub input: `onMessage` gets each message's parsed body; resolves to an unsubscribe. */
export interface HubInput {
  subscribe(pipeline: string, hubInputName: string, onMessage: (body: unknown) => void): Promise<() => Promise<void>>;
}

/**
 * `IotHubMessageSource`: messages that another module sends to this module's `hubInputName` (here: an MQTT topic on
 * the broker of `--mqtt-url`) become events, stamped with the pipeline's current media time, so that they can open
 * a signal gate.
 */
export class HubMessageSourceNode implements RuntimeNode {
  readonly name: string;
  private unsubscribe: (() => Promise<void>) | undefined;
  private pending: Promise<void>[] = [];

  constructor(
    readonly spec: HubSourceSpec,
    private readonly pipelineName: string,
    private readonly emit: (item: MediaItem) => Promise<void>,
    private readonly context: NodeContext,
    private readonly input: HubInput | undefined,
    private readonly clock: () => number,
  ) {
    this.name = spec.name;
  }

  async start(): Promise<void> {
    if (this.input === undefined) {
      this.context.notice(
        `${this.name}: no message broker (--mqtt-url): hub input "${this.spec.hubInputName}" gets nothing`,
      );
      return;
    }
    this.unsubscribe = await this.input.subscribe(this.pipelineName, this.spec.hubInputName, (body) => {
      const event = {
        node: this.name,
        pts90k: this.clock(),
        body:
          body !== null && typeof body === 'object' && !Array.isArray(body)
            ? (body as Record<string, unknown>)
            : { body },
      };
      const delivery = this.emit({ kind: 'event', event }).catch((error: unknown) =>
        this.context.notice(`${this.name}: ${String(error)}`),
      );
      this.pending.push(delivery);
      void delivery.finally(() => {
        this.pending = this.pending.filter((p) => p !== delivery);
      });
    });
    this.context.notice(`${this.name}: reading hub input "${this.spec.hubInputName}"`);
  }

  receive(): void {}

  async end(): Promise<void> {
    await this.unsubscribe?.();
    this.unsubscribe = undefined;
    await Promise.all(this.pending);
  }
}
