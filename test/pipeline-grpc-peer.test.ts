// biome-ignore-all lint/suspicious/noTemplateCurlyInString: topologies write their parameters as ${name} in plain strings
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { PipelineRunner } from '../src/pipeline/pipeline-runner.js';
import { parseTopology } from '../src/pipeline/topology.js';
import {
  assertAnalytics,
  basic,
  EMBEDDED,
  JPEG_PAD,
  lvaSpelling,
  vendorTopology,
  withGrpcNode,
  withoutTime,
} from './helpers/grpc-pipeline.js';
import { releaseFile, until } from './helpers/http.js';
import { CollectingSink, fixturePath, runInProcess, streetClip, type TempDir, tempDir } from './helpers/pipeline.js';
import { generatePythonContract, startPythonServer } from './helpers/python-grpc.js';

/** The runner's GrpcExtension node feeding an independent server: test/python/grpc_server.py, built from the protos. */
describe('GrpcExtension nodes against a Python server written from the protos', () => {
  let dir: TempDir;
  let clip3: string;
  let clip4: string;
  let clip10: string;
  let contract: ReturnType<typeof generatePythonContract>;
  before(async () => {
    dir = tempDir();
    contract = generatePythonContract();
    [clip3, clip4, clip10] = await Promise.all([streetClip(dir, 3), streetClip(dir, 4), streetClip(dir, 10)]);
  });
  after(() => {
    dir.remove();
    contract.remove();
  });

  describe('shared memory and embedded', () => {
    /** The classification the Python peer answers for one sample, as the runner must publish it. */
    function received(sequence: number, timestamp: number, facts: Record<string, string>, lva = false): unknown {
      return {
        properties: {
          eventType: lva ? 'Microsoft.Media.Graph.Analytics.Inference' : 'Microsoft.VideoAnalyzer.Analytics.Inference',
          subject: `${lva ? '/graphInstances' : '/edgeModules/avaedge/livePipelines'}/test/processors/grpcExtension`,
          eventTime: 'T',
          dataVersion: '1.0',
          outputName: 'iothubsinkoutput',
          topic: `/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/edge/providers/Microsoft.Media/${lva ? 'mediaServices' : 'videoAnalyzers'}/avaedge`,
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
      const peer = await startPythonServer(contract.dir, { holdFile: decodeURIComponent(hold.path) });
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

  test('a sample never acked within --request-timeout-ms breaks its stream: one ProtocolError, then a new stream', async () => {
    const hold = releaseFile(); // never released: the peer acks nothing
    const peer = await startPythonServer(contract.dir, { holdFile: decodeURIComponent(hold.path) });
    try {
      const { messages, counters } = await runInProcess(
        vendorTopology(),
        { rtspUrl: clip3, grpcExtensionAddress: `tcp://127.0.0.1:${peer.port}` },
        { requestTimeoutMs: 200, retryAfterDefaultSecs: 0 },
      );
      assert.deepEqual([counters.sent, counters.answered, counters.errors, counters.published], [3, 0, 3, 3]);
      // Each frame opened a new stream (the first sample of a stream is number 2).
      assert.deepEqual(
        withoutTime(messages).map((m) => (m as { body: unknown }).body),
        Array.from({ length: 3 }, () => ({
          protocol: 'grpc',
          errorCode: 'DEADLINE_EXCEEDED',
          errorMessage: 'sample 2 was not acked within 200 ms',
        })),
      );
    } finally {
      peer.stop();
    }
  });

  describe('TlsEndpoint, the peer with a certificate for extension.test', () => {
    let peer: Awaited<ReturnType<typeof startPythonServer>>;
    const ca = readFileSync(fixturePath('tls/ca.pem'), 'utf8');
    before(async () => {
      peer = await startPythonServer(contract.dir, {
        tls: { cert: fixturePath('tls/extension-test.pem'), key: fixturePath('tls/extension-test-key.pem') },
      });
    });
    after(() => peer.stop());

    async function runTls(tls: Record<string, unknown>) {
      const topology = withGrpcNode(vendorTopology(), {
        ...EMBEDDED,
        endpoint: { '@type': '#Microsoft.VideoAnalyzer.TlsEndpoint', url: '${grpcExtensionAddress}', ...tls },
      });
      // No back-off between failed streams: each frame tries again at once.
      return runInProcess(
        topology,
        { rtspUrl: clip3, grpcExtensionAddress: `tcp://127.0.0.1:${peer.port}` },
        { retryAfterDefaultSecs: 0 },
      );
    }

    test('the CA trusted and ignoreHostname: answered; without ignoreHostname or the CA: one ProtocolError per stream', async () => {
      const trusted = {
        trustedCertificates: { '@type': '#Microsoft.VideoAnalyzer.PemCertificateList', certificates: [ca] },
      };
      const ok = await runTls({ ...trusted, validationOptions: { ignoreHostname: 'true' } });
      assert.deepEqual([ok.counters.sent, ok.counters.answered, ok.counters.errors], [3, 3, 0]);
      assert.deepEqual(
        ok.messages.map((m) => Number(m.body.timestamp) - ok.origin90k),
        [0, 9000],
      );
      assertAnalytics(ok.messages);
      for (const [tls, reason] of [
        [trusted, /altnames/],
        [{}, /self[- ]signed|unable to (get|verify)/i],
      ] as const) {
        const refused = await runTls(tls);
        assert.deepEqual([refused.counters.sent, refused.counters.answered, refused.counters.errors], [3, 0, 3]);
        for (const m of refused.messages) {
          assert.equal(m.properties.eventType, 'Microsoft.VideoAnalyzer.Diagnostics.ProtocolError');
          assert.equal(m.body.protocol, 'grpc');
          assert.equal(m.body.errorCode, 'UNAVAILABLE');
          assert.match(String(m.body.errorMessage), reason);
        }
      }
    });
  });
});
