// biome-ignore-all lint/suspicious/noTemplateCurlyInString: topologies write their parameters as ${name} in plain strings
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { HxError } from '../src/errors.js';
import type { PipelineMessage } from '../src/pipeline/pipeline-message.js';
import { PipelineRunner } from '../src/pipeline/pipeline-runner.js';
import { SHM_DIR, SharedMemoryRing } from '../src/pipeline/shared-memory-ring.js';
import { parseTopology } from '../src/pipeline/topology.js';
import { type CliServer, SCORE_ONLY, startCli } from './helpers/cli.js';
import { assertSchemas, releaseFile, until } from './helpers/http.js';
import {
  avaTopology,
  CollectingSink,
  fixturePath,
  freePort,
  runInProcess,
  streetClip,
  type TempDir,
  tempDir,
} from './helpers/pipeline.js';
import { generatePythonContract, startPythonServer } from './helpers/python-grpc.js';

/** The vendor's OpenVINO gRPC topology (AVA 1.1): RTSP -> GrpcExtension (BGR24, shared memory 64 MiB) -> hub. */
function vendorTopology(): Record<string, unknown> {
  return JSON.parse(readFileSync(fixturePath('topologies/ava-grpcExtensionOpenVINO.json'), 'utf8'));
}

/** The same topology in the LVA 2.0 spelling (`#Microsoft.Media.MediaGraph...`). */
function lvaSpelling(topology: object): Record<string, unknown> {
  const text = JSON.stringify(topology)
    .replaceAll('#Microsoft.VideoAnalyzer.IotHub', '#Microsoft.Media.MediaGraphIoTHub')
    .replaceAll('#Microsoft.VideoAnalyzer.', '#Microsoft.Media.MediaGraph');
  return { ...JSON.parse(text), '@apiVersion': '2.0' };
}

/** `topology` with its gRPC node's properties overridden. */
function withGrpcNode(topology: Record<string, unknown>, override: Record<string, unknown>): Record<string, unknown> {
  const copy = structuredClone(topology) as { properties: { processors: Record<string, unknown>[] } };
  copy.properties.processors[0] = { ...copy.properties.processors[0], ...override };
  return copy;
}

const JPEG_PAD = {
  image: {
    scale: { mode: 'pad', width: '416', height: '416' },
    format: { '@type': '#Microsoft.VideoAnalyzer.ImageFormatJpeg', quality: '90' },
  },
};
const EMBEDDED = { dataTransfer: { mode: 'embedded' } };

/** What the published messages say, without the time they were published. */
function withoutTime(messages: PipelineMessage[]): unknown[] {
  return messages.map((m) => ({ properties: { ...m.properties, eventTime: 'T' }, body: m.body }));
}

function assertAnalytics(messages: PipelineMessage[]): void {
  for (const m of messages) {
    assert.match(m.properties.eventTime, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    assertSchemas({ inferences: m.body.inferences });
  }
}

function basic(user: string, password: string): string {
  return `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
}

describe('GrpcExtension nodes', () => {
  let dir: TempDir;
  let clip3: string;
  let clip4: string;
  let clip10: string;
  before(async () => {
    dir = tempDir();
    [clip3, clip4, clip10] = await Promise.all([streetClip(dir, 3), streetClip(dir, 4), streetClip(dir, 10)]);
  });
  after(() => dir.remove());

  describe('against our server (serve --grpc-port)', () => {
    let server: CliServer;
    let grpcPort: number;
    const credentials = { grpcExtensionUserName: 'camera', grpcExtensionPassword: 's3cret' };
    before(async () => {
      grpcPort = await freePort();
      server = await startCli([...SCORE_ONLY, '--workers', '1', '--grpc-port', String(grpcPort)], {
        HX_AUTH: 'basic',
        HX_AUTH_USERNAME: 'camera',
        HX_AUTH_PASSWORD: 's3cret',
      });
    });
    after(() => server.stop());

    /** The same clip through an HttpExtension node to the same server's /score, with `image` as given. */
    async function overHttp(clip: string, image: object): Promise<PipelineMessage[]> {
      const topology = avaTopology({
        endpoint: {
          '@type': '#Microsoft.VideoAnalyzer.UnsecuredEndpoint',
          url: '${inferencingUrl}',
          credentials: {
            '@type': '#Microsoft.VideoAnalyzer.UsernamePasswordCredentials',
            username: 'camera',
            password: 's3cret',
          },
        },
        image,
      });
      const { messages } = await runInProcess(topology, { rtspUrl: clip, inferencingUrl: `${server.url}/score` });
      return messages;
    }

    test('the vendor topology, BGR24 through shared memory: the messages the HTTP node publishes for the same frames', async () => {
      const { messages, counters, notices } = await runInProcess(vendorTopology(), {
        rtspUrl: clip3,
        grpcExtensionAddress: `tcp://127.0.0.1:${grpcPort}`,
        ...credentials,
      });
      assert.deepEqual(notices, []);
      assert.deepEqual(
        [counters.read, counters.sampled, counters.sent, counters.answered, counters.errors, counters.published],
        [3, 3, 3, 3, 0, 3],
      );
      const http = await overHttp(clip3, {
        format: { '@type': '#Microsoft.VideoAnalyzer.ImageFormatRaw', pixelFormat: 'bgr24' },
      });
      assert.equal(http.length, 3);
      assert.deepEqual(
        withoutTime(messages),
        withoutTime(http).map((m) => {
          const { properties, body } = m as PipelineMessage;
          return {
            properties: {
              ...properties,
              subject: '/livePipelines/test/processors/grpcExtension',
              outputName: 'iothubsinkoutput',
            },
            body,
          };
        }),
      );
      assert.deepEqual(
        messages.map((m) => m.body.timestamp),
        [0, 9000, 18_000],
      );
      assertAnalytics(messages);
      // The node removed its shared memory file.
      assert.deepEqual(
        readdirSync(SHM_DIR).filter((f) => f.startsWith('httpextension-test-grpcExtension')),
        [],
      );
    });

    test('LVA spelling, JPEG padded to 416x416 embedded, a JSON extensionConfiguration: as HTTP publishes it', async () => {
      const topology = withGrpcNode(lvaSpelling(vendorTopology()), {
        ...JPEG_PAD,
        ...EMBEDDED,
      });
      const { messages, counters } = await runInProcess(topology, {
        rtspUrl: clip3,
        grpcExtensionAddress: `tcp://127.0.0.1:${grpcPort}`,
        extensionConfiguration: JSON.stringify({ route: '/score', confidence: 0.5 }),
        ...credentials,
      });
      assert.deepEqual([counters.sent, counters.answered, counters.errors], [3, 3, 0]);
      const http = await overHttp(clip3, JPEG_PAD.image);
      assert.deepEqual(
        messages.map((m) => m.body),
        http.map((m) => m.body),
      );
      assert.deepEqual(messages[0]!.properties, {
        eventType: 'Microsoft.Media.Graph.Analytics.Inference',
        subject: '/graphInstances/test/processors/grpcExtension',
        eventTime: messages[0]!.properties.eventTime,
        dataVersion: '1.0',
        outputName: 'iothubsinkoutput',
      });
      assertAnalytics(messages);
    });

    test('credentials the server refuses: one ProtocolError UNAUTHENTICATED, and the pipeline stops', async () => {
      const sink = new CollectingSink();
      const runner = new PipelineRunner(
        parseTopology(vendorTopology(), {
          rtspUrl: clip3,
          grpcExtensionAddress: `tcp://127.0.0.1:${grpcPort}`,
          grpcExtensionUserName: 'camera',
          grpcExtensionPassword: 'wrong',
        }),
        'test',
        sink,
        { realtime: false, retryAfterDefaultSecs: 1, requestTimeoutMs: 10_000 },
      );
      await assert.rejects(runner.run(), (error: unknown) => {
        assert.ok(error instanceof HxError);
        assert.equal(error.code, 'HX_ERR_PIPELINE_EXTENSION');
        assert.match(error.message, /^grpcExtension: tcp:\/\/127\.0\.0\.1:\d+ ended the stream UNAUTHENTICATED \(/);
        return true;
      });
      assert.equal(sink.messages.length, 1);
      assert.deepEqual(withoutTime(sink.messages), [
        {
          properties: {
            eventType: 'Microsoft.VideoAnalyzer.Diagnostics.ProtocolError',
            subject: '/livePipelines/test/processors/grpcExtension',
            eventTime: 'T',
            dataVersion: '1.0',
          },
          body: {
            protocol: 'grpc',
            errorCode: 'UNAUTHENTICATED',
            errorMessage: 'HX_ERR_AUTH_INVALID: The x-ms-authentication credentials are not valid',
          },
        },
      ]);
    });
  });

  describe('against a Python server written from the protos', () => {
    let contract: ReturnType<typeof generatePythonContract>;
    before(() => {
      contract = generatePythonContract();
    });
    after(() => contract.remove());

    /** The classification the Python peer answers for one sample, as the runner must publish it. */
    function received(sequence: number, timestamp: number, facts: Record<string, string>, lva = false): unknown {
      return {
        properties: {
          eventType: lva ? 'Microsoft.Media.Graph.Analytics.Inference' : 'Microsoft.VideoAnalyzer.Analytics.Inference',
          subject: `/${lva ? 'graphInstances' : 'livePipelines'}/test/processors/grpcExtension`,
          eventTime: 'T',
          dataVersion: '1.0',
          outputName: 'iothubsinkoutput',
        },
        body: {
          timestamp,
          inferences: [
            {
              type: 'classification',
              subtype: 'received',
              classification: {
                tag: { value: `sample${sequence}`, confidence: 0.5 },
                attributes: Object.entries(facts).map(([name, value]) => ({ name, value })),
              },
            },
          ],
        },
      };
    }

    const raw = (transfer: string) => ({
      encoding: 'RAW',
      pixelFormat: 'BGR24',
      dimensions: '768x576',
      strideBytes: '2304',
      timescale: '90000',
      transfer,
      length: String(768 * 576 * 3),
      check: 'ok',
      configuration: '{}',
      node: 'test/grpcExtension',
      authentication: basic('dummyUserName', 'dummyPassword'),
    });

    test('the vendor topology (shared memory, BGR24): each ack published; an ack without inferences publishes nothing', async () => {
      const peer = await startPythonServer(contract.dir);
      try {
        const { messages, counters } = await runInProcess(vendorTopology(), {
          rtspUrl: clip4,
          grpcExtensionAddress: `tcp://127.0.0.1:${peer.port}`,
        });
        assert.deepEqual([counters.sent, counters.answered, counters.errors, counters.published], [4, 4, 0, 3]);
        // Samples 2, 3, 4, 5; the peer answers sample 4 with no inferences. One frame in flight: offset 0 each time.
        // (Cut by stream copy, the 4-frame clip's last frame is the one at 0.4 s: 0.3 s was a B-frame after it.)
        assert.deepEqual(withoutTime(messages), [
          received(2, 0, raw('sharedMemory@0')),
          received(3, 9000, raw('sharedMemory@0')),
          received(5, 36_000, raw('sharedMemory@0')),
        ]);
        assertAnalytics(messages);
      } finally {
        peer.stop();
      }
    });

    test('LVA spelling, JPEG embedded: the descriptor says JPG 416x416 and carries extensionConfiguration', async () => {
      const peer = await startPythonServer(contract.dir);
      try {
        const topology = withGrpcNode(lvaSpelling(vendorTopology()), {
          ...JPEG_PAD,
          ...EMBEDDED,
          endpoint: { '@type': '#Microsoft.Media.MediaGraphUnsecuredEndpoint', url: '${grpcExtensionAddress}' },
        });
        const { messages } = await runInProcess(topology, {
          rtspUrl: clip3,
          grpcExtensionAddress: `tcp://127.0.0.1:${peer.port}`,
          extensionConfiguration: 'model=yolo',
        });
        const jpeg = {
          encoding: 'JPG',
          pixelFormat: 'NONE',
          dimensions: '416x416',
          strideBytes: '0',
          timescale: '90000',
          transfer: 'embedded',
          check: 'ok',
          configuration: 'model=yolo',
          node: 'test/grpcExtension',
          authentication: '',
        };
        assert.deepEqual(withoutTime(messages), [received(2, 0, jpeg, true), received(3, 9000, jpeg, true)]);
        assertAnalytics(messages);
      } finally {
        peer.stop();
      }
    });

    test('live, a slow extension: 4 frames in flight in 4 shared memory slots, the other 6 skipped', async () => {
      const hold = releaseFile();
      const peer = await startPythonServer(contract.dir, decodeURIComponent(hold.path));
      try {
        const sink = new CollectingSink();
        const runner = new PipelineRunner(
          parseTopology(vendorTopology(), { rtspUrl: clip10, grpcExtensionAddress: `tcp://127.0.0.1:${peer.port}` }),
          'test',
          sink,
          { realtime: true, retryAfterDefaultSecs: 1, requestTimeoutMs: 30_000 },
        );
        const running = runner.run();
        // Every frame after the 4th finds the window full while the peer holds its acks.
        await until('six frames skipped', () => runner.counters().dropped === 6);
        hold.release();
        const counters = await running;
        assert.deepEqual(
          [counters.read, counters.sampled, counters.sent, counters.dropped, counters.answered, counters.published],
          [10, 10, 4, 6, 4, 3],
        );
        // No slot was reused before its ack: the four frames sat side by side.
        const size = 768 * 576 * 3;
        assert.deepEqual(withoutTime(sink.messages), [
          received(2, 0, raw('sharedMemory@0')),
          received(3, 9000, raw(`sharedMemory@${size}`)),
          received(5, 27_000, raw(`sharedMemory@${3 * size}`)),
        ]);
      } finally {
        peer.stop();
      }
    });
  });

  test('topology errors name the property', () => {
    const refused = (override: Record<string, unknown>): string => {
      try {
        parseTopology(withGrpcNode(vendorTopology(), override), { rtspUrl: clip3 });
      } catch (error) {
        assert.ok(error instanceof HxError);
        return error.message;
      }
      return assert.fail('accepted');
    };
    assert.equal(
      refused({ endpoint: { '@type': '#Microsoft.VideoAnalyzer.UnsecuredEndpoint', url: 'http://ext:5001/score' } }),
      'grpcExtension.endpoint.url must be tcp://host:port, not http://ext:5001/score',
    );
    assert.equal(
      refused({ dataTransfer: undefined }),
      'grpcExtension.dataTransfer is required: {"mode": "embedded"} or {"mode": "sharedMemory", "sharedMemorySizeMiB": "64"}',
    );
    assert.equal(
      refused({ dataTransfer: { mode: 'sharedMemory' } }),
      'grpcExtension.dataTransfer.sharedMemorySizeMiB is required with mode sharedMemory',
    );
    assert.equal(
      refused({ dataTransfer: { mode: 'embedded', sharedMemorySizeMiB: '5' } }),
      'grpcExtension.dataTransfer.sharedMemorySizeMiB is only valid with mode sharedMemory',
    );
    assert.equal(
      refused({ dataTransfer: { mode: 'pigeon' } }),
      'grpcExtension.dataTransfer.mode must be embedded or sharedMemory, not "pigeon"',
    );
    const plan = parseTopology(vendorTopology(), { rtspUrl: clip3 });
    assert.deepEqual(plan.extensions, [
      {
        name: 'grpcExtension',
        endpoint: {
          url: 'tcp://avaextension:5001',
          credentials: { kind: 'usernamePassword', username: 'dummyUserName', password: 'dummyPassword' },
        },
        format: { kind: 'raw', pixelFormat: 'bgr24' },
        maximumSamplesPerSecond: [],
        address: 'avaextension:5001',
        dataTransfer: { mode: 'sharedMemory', sizeMiB: 64 },
        extensionConfiguration: '{}',
      },
    ]);
  });

  test('the shared memory ring reuses a region only once it and every older one were acked', () => {
    const ring = new SharedMemoryRing('hx-ring-test', 100);
    try {
      assert.equal(existsSync(ring.path), true);
      assert.deepEqual([ring.allocate(40), ring.allocate(40), ring.allocate(40)], [0, 40, undefined]);
      ring.release(40); // out of order: region 0 still holds a frame, so nothing is reclaimed yet
      assert.equal(ring.allocate(30), undefined);
      assert.equal(ring.allocate(20), 80); // the end of the file was free all along
      ring.release(0); // 0 and 40 reclaimed; 80 still in use
      assert.deepEqual([ring.allocate(60), ring.allocate(30)], [0, undefined]); // wrapped: only [60, 80) is free
      assert.equal(ring.allocate(20), 60);
      assert.equal(ring.allocate(101), undefined);
      assert.equal(ring.pending, 3);
    } finally {
      ring.close();
    }
    assert.equal(existsSync(ring.path), false);
  });
});
