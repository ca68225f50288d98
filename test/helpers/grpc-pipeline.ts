import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type { PipelineMessage } from '../../src/pipeline/pipeline-message.js';
import { assertValidInferences } from './http.js';
import { fixturePath } from './pipeline.js';

/** The vendor's OpenVINO gRPC topology (AVA 1.1): RTSP -> GrpcExtension (BGR24, shared memory 64 MiB) -> hub. */
export function vendorTopology(): Record<string, unknown> {
  return JSON.parse(readFileSync(fixturePath('topologies/ava-grpcExtensionOpenVINO.json'), 'utf8'));
}

/** The same topology in the LVA 2.0 spelling (`#Microsoft.Media.MediaGraph...`). */
export function lvaSpelling(topology: object): Record<string, unknown> {
  const text = JSON.stringify(topology)
    .replaceAll('#Microsoft.VideoAnalyzer.IotHub', '#Microsoft.Media.MediaGraphIoTHub')
    .replaceAll('#Microsoft.VideoAnalyzer.', '#Microsoft.Media.MediaGraph');
  return { ...JSON.parse(text), '@apiVersion': '2.0' };
}

/** `topology` with its gRPC node's properties overridden. */
export function withGrpcNode(
  topology: Record<string, unknown>,
  override: Record<string, unknown>,
): Record<string, unknown> {
  const copy = structuredClone(topology) as { properties: { processors: Record<string, unknown>[] } };
  copy.properties.processors[0] = { ...copy.properties.processors[0], ...override };
  return copy;
}

export const JPEG_PAD = {
  image: {
    scale: { mode: 'pad', width: '416', height: '416' },
    format: { '@type': '#Microsoft.VideoAnalyzer.ImageFormatJpeg', quality: '90' },
  },
};
export const EMBEDDED = { dataTransfer: { mode: 'embedded' } };

/** What the published messages say, without the time they were published. */
/**
 * Messages without their wall-clock parts, to compare two runs of the same clip: eventTime masked, and media
 * timestamps (on the absolute 90 kHz clock, which starts when each run starts) made relative to the run's first.
 */
export function withoutTime(messages: PipelineMessage[]): unknown[] {
  const first = messages.find((m) => typeof m.body.timestamp === 'number')?.body.timestamp as number | undefined;
  return messages.map((m) => ({
    properties: { ...m.properties, eventTime: 'T' },
    body:
      typeof m.body.timestamp === 'number' && first !== undefined
        ? { ...m.body, timestamp: m.body.timestamp - first }
        : m.body,
  }));
}

export function assertAnalytics(messages: PipelineMessage[]): void {
  for (const m of messages) {
    assert.match(m.properties.eventTime, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    assertValidInferences(m.body);
  }
}

export function basic(user: string, password: string): string {
  return `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
}
