// biome-ignore-all lint/suspicious/noTemplateCurlyInString: topologies write their parameters as ${name} in plain strings
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { RAW_FORMAT_NAMES } from '../src/contract/pixel-format.js';
import { HxError } from '../src/errors.js';
import type { PipelineMessage } from '../src/pipeline/pipeline-message.js';
import { PipelineRunner } from '../src/pipeline/pipeline-runner.js';
import { SHM_DIR, SharedMemoryRing } from '../src/pipeline/shared-memory-ring.js';
import { parseTopology } from '../src/pipeline/topology.js';
import { type CliServer, SCORE_ONLY, startCli } from './helpers/cli.js';
import {
  assertAnalytics,
  EMBEDDED,
  JPEG_PAD,
  lvaSpelling,
  vendorTopology,
  withGrpcNode,
  withoutTime,
} from './helpers/grpc-pipeline.js';
import {
  avaTopology,
  CollectingSink,
  freePort,
  runInProcess,
  streetClip,
  type TempDir,
  tempDir,
} from './helpers/pipeline.js';

/** The runner's GrpcExtension node against our own server; the Python peer's tests are in pipeline-grpc-peer. */
describe('GrpcExtension nodes', () => {
  let dir: TempDir;
  let clip3: string;
  before(async () => {
    dir = tempDir();
    clip3 = await streetClip(dir, 3);
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
      // A pipeline name of its own: its shared memory file is told apart from other test files' running meanwhile.
      const { messages, counters, notices, origin90k } = await runInProcess(
        vendorTopology(),
        { rtspUrl: clip3, grpcExtensionAddress: `tcp://127.0.0.1:${grpcPort}`, ...credentials },
        { name: 'shmcheck' },
      );
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
              subject: '/edgeModules/avaedge/livePipelines/shmcheck/processors/grpcExtension',
              outputName: 'iothubsinkoutput',
            },
            body,
          };
        }),
      );
      assert.deepEqual(
        messages.map((m) => Number(m.body.timestamp) - origin90k),
        [0, 9000, 18_000],
      );
      assertAnalytics(messages);
      // The node removed its shared memory file.
      assert.deepEqual(
        readdirSync(SHM_DIR).filter((f) => f.startsWith('httpextension-shmcheck-grpcExtension')),
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
      const bodies = (list: PipelineMessage[]) => withoutTime(list).map((m) => (m as { body: unknown }).body);
      assert.deepEqual(bodies(messages), bodies(http));
      assert.deepEqual(messages[0]!.properties, {
        eventType: 'Microsoft.Media.Graph.Analytics.Inference',
        subject: '/graphInstances/test/processors/grpcExtension',
        eventTime: messages[0]!.properties.eventTime,
        dataVersion: '1.0',
        outputName: 'iothubsinkoutput',
        topic:
          '/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/edge/providers/Microsoft.Media/mediaServices/avaedge',
      });
      assertAnalytics(messages);
    });

    test('each of the 11 raw pixel formats: one node per format, the same messages as HTTP nodes sending the same', async () => {
      const nodes = (kind: 'Grpc' | 'Http') =>
        RAW_FORMAT_NAMES.map((pixelFormat) => ({
          '@type': `#Microsoft.VideoAnalyzer.${kind}Extension`,
          name: `${kind.toLowerCase()}_${pixelFormat}`,
          endpoint: {
            '@type': '#Microsoft.VideoAnalyzer.UnsecuredEndpoint',
            url: kind === 'Grpc' ? `tcp://127.0.0.1:${grpcPort}` : `${server.url}/score`,
            credentials: {
              '@type': '#Microsoft.VideoAnalyzer.UsernamePasswordCredentials',
              username: 'camera',
              password: 's3cret',
            },
          },
          ...(kind === 'Grpc' ? EMBEDDED : {}),
          image: {
            scale: { mode: 'stretch', width: '64', height: '48' },
            format: { '@type': '#Microsoft.VideoAnalyzer.ImageFormatRaw', pixelFormat },
          },
          inputs: [{ nodeName: 'rtspSource' }],
        }));
      const topology = (kind: 'Grpc' | 'Http') => {
        const base = avaTopology() as { properties: Record<string, unknown[]> };
        const processors = nodes(kind);
        return {
          ...base,
          properties: {
            ...base.properties,
            processors,
            sinks: [
              {
                '@type': '#Microsoft.VideoAnalyzer.IotHubMessageSink',
                name: 'hubSink',
                hubOutputName: 'out',
                inputs: processors.map((p) => ({ nodeName: p.name })),
              },
            ],
          },
        };
      };
      const clip = await streetClip(dir, 1);
      const grpc = await runInProcess(topology('Grpc'), { rtspUrl: clip, inferencingUrl: 'unused' });
      const http = await runInProcess(topology('Http'), { rtspUrl: clip, inferencingUrl: 'unused' });
      assert.deepEqual([grpc.counters.sent, grpc.counters.answered, grpc.counters.errors], [11, 11, 0]);
      // Each run's timestamps are on the absolute clock from its own start: compared from there.
      const bySubject = (run: typeof grpc, kind: string) =>
        Object.fromEntries(
          run.messages.map((m) => [
            m.properties.subject.replace(`/${kind}_`, '/'),
            { ...m.body, timestamp: Number(m.body.timestamp) - run.origin90k },
          ]),
        );
      assert.deepEqual(bySubject(grpc, 'grpc'), bySubject(http, 'http'));
      assert.equal(Object.keys(bySubject(grpc, 'grpc')).length, 11);
      assertAnalytics(grpc.messages);
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
            subject: '/edgeModules/avaedge/livePipelines/test/processors/grpcExtension',
            eventTime: 'T',
            dataVersion: '1.0',
            topic:
              '/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/edge/providers/Microsoft.Media/videoAnalyzers/avaedge',
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
    assert.equal(
      refused({
        endpoint: {
          '@type': '#Microsoft.VideoAnalyzer.TlsEndpoint',
          url: 'tcp://ext:5001',
          validationOptions: { ignoreSignature: 'true' },
        },
      }),
      'grpcExtension.endpoint.validationOptions: ignoreSignature without ignoreHostname cannot be honoured over gRPC; trust the certificate with trustedCertificates instead',
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
