// biome-ignore-all lint/suspicious/noTemplateCurlyInString: topologies write their parameters as ${name} in plain strings
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import mqtt from 'mqtt';
import type { PipelineMessage } from '../src/pipeline/pipeline-message.js';
import { validateResponse } from '../src/schema/validate.js';
import {
  fixturePath,
  mediaTimes,
  runInProcess,
  STREET_MP4,
  startBroker,
  type TempDir,
  tempDir,
} from './helpers/pipeline.js';
import { type MotionVideo, motionVideo, probe, twoMovesVideo } from './helpers/videos.js';

/**
 * Motion detection, signal gates and file sinks end to end, on a generated video whose motion is known: a square
 * moves during [5, 7) s and [25, 27) s of 40 s, and nothing else changes but sensor-like noise. With the vendor's
 * EVR sample (window 1 s, offset 0, minimum 10 s, maximum 30 s) each movement opens the gate once: from its first
 * frame (5 s, a keyframe) to 10 s after its last motion event (7 s), i.e. 12 s.
 */
function vendor(name: string): {
  properties: { processors: Record<string, unknown>[]; sinks: Record<string, unknown>[] };
} {
  return JSON.parse(readFileSync(fixturePath(`topologies/${name}.json`), 'utf8'));
}

const S = 90_000;

function eventNames(messages: PipelineMessage[]): string[] {
  return messages.map((m) => m.properties.eventType.replace(/^Microsoft\.VideoAnalyzer\./, ''));
}

describe('motion detection, signal gate and file sink', () => {
  let dir: TempDir;
  let video: MotionVideo;

  before(async () => {
    dir = tempDir();
    video = await twoMovesVideo(dir.path);
  });
  after(() => dir.remove());

  test('MotionDetectionProcessor: one event per aggregation window with motion, in the vendor shape', async () => {
    const { messages, origin90k } = await runInProcess(vendor('ava-motion-detection'), { rtspUrl: video.path });
    assert.deepEqual(
      mediaTimes(messages, origin90k),
      [5, 6, 7, 25, 26, 27].map((s) => s * S),
    );
    for (const m of messages) {
      assert.equal(m.properties.eventType, 'Microsoft.VideoAnalyzer.Analytics.Inference');
      assert.equal(m.properties.subject, '/edgeModules/avaedge/livePipelines/test/processors/motionDetection');
      assert.equal(m.properties.outputName, 'inferenceOutput');
      assert.deepEqual(validateResponse({ inferences: m.body.inferences }), []);
      const inferences = m.body.inferences as { type: string; motion: { box: { l: number; t: number } } }[];
      assert.ok(inferences.length >= 1);
      // The square runs along y 100..140 of 240.
      for (const i of inferences) {
        assert.equal(i.type, 'motion');
        assert.ok(i.motion.box.t > 0.35 && i.motion.box.t < 0.45, JSON.stringify(i));
      }
    }
  });

  test('outputMotionRegion false and no aggregation: one empty motion inference per moving frame', async () => {
    const topology = vendor('ava-motion-detection');
    Object.assign(topology.properties.processors[0]!, { outputMotionRegion: false, eventAggregationWindow: 'PT0S' });
    const { messages } = await runInProcess(topology, { rtspUrl: video.path });
    // 2 s of movement at 10 fps, each one ending with the frame where the square vanishes: 20 + 1 frames, twice.
    assert.equal(messages.length, 42);
    assert.ok(messages.every((m) => JSON.stringify(m.body.inferences) === '[{"type":"motion","motion":{}}]'));
  });

  test('EVR to files: one MP4 per gate activation, stream-copied, starting on a keyframe, with operational events', async () => {
    const media = join(dir.path, 'root1');
    const { messages, counters } = await runInProcess(
      vendor('ava-evr-motion-file-sink'),
      { rtspUrl: video.path },
      { mediaRoot: media },
    );
    assert.equal(counters.recordings, 2);
    assert.deepEqual(eventNames(messages), [
      'Operational.RecordingStarted',
      'Operational.RecordingAvailable',
      'Operational.RecordingStopped',
      'Operational.RecordingStarted',
      'Operational.RecordingAvailable',
      'Operational.RecordingStopped',
    ]);
    const folder = join(media, 'var/media');
    const files = readdirSync(folder).sort();
    assert.equal(files.length, 2);
    for (const [i, m] of messages.entries()) {
      assert.equal(m.properties.subject, '/edgeModules/avaedge/livePipelines/test/sinks/fileSink');
      assert.deepEqual(m.body, { outputType: 'filePath', outputLocation: join(folder, files[Math.floor(i / 3)]!) });
    }
    for (const file of files) {
      assert.match(
        file,
        /^sampleFilesFromEVR-motion-EVRToFilesOnMotionDetection-test-filesinkOutput-\d{8}T\d{6}Z\.mp4$/,
      );
      const p = await probe(join(folder, file));
      assert.equal(p.codec, 'h264');
      assert.ok(p.firstKey);
      // 5 s .. 17 s and 25 s .. 37 s, within a keyframe interval (1 s).
      assert.ok(Math.abs(p.duration - 12) <= 1, `${file}: ${p.duration} s`);
    }
    // The names carry the media time of each start: 20 s apart.
    const stamp = (f: string) =>
      Date.parse(f.replace(/^.*-(\d{4})(\d\d)(\d\d)T(\d\d)(\d\d)(\d\d)Z\.mp4$/, '$1-$2-$3T$4:$5:$6Z'));
    assert.equal(stamp(files[1]!) - stamp(files[0]!), 20_000);
  });

  test('a negative activationSignalOffset records from before the event (pre-roll)', async () => {
    const topology = vendor('ava-evr-motion-file-sink');
    Object.assign(topology.properties.processors[1]!, { activationSignalOffset: '-PT3S' });
    const media = join(dir.path, 'root2');
    await runInProcess(topology, { rtspUrl: video.path }, { mediaRoot: media });
    const folder = join(media, 'var/media');
    const durations = await Promise.all(readdirSync(folder).map(async (f) => (await probe(join(folder, f))).duration));
    assert.equal(durations.length, 2);
    // 2 s .. 17 s and 22 s .. 37 s.
    for (const d of durations) assert.ok(Math.abs(d - 15) <= 1, `${durations}`);
  });

  test('maximumSizeMiB: the oldest files of this sink are deleted, other files are not', async () => {
    const media = join(dir.path, 'root3');
    const folder = join(media, 'var/media');
    const topology = vendor('ava-evr-motion-file-sink');
    Object.assign(topology.properties.sinks[0]!, { maximumSizeMiB: '1' });
    // Three earlier recordings of this sink, half a MiB each, and a file that is not the sink's.
    const old = ['20200101T000000Z', '20200102T000000Z', '20200103T000000Z'].map(
      (t) => `sampleFilesFromEVR-motion-EVRToFilesOnMotionDetection-test-filesinkOutput-${t}.mp4`,
    );
    mkdirSync(folder, { recursive: true });
    old.forEach((name, i) => {
      writeFileSync(join(folder, name), Buffer.alloc(512 * 1024));
      utimesSync(join(folder, name), 1_600_000_000 + i, 1_600_000_000 + i);
    });
    writeFileSync(join(folder, 'notes.mp4'), Buffer.alloc(2 * 1024 * 1024));
    await runInProcess(topology, { rtspUrl: video.path }, { mediaRoot: media });
    const left = readdirSync(folder);
    assert.ok(!left.includes(old[0]!) && !left.includes(old[1]!), left.join(', '));
    assert.ok(left.includes(old[2]!) && left.includes('notes.mp4'), left.join(', '));
    assert.equal(left.filter((f) => /-2\d{7}T\d{6}Z\.mp4$/.test(f) && !old.includes(f)).length, 2);
  });

  test('an unwritable folder is a diagnostics event and a notice; the pipeline keeps analysing', async () => {
    const media = join(dir.path, 'root4');
    mkdirSync(media, { recursive: true });
    writeFileSync(join(media, 'var'), 'a file where the folder should be');
    const topology = vendor('ava-evr-motion-file-sink');
    topology.properties.sinks.push({
      '@type': '#Microsoft.VideoAnalyzer.IotHubMessageSink',
      name: 'hubSink',
      hubOutputName: 'inferenceOutput',
      inputs: [{ nodeName: 'motionDetection' }],
    });
    const { messages, notices, counters } = await runInProcess(topology, { rtspUrl: video.path }, { mediaRoot: media });
    assert.equal(counters.recordings, 0);
    const errors = messages.filter(
      (m) => m.properties.eventType === 'Microsoft.VideoAnalyzer.Diagnostics.RecordingError',
    );
    assert.equal(errors.length, 2);
    assert.equal((errors[0]!.body as { errorCode: string }).errorCode, 'ENOTDIR');
    assert.equal(notices.filter((n) => n.includes('cannot record')).length, 2);
    // Motion analysis went on: all six motion events were published.
    assert.equal(messages.filter((m) => m.properties.eventType.endsWith('Analytics.Inference')).length, 6);
  });
});

describe('vendor topologies on the street video', () => {
  test('ava-motion-detection and ava-evr-motion-file-sink run unchanged', async () => {
    const dir = tempDir();
    try {
      // Two independent pipelines: at once.
      const [motion, evr] = await Promise.all([
        runInProcess(vendor('ava-motion-detection'), { rtspUrl: STREET_MP4 }),
        runInProcess(vendor('ava-evr-motion-file-sink'), { rtspUrl: STREET_MP4 }, { mediaRoot: dir.path }),
      ]);
      assert.ok(motion.messages.length > 0);
      for (const m of motion.messages) assert.deepEqual(validateResponse({ inferences: m.body.inferences }), []);
      // People walk through the whole 40 s: activations capped at 30 s follow each other.
      assert.ok((evr.counters.recordings ?? 0) >= 1);
      const folder = join(dir.path, 'var/media');
      for (const f of readdirSync(folder)) {
        const p = await probe(join(folder, f));
        assert.ok(p.firstKey && p.codec === 'h264' && p.duration > 0 && p.duration <= 31, `${f}: ${JSON.stringify(p)}`);
      }
    } finally {
      dir.remove();
    }
  });
});

describe('IotHubMessageSource: a message through a real broker opens the gate', () => {
  let dir: TempDir;
  let broker: { url: string; stop(): void };

  before(async () => {
    dir = tempDir();
    broker = await startBroker(dir);
  });
  after(() => {
    broker.stop();
    dir.remove();
  });

  test('ava-evr-hubMessage-file-sink records once, from the message on', async () => {
    const still = await motionVideo(dir.path, 15, [], 'still.mp4');
    const url = broker.url;
    const publisher = await mqtt.connectAsync(url, { protocolVersion: 5, reconnectPeriod: 100, connectTimeout: 5000 });
    const main = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
    const media = join(dir.path, 'media');
    const child = spawn(
      process.execPath,
      [
        main,
        'pipeline',
        fixturePath('topologies/ava-evr-hubMessage-file-sink.json'),
        '--set',
        `rtspUrl=${still.path}`,
        '--name',
        'door',
        '--mqtt-url',
        url,
        '--media-root',
        media,
        '-o',
        '-',
        '--no-progress',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (t: string) => (stdout += t));
    // The message goes out once the pipeline says it reads its hub input (the file plays at its native rate).
    const subscribed = new Promise<void>((resolve) => {
      child.stderr.setEncoding('utf8').on('data', (t: string) => {
        stderr += t;
        if (stderr.includes('reading hub input "recordingTrigger"')) resolve();
      });
    });
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    await subscribed;
    await publisher.publishAsync('httpextension/door/inputs/recordingTrigger', JSON.stringify({ door: 'open' }), {
      qos: 1,
    });
    const code = await exited;
    await publisher.endAsync();
    assert.equal(code, 0, stderr);
    const messages = stdout
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l) as PipelineMessage);
    assert.deepEqual(eventNames(messages), [
      'Operational.RecordingStarted',
      'Operational.RecordingAvailable',
      'Operational.RecordingStopped',
    ]);
    const path = (messages[0]!.body as { outputLocation: string }).outputLocation;
    assert.ok(path.startsWith(join(media, 'var/media/')), path);
    assert.ok(existsSync(path));
    const p = await probe(path);
    assert.ok(p.firstKey && p.duration > 0 && p.duration <= 11, JSON.stringify(p));
    assert.match(stderr, /door: read 0, sent 0, dropped 0, answered 0, errors 0, published 3, recordings 1\n/);
  });
});
