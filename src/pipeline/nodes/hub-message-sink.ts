import type { MediaItem, RuntimeNode } from '../graph.js';
import type { MessageSink } from '../message-sink.js';
import { analyticsMessage, type MessageNaming } from '../pipeline-message.js';
import type { SinkSpec } from '../topology.js';

/**
 * `IotHubMessageSink`: publishes the events it reads on its `hubOutputName`, with the subject of the node that
 * produced each one, as the vendor's sink did. An answer of `{"inferences": []}` publishes nothing.
 */
export class HubMessageSinkNode implements RuntimeNode {
  readonly name: string;

  constructor(
    readonly spec: SinkSpec,
    private readonly naming: MessageNaming,
    private readonly sink: MessageSink,
    private readonly notice: (message: string) => void,
  ) {
    this.name = spec.name;
  }

  async receive(item: MediaItem): Promise<void> {
    if (item.kind !== 'event') return;
    const { event } = item;
    const inferences = event.body.inferences;
    if (Array.isArray(inferences) && inferences.length === 0 && Object.keys(event.body).length === 1) return;
    try {
      await this.sink.publish(
        analyticsMessage(this.naming, event.node, event.pts90k, event.body, this.spec.hubOutputName),
      );
    } catch (error) {
      this.notice(`${this.name}: cannot publish: ${String(error)}`);
    }
  }

  async end(): Promise<void> {}
}
