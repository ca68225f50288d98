import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { VideoIndex } from '../src/pipeline/nodes/video-sink.js';
import type { PipelineMessage } from '../src/pipeline/pipeline-message.js';
import { VideoSource } from '../src/pipeline/video-source.js';
import { fixturePath, json, runInProcess, STREET_MP4, startDouble, type TempDir, tempDir } from './helpers/pipeline.js';
import { type MotionVideo, motionVideo, probe, runFfmpeg, twoMovesVideo } from './helpers/videos.js';

/**
 * VideoSink (AVA) and AssetSink (LVA) record into the local media store: one folder per video / asset under
 * `localMediaCachePath` (resolved under --media-root), MP4 segments cut on keyframes, an index.json listing them.
 * street.mp4 is 40 s with a keyframe every second; the generated motion video moves during [5, 7) and [25, 27) s.
 */
type Topology = {
  properties: { processors?: Record<string, unknown>[]; sinks: Record<string, unknown>[] };
};

function vendor(name: string): Topology {
  return JSON.parse(readFileSync(fixturePath(`topologies/${name}.json`), 'utf8')) as Topology;
}

function operational(messages: PipelineMessage[]): PipelineMessage[] {
  return messages.filter((m) => m.properties.eventType.includes('.Operational.'));
}

function names(messages: PipelineMessage[]): string[] {
  return messages.map((m) => m.properties.eventType.replace(/^.*\.Operational\./, ''));
}

function index(folder: string): VideoIndex {
  return JSON.parse(readFileSync(join(folder, 'index.json'), 'utf8')) as VideoIndex;
}

const CACHE = 'var/lib/videoanalyzer/tmp';

describe('VideoSink: continuous recording into the media store', () => {
  let dir: TempDir;
  before(() => {
    dir = tempDir();
  });
  after(() => dir.remove());

  test('ava-cvr-video-sink: 30 s segments (the vendor default) cut on keyframes, indexed, with the vendor events', async () => {
    const media = join(dir.path, 'cvr');
    const { messages, counters } = await runInProcess(
      vendor('ava-cvr-video-sink'),
      { rtspUrl: STREET_MP4 },
      { mediaRoot: media },
    );
    assert.deepEqual(names(messages), ['RecordingStarted', 'RecordingAvailable', 'RecordingStopped']);
    for (const m of messages) {
      assert.equal(m.properties.subject, '/edgeModules/avaedge/livePipelines/test/sinks/videoSink');
      assert.deepEqual(m.body, { outputType: 'videoName', outputLocation: 'sample-cvr-video-sink' });
    }
    assert.deepEqual([counters.recordings, counters.segments], [1, 2]);
    const folder = join(media, CACHE, 'sample-cvr-video-sink');
    const idx = index(folder);
    assert.equal(idx.name, 'sample-cvr-video-sink');
    assert.equal(idx.title, 'sample-cvr-video-sink');
    assert.equal(idx.segmentLengthSeconds, 30);
    assert.deepEqual(
      idx.segments.map((s) => s.durationSeconds),
      [30, 10],
    );
    assert.equal(Date.parse(idx.segments[1]!.startTime) - Date.parse(idx.segments[0]!.startTime), 30_000);
    assert.deepEqual(
      readdirSync(folder).sort(),
      ['index.ffconcat', 'index.json', ...idx.segments.map((s) => s.file)].sort(),
    );
    for (const s of idx.segments) {
      // Named after its start; the start on the absolute 90 kHz clock too.
      assert.equal(s.file, `${s.startTime.replace(/[-:]/g, '')}`.replace(/Z$/, 'Z.mp4'));
      assert.equal(Math.floor(s.timestamp / 90), Date.parse(s.startTime));
      assert.equal(s.sizeBytes, statSync(join(folder, s.file)).size);
      const p = await probe(join(folder, s.file));
      assert.ok(p.codec === 'h264' && p.firstKey, JSON.stringify(p));
      assert.ok(Math.abs(p.duration - s.durationSeconds) <= 0.2, `${s.file}: ${p.duration} s`);
    }
    // The ffconcat list plays the segments back to back: the whole 40 s, 400 frames.
    const whole = join(dir.path, 'whole.mp4');
    await runFfmpeg(['-f', 'concat', '-safe', '0', '-i', join(folder, 'index.ffconcat'), '-c', 'copy', '-y', whole]);
    const p = await probe(whole);
    assert.equal(p.frames, 400);
  });

  test('localMediaCacheMaximumSizeMiB: the oldest segments go first, the index follows', async () => {
    const media = join(dir.path, 'cap');
    const topology = vendor('ava-cvr-video-sink');
    const sink = topology.properties.sinks[0]!;
    sink.localMediaCacheMaximumSizeMiB = '1';
    (sink.videoCreationProperties as Record<string, unknown>).segmentLength = 'PT5S';
    const { counters } = await runInProcess(topology, { rtspUrl: STREET_MP4 }, { mediaRoot: media });
    assert.equal(counters.segments, 8);
    const folder = join(media, CACHE, 'sample-cvr-video-sink');
    const idx = index(folder);
    const files = readdirSync(folder).filter((f) => f.endsWith('.mp4'));
    assert.deepEqual(files.sort(), idx.segments.map((s) => s.file).sort());
    const total = idx.segments.reduce((n, s) => n + s.sizeBytes, 0);
    assert.ok(total <= 1024 * 1024, `${total} bytes kept`);
    // What is left is the newest run of segments, ending with the last 5 s.
    assert.ok(idx.segments.length >= 1 && idx.segments.length < 8);
    const starts = idx.segments.map((s) => Date.parse(s.startTime));
    for (let i = 1; i < starts.length; i++) assert.equal(starts[i]! - starts[i - 1]!, 5000);
    assert.equal(idx.segments.at(-1)!.durationSeconds, 5);
  });

  test('an unwritable store is a diagnostics event and a notice; nothing else breaks', async () => {
    const media = join(dir.path, 'broken');
    mkdirSync(join(media, CACHE), { recursive: true });
    writeFileSync(join(media, CACHE, 'sample-cvr-video-sink'), 'a file where the folder should be');
    const { messages, notices, counters } = await runInProcess(
      vendor('ava-cvr-video-sink'),
      { rtspUrl: STREET_MP4 },
      { mediaRoot: media },
    );
    assert.deepEqual(
      messages.map((m) => m.properties.eventType),
      ['Microsoft.VideoAnalyzer.Diagnostics.RecordingError'],
    );
    assert.equal((messages[0]!.body as { errorCode: string }).errorCode, 'EEXIST');
    assert.equal(notices.filter((n) => n.includes('cannot record')).length, 1);
    assert.deepEqual([counters.recordings, counters.segments], [0, 0]);
  });
});

describe('a sink that lags', () => {
  test('holds up the source: the packets it queues stay bounded, and none is lost', async () => {
    const cap = 64 * 1024;
    const source = new VideoSource(
      { name: 'cam', kind: 'file', url: STREET_MP4, transport: 'tcp' },
      { realtime: false, outputs: { frames: false, packets: true }, maxQueuedPacketBytes: cap },
    );
    let packets = 0;
    let keys = 0;
    let maxQueued = 0;
    let largest = 0;
    for await (const item of source.items()) {
      if (item.kind !== 'packet') continue;
      // The stimulus, not an ordering: a disk that stalls for half a second on the first write, while ffmpeg could
      // deliver the whole 2.6 MB file.
      if (packets === 0) await new Promise((resolve) => setTimeout(resolve, 500));
      packets++;
      if (item.packet.key) keys++;
      largest = Math.max(largest, item.packet.data.length);
      maxQueued = Math.max(maxQueued, source.queuedPacketBytes);
    }
    assert.deepEqual([packets, keys], [400, 40]);
    // Paused once over the cap: at most one more pipe read (64 KiB) lands, and it completes at most one packet more.
    assert.ok(maxQueued <= cap + 64 * 1024 + largest, `${maxQueued} bytes queued`);
  });
});

describe('event-based recording to a video and to assets', () => {
  let dir: TempDir;
  let video: MotionVideo;
  before(async () => {
    dir = tempDir();
    video = await twoMovesVideo(dir.path);
  });
  after(() => dir.remove());

  test('ava-evr-motion-video-sink: each gate activation is appended to the one video', async () => {
    const topology = vendor('ava-evr-motion-video-sink');
    // The FileSink sample's gate (minimum 10 s): two activations, 5 .. 17 s and 25 .. 37 s.
    Object.assign(topology.properties.processors![1]!, { minimumActivationTime: 'PT10S' });
    const media = join(dir.path, 'evr');
    const { messages, counters } = await runInProcess(topology, { rtspUrl: video.path }, { mediaRoot: media });
    const ops = operational(messages);
    assert.deepEqual(names(ops), [
      'RecordingStarted',
      'RecordingAvailable',
      'RecordingStopped',
      'RecordingStarted',
      'RecordingAvailable',
      'RecordingStopped',
    ]);
    for (const m of ops) assert.deepEqual(m.body, { outputType: 'videoName', outputLocation: 'sample-motion-video' });
    // The motion events reach the hub sink as well.
    assert.equal(messages.filter((m) => m.properties.eventType.endsWith('Analytics.Inference')).length, 6);
    assert.deepEqual([counters.recordings, counters.segments], [2, 2]);
    const idx = index(join(media, CACHE, 'sample-motion-video'));
    assert.equal(idx.segments.length, 2);
    assert.equal(Date.parse(idx.segments[1]!.startTime) - Date.parse(idx.segments[0]!.startTime), 20_000);
    for (const s of idx.segments) assert.ok(Math.abs(s.durationSeconds - 12) <= 1, JSON.stringify(s));
  });

  test('events a video sink reads are recorded with the video (inferences.jsonl), and go with deleted segments', async () => {
    const topology = vendor('ava-cvr-with-motion');
    const sink = topology.properties.sinks.find((n) => n.name === 'videoSink')!;
    (sink.inputs as unknown[]).push({ nodeName: 'motionDetection' });
    (sink.videoCreationProperties as Record<string, unknown>).segmentLength = 'PT10S';
    const media = join(dir.path, 'metadata');
    const { messages } = await runInProcess(topology, { rtspUrl: video.path }, { mediaRoot: media });
    const folder = join(media, CACHE, 'sample-CVR-with-motion');
    const lines = () =>
      readFileSync(join(folder, 'inferences.jsonl'), 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { timestamp: number; node: string; inferences: unknown[] });
    const published = messages.filter((m) => m.properties.eventType.endsWith('Analytics.Inference'));
    assert.equal(published.length, 6);
    // The same six motion events the hub sink published, on the same clock, each inside a recorded segment.
    assert.deepEqual(
      lines().map((l) => [l.timestamp, l.node, l.inferences]),
      published.map((m) => [m.body.timestamp, 'motionDetection', m.body.inferences]),
    );
    const idx = index(folder);
    assert.equal(idx.segments.length, 4);
    for (const l of lines()) {
      assert.ok(
        idx.segments.some((s) => l.timestamp >= s.timestamp && l.timestamp < s.timestamp + s.durationSeconds * 90_000),
      );
    }
    // Then the street video (2.6 MB in 40 s) into the same video with a 1 MiB cap: only its newest segments fit, and
    // the metadata of the deleted ones, the whole first run's, goes with them.
    topology.properties.sinks.find((n) => n.name === 'videoSink')!.localMediaCacheMaximumSizeMiB = '1';
    await runInProcess(topology, { rtspUrl: STREET_MP4 }, { mediaRoot: media });
    const kept = index(folder).segments;
    const first = published.map((m) => m.body.timestamp as number);
    assert.ok(kept.length >= 1 && kept[0]!.timestamp > Math.max(...first), JSON.stringify(kept));
    assert.ok(lines().length > 0 && lines().every((l) => l.timestamp >= kept[0]!.timestamp));
  });

  test('lva2-evr-httpExtension-assets: one asset per activation, named by assetNamePattern, LVA events', async () => {
    const still = await motionVideo(dir.path, 12, [], 'still.mp4');
    const topology = vendor('lva2-evr-httpExtension-assets');
    // Every answer opens the gate; activations of 5 s: 0 .. 5, 5 .. 10, 10 .. 12 s.
    Object.assign(topology.properties.processors![1]!, {
      minimumActivationTime: 'PT5S',
      maximumActivationTime: 'PT5S',
    });
    const double = await startDouble((_r, _i, res) =>
      json(res, 200, { inferences: [{ type: 'motion', motion: { box: { l: 0, t: 0, w: 1, h: 1 } } }] }),
    );
    const media = join(dir.path, 'assets');
    try {
      const { messages, counters } = await runInProcess(
        topology,
        { rtspUrl: still.path, inferencingUrl: double.url },
        { mediaRoot: media },
      );
      const ops = operational(messages);
      assert.deepEqual(
        names(ops),
        Array(3).fill(['RecordingStarted', 'RecordingAvailable', 'RecordingStopped']).flat(),
      );
      for (const m of ops) {
        assert.equal(m.properties.subject, '/graphInstances/test/sinks/assetSink');
        assert.match(m.properties.eventType, /^Microsoft\.Media\.Graph\.Operational\./);
        assert.equal((m.body as { outputType: string }).outputType, 'assetName');
      }
      assert.deepEqual([counters.recordings, counters.segments], [3, 3]);
      const assets = [...new Set(ops.map((m) => (m.body as { outputLocation: string }).outputLocation))];
      assert.equal(assets.length, 3);
      const folder = join(media, 'var/lib/azuremediaservices/tmp');
      assert.deepEqual(readdirSync(folder).sort(), [...assets].sort());
      for (const asset of assets) {
        assert.match(asset, /^sampleAssetFromEVR-LVAEdge-\d{8}T\d{6}Z$/);
        const idx = index(join(folder, asset));
        assert.equal(idx.outputType, 'assetName');
        assert.equal(idx.segments.length, 1);
        assert.ok(existsSync(join(folder, asset, idx.segments[0]!.file)));
      }
    } finally {
      await double.close();
    }
  });
});
