// biome-ignore-all lint/suspicious/noConsole: a report on stdout
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { MediaItem } from '../src/pipeline/graph.js';
import { ObjectTrackingNode } from '../src/pipeline/nodes/object-tracking.js';
import type { PipelineMessage } from '../src/pipeline/pipeline-message.js';
import type { Accuracy } from '../src/pipeline/tracking/byte-tracker.js';
import { type Labelled, motScores } from '../test/helpers/mot-metrics.js';
import { fixturePath, runInProcess, STREET_MP4, tempDir } from '../test/helpers/pipeline.js';
import { doubleUrl, startTestServer } from '../test/helpers/server.js';
import { FRAMES, SCENE, truth, writeSceneVideo } from '../test/helpers/tracking-scene.js';

/**
 * Tracking quality and cost (`npm run bench:tracking`):
 * 1. the generated scene (test/helpers/tracking-scene.ts) through the vendor's ava-line-crossing topology with the
 *    colour-box detector, per accuracy and extension sampling rate: MOTA, IDF1, identity switches, fragmentations
 *    against the scene's ground truth, and the line crossings against the known 3 clockwise / 2 counterclockwise;
 * 2. the street video (40 s) with /detect at the vendor's 2 samples a second: no ground truth, so ids given and
 *    track lengths;
 * 3. the tracker node's CPU time per frame at 30 fps input (detections at 2 a second), for 10 and 50 objects.
 */

type Topology = {
  properties: {
    processors: Record<string, unknown>[];
    sinks: { inputs: { nodeName: string }[] }[];
  };
};

function lineCrossingTopology(accuracy: Accuracy, samplesPerSecond: number): Topology {
  const topology = JSON.parse(readFileSync(fixturePath('topologies/ava-line-crossing.json'), 'utf8')) as Topology;
  for (const node of topology.properties.processors) {
    if (node.name === 'objectTracker') node.accuracy = accuracy;
    if (node.name === 'httpExtension') {
      node.samplingOptions = {
        skipSamplesWithoutAnnotation: 'false',
        maximumSamplesPerSecond: String(samplesPerSecond),
      };
    }
  }
  // The sink publishes the tracker's entities as well as the crossings, to score both from one run.
  topology.properties.sinks[0]!.inputs.push({ nodeName: 'objectTracker' });
  return topology;
}

interface Entity {
  sequenceId: string;
  entity: { box: Labelled['box'] };
}

function byNode(messages: readonly PipelineMessage[], node: string): PipelineMessage[] {
  return messages.filter((m) => m.properties.subject.endsWith(`/processors/${node}`));
}

const CAMERA = { rtspUserName: 'camera', rtspPassword: 'secret' };
const dir = tempDir();
const server = await startTestServer({
  workers: 1,
  routes: [
    { path: '/boxes', processor: doubleUrl('colour-boxes'), options: {} },
    { path: '/detect', processor: 'objectDetection' },
  ],
});
try {
  const video = join(dir.path, 'scene.mp4');
  await writeSceneVideo(video);
  console.log(`## Generated scene: ${FRAMES} frames at ${SCENE.fps} fps, 3 objects, expected crossings 3 cw / 2 ccw\n`);
  console.log(
    '| accuracy | answers/s | MOTA | IDF1 | ID switches | fragmentations | FN | FP | track ids | crossings cw/ccw |',
  );
  console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|---|');
  const truths = Array.from({ length: FRAMES }, (_, f) => truth(f).map((t) => ({ id: t.id, box: t.box })));
  for (const samples of [2, 5, 10]) {
    for (const accuracy of ['low', 'medium', 'high'] as const) {
      const { messages, origin90k } = await runInProcess(lineCrossingTopology(accuracy, samples), {
        ...CAMERA,
        rtspUrl: video,
        inferenceUrl: server.at('/boxes?fullPixels=2704'),
      });
      const hypotheses: Labelled[][] = Array.from({ length: FRAMES }, () => []);
      for (const m of byNode(messages, 'objectTracker')) {
        const f = Math.round((Number(m.body.timestamp) - origin90k) / (90_000 / SCENE.fps));
        for (const i of m.body.inferences as Entity[]) hypotheses[f]!.push({ id: i.sequenceId, box: i.entity.box });
      }
      const s = motScores(truths, hypotheses);
      const events = byNode(messages, 'lineCrossing').flatMap(
        (m) => m.body.inferences as { event: { properties: { direction: string } } }[],
      );
      const cw = events.filter((e) => e.event.properties.direction === 'clockwise').length;
      console.log(
        `| ${accuracy} | ${samples} | ${s.mota.toFixed(3)} | ${s.idf1.toFixed(3)} | ${s.idSwitches} | ${s.fragmentations} | ${s.falseNegatives} | ${s.falsePositives} | ${s.trackIds} | ${cw}/${events.length - cw} |`,
      );
    }
  }

  console.log('\n## Street video (40 s, 10 fps), /detect at 2 answers a second, accuracy medium\n');
  const topology = JSON.parse(readFileSync(fixturePath('topologies/ava-line-crossing.json'), 'utf8')) as Topology;
  topology.properties.sinks[0]!.inputs.push({ nodeName: 'objectTracker' });
  const started = performance.now();
  const { messages, counters } = await runInProcess(topology, {
    ...CAMERA,
    rtspUrl: STREET_MP4,
    inferenceUrl: server.at('/detect'),
  });
  const seconds = (performance.now() - started) / 1000;
  const lengths = new Map<string, number>();
  for (const m of byNode(messages, 'objectTracker')) {
    for (const i of m.body.inferences as Entity[]) lengths.set(i.sequenceId, (lengths.get(i.sequenceId) ?? 0) + 1);
  }
  const sorted = [...lengths.values()].sort((a, b) => a - b);
  const crossings = byNode(messages, 'lineCrossing').flatMap((m) => m.body.inferences as unknown[]).length;
  console.log(
    `frames ${counters.read}, answers ${counters.answered}, track ids ${lengths.size}, median track ${sorted[Math.floor(sorted.length / 2)]} frames, ` +
      `tracks under 1 s ${sorted.filter((n) => n < 10).length}, over 10 s ${sorted.filter((n) => n >= 100).length}, ` +
      `crossings of x = 0.5 ${crossings}, wall ${seconds.toFixed(1)} s`,
  );
} finally {
  await server.close();
  dir.remove();
}

console.log('\n## Tracker cost per frame, 30 fps input, detections at 2 a second (60 s of frames)\n');
console.log('| objects | accuracy | mean µs/frame | p99 µs/frame | share of a 33 ms frame |');
console.log('|---:|---|---:|---:|---:|');
for (const objects of [10, 50]) {
  for (const accuracy of ['low', 'medium', 'high'] as const) {
    const node = new ObjectTrackingNode('tracker', { accuracy }, ['ext'], async (_: MediaItem) => {});
    // Objects bounce around the frame at up to a frame width in 4 s; detections jitter by 0.5% of the frame.
    let seed = 42;
    const random = () => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const state = Array.from({ length: objects }, () => ({
      x: random() * 0.9,
      y: random() * 0.9,
      vx: (random() - 0.5) * 0.017,
      vy: (random() - 0.5) * 0.017,
    }));
    const frame = { width: 2, height: 2, rgb: Buffer.alloc(12), pts90k: 0 };
    const times: number[] = [];
    for (let f = 0; f < 1800; f++) {
      for (const o of state) {
        o.x += o.vx;
        o.y += o.vy;
        if (o.x < 0 || o.x > 0.95) o.vx = -o.vx;
        if (o.y < 0 || o.y > 0.9) o.vy = -o.vy;
      }
      const pts90k = f * 3000;
      const start = performance.now();
      if (f % 15 === 0) {
        const inferences = state.map((o) => ({
          type: 'entity',
          entity: {
            tag: { value: 'car', confidence: 0.8 },
            box: { l: o.x + (random() - 0.5) * 0.01, t: o.y + (random() - 0.5) * 0.01, w: 0.05, h: 0.1 },
          },
        }));
        await node.receive({ kind: 'event', event: { node: 'ext', pts90k, body: { inferences } } }, 'ext');
      }
      await node.receive({ kind: 'frame', frame: { ...frame, pts90k }, annotations: [] }, 'ext');
      times.push((performance.now() - start) * 1000);
    }
    times.sort((a, b) => a - b);
    const mean = times.reduce((a, b) => a + b, 0) / times.length;
    const p99 = times[Math.floor(times.length * 0.99)]!;
    console.log(
      `| ${objects} | ${accuracy} | ${mean.toFixed(1)} | ${p99.toFixed(1)} | ${((mean / 33_333) * 100).toFixed(2)}% |`,
    );
  }
}
