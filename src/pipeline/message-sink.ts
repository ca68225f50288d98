import { createWriteStream, type WriteStream } from 'node:fs';
import type { Writable } from 'node:stream';
import mqtt, { type MqttClient } from 'mqtt';
import type { HubInput } from './nodes/hub-message-source.js';
import { type PipelineMessage, subjectParts } from './pipeline-message.js';

/** Where published messages go: JSON lines (stdout or a file), an MQTT broker, or both. */
export interface MessageSink {
  publish(message: PipelineMessage): Promise<void>;
  close(): Promise<void>;
}

/** One message per line. Only messages go to this stream: logs and progress go to stderr. */
export class JsonLinesSink implements MessageSink {
  private readonly stream: Writable;
  private readonly owned: boolean;

  constructor(target: string | Writable) {
    if (typeof target === 'string') {
      this.stream = createWriteStream(target, { flags: 'a' }) as WriteStream;
      this.owned = true;
    } else {
      this.stream = target;
      this.owned = false;
    }
  }

  async publish(message: PipelineMessage): Promise<void> {
    if (!this.stream.write(`${JSON.stringify(message)}\n`)) {
      await new Promise<void>((resolve) => this.stream.once('drain', resolve));
    }
  }

  async close(): Promise<void> {
    if (!this.owned) return;
    await new Promise<void>((resolve) => this.stream.end(resolve));
  }
}

export interface MqttSinkOptions {
  url: string;
  /**
   * Topic template; `{pipeline}`, `{node}` and `{output}` are replaced by the live pipeline, the publishing node
   * and the sink's hubOutputName (`diagnostics` for diagnostics events).
   */
  topic: string;
  username?: string;
  password?: string;
}

/**
 * Publishes each message's body on a topic, with the vendor's properties as MQTT 5 user properties (what IoT Hub
 * application properties become on a broker), QoS 1.
 */
export class MqttSink implements MessageSink {
  private constructor(
    private readonly client: MqttClient,
    private readonly options: MqttSinkOptions,
  ) {}

  static async connect(options: MqttSinkOptions): Promise<MqttSink> {
    const client = await mqtt.connectAsync(options.url, {
      protocolVersion: 5,
      reconnectPeriod: 1000,
      connectTimeout: 10_000,
      ...(options.username === undefined ? {} : { username: options.username }),
      ...(options.password === undefined ? {} : { password: options.password }),
    });
    return new MqttSink(client, options);
  }

  async publish(message: PipelineMessage): Promise<void> {
    const p = message.properties;
    const { pipeline, node } = subjectParts(p.subject);
    const topic = this.options.topic
      .replaceAll('{pipeline}', pipeline)
      .replaceAll('{node}', node)
      .replaceAll('{output}', p.outputName ?? (p.eventType.includes('Diagnostics') ? 'diagnostics' : 'output'));
    const userProperties: Record<string, string> = {
      topic: p.topic,
      subject: p.subject,
      eventType: p.eventType,
      eventTime: p.eventTime,
      dataVersion: p.dataVersion,
    };
    await this.client.publishAsync(topic, JSON.stringify(message.body), {
      qos: 1,
      properties: { contentType: 'application/json', userProperties },
    });
  }

  /**
   * The hub input of `IotHubMessageSource` nodes: messages published by other modules on `topic` (`{pipeline}` and
   * `{input}` replaced), their payload parsed as JSON (else kept as text).
   */
  hubInput(topic: string): HubInput {
    return {
      subscribe: async (pipeline, input, onMessage) => {
        const name = topic.replaceAll('{pipeline}', pipeline).replaceAll('{input}', input);
        const listener = (received: string, payload: Buffer) => {
          if (received !== name) return;
          const text = payload.toString('utf8');
          let body: unknown;
          try {
            body = JSON.parse(text);
          } catch {
            body = text;
          }
          onMessage(body);
        };
        this.client.on('message', listener);
        await this.client.subscribeAsync(name, { qos: 1 });
        return async () => {
          this.client.off('message', listener);
          await this.client.unsubscribeAsync(name);
        };
      },
    };
  }

  async close(): Promise<void> {
    await this.client.endAsync();
  }
}

/** Fans a message out to several sinks. */
export class FanOutSink implements MessageSink {
  constructor(private readonly sinks: MessageSink[]) {}

  async publish(message: PipelineMessage): Promise<void> {
    await Promise.all(this.sinks.map((s) => s.publish(message)));
  }

  async close(): Promise<void> {
    await Promise.all(this.sinks.map((s) => s.close()));
  }
}
