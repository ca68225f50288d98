import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { after, before, describe, test } from 'node:test';
import {
  avaTopology,
  json,
  mediaTimes,
  runInProcess,
  startDouble,
  streetClip,
  type TempDir,
  tempDir,
} from './helpers/pipeline.js';

const RESULT = { inferences: [{ type: 'classification', classification: { tag: { value: 'dark', confidence: 1 } } }] };

describe('HttpExtension protocol behaviour, against a test double', () => {
  let dir: TempDir;
  let clip3: string;
  let clip10: string;
  before(async () => {
    dir = tempDir();
    clip3 = await streetClip(dir, 3);
    clip10 = await streetClip(dir, 10);
  });
  after(() => dir.remove());

  test('request line and headers of protocol.md; path and query kept', async () => {
    const double = await startDouble((_r, _i, res) => json(res, 200, RESULT));
    try {
      const { counters } = await runInProcess(avaTopology(), {
        rtspUrl: clip3,
        inferencingUrl: `${double.url}?confidence=0.5`,
      });
      assert.deepEqual([counters.read, counters.sent, counters.answered, counters.published], [3, 3, 3, 3]);
      const ids = new Set<string>();
      for (const r of double.requests) {
        assert.equal(r.method, 'POST');
        assert.equal(r.url, '/score?confidence=0.5');
        assert.equal(r.headers['content-type'], 'image/bmp');
        assert.equal(r.headers.accept, 'application/json');
        assert.equal(r.headers['user-agent'], 'Azure Media Services');
        assert.equal(Number(r.headers['content-length']), r.body.length);
        assert.equal(r.body.length, 768 * 576 * 3 + 54); // a 24-bit BMP of the native frame
        const id = String(r.headers['x-ms-client-request-id']);
        assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
        ids.add(id);
      }
      assert.equal(ids.size, 3);
    } finally {
      await double.close();
    }
  });

  test('LVA topologies send Accept: application/json, */*; an answer {"inferences": []} publishes nothing', async () => {
    const double = await startDouble((_r, _i, res) => json(res, 200, { inferences: [] }));
    try {
      const lva = { ...(avaTopology() as Record<string, unknown>), '@apiVersion': '2.0' };
      const { messages, counters } = await runInProcess(lva, { rtspUrl: clip3, inferencingUrl: double.url });
      assert.deepEqual(
        double.requests.map((r) => r.headers.accept),
        ['application/json, */*', 'application/json, */*', 'application/json, */*'],
      );
      assert.deepEqual(messages, []);
      assert.deepEqual([counters.sent, counters.answered, counters.errors], [3, 3, 0]);
    } finally {
      await double.close();
    }
  });

  test('JSON outside the inference schema is forwarded as it is; extra top-level keys are kept', async () => {
    const answers = [
      { result: 'dark', score: 0.2 },
      { inferences: [{ type: 'motion', motion: {} }], modelVersion: '7' },
    ];
    const double = await startDouble((_r, i, res) => json(res, 200, answers[i % 2]));
    try {
      const { messages, origin90k } = await runInProcess(avaTopology(), { rtspUrl: clip3, inferencingUrl: double.url });
      assert.deepEqual(mediaTimes(messages, origin90k), [0, 9000, 18_000]);
      assert.deepEqual(
        messages.map((m) => ({ ...m.body, timestamp: (m.body.timestamp as number) - origin90k })),
        [
          { timestamp: 0, result: 'dark', score: 0.2 },
          { timestamp: 9000, inferences: [{ type: 'motion', motion: {} }], modelVersion: '7' },
          { timestamp: 18_000, result: 'dark', score: 0.2 },
        ],
      );
    } finally {
      await double.close();
    }
  });

  test('204 publishes nothing', async () => {
    const double = await startDouble((_r, _i, res) => {
      res.writeHead(204);
      res.end();
    });
    try {
      const { messages, counters } = await runInProcess(avaTopology(), { rtspUrl: clip3, inferencingUrl: double.url });
      assert.deepEqual(messages, []);
      assert.deepEqual([counters.sent, counters.answered, counters.errors], [3, 3, 0]);
    } finally {
      await double.close();
    }
  });

  test('4xx: a ProtocolError diagnostics event carrying the answer body', async () => {
    const body = '{"statusCode":400,"code":"HX_ERR_MEDIA_UNDECODABLE","message":"not an image"}';
    const double = await startDouble((_r, _i, res) => {
      res.writeHead(400, { 'content-type': 'application/json' });
      res.end(body);
    });
    try {
      const { messages, counters, notices } = await runInProcess(avaTopology(), {
        rtspUrl: clip3,
        inferencingUrl: double.url,
      });
      assert.deepEqual([counters.sent, counters.answered, counters.errors], [3, 0, 3]);
      assert.equal(messages.length, 3);
      // Echoed on stderr, as network errors are.
      assert.deepEqual(notices, Array(3).fill(`test: httpExtension: ${double.url}: HTTP 400: ${body}`));
      for (const m of messages) {
        const { eventTime: _t, ...properties } = m.properties;
        assert.deepEqual(properties, {
          topic:
            '/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/edge/providers/Microsoft.Media/videoAnalyzers/avaedge',
          subject: '/edgeModules/avaedge/livePipelines/test/processors/httpExtension',
          eventType: 'Microsoft.VideoAnalyzer.Diagnostics.ProtocolError',
          dataVersion: '1.0',
        });
        assert.deepEqual(m.body, { protocol: 'http', errorCode: '400', errorMessage: body });
      }
    } finally {
      await double.close();
    }
  });

  test('503 with Retry-After: the node waits that long before the next request', async () => {
    const double = await startDouble((_r, i, res) =>
      i === 0
        ? json(res, 503, { code: 'HX_ERR_CAPACITY_QUEUE_FULL', message: 'queue full' }, { 'retry-after': '1' })
        : json(res, 200, RESULT),
    );
    try {
      const { messages } = await runInProcess(avaTopology(), { rtspUrl: clip3, inferencingUrl: double.url });
      assert.equal(double.requests.length, 3);
      assert.ok(double.requests[1]!.at - double.requests[0]!.at >= 990, 'second request within Retry-After');
      assert.deepEqual(
        messages.map((m) => m.properties.eventType),
        [
          'Microsoft.VideoAnalyzer.Diagnostics.ProtocolError',
          'Microsoft.VideoAnalyzer.Analytics.Inference',
          'Microsoft.VideoAnalyzer.Analytics.Inference',
        ],
      );
      assert.deepEqual(messages[0]!.body, {
        protocol: 'http',
        errorCode: '503',
        errorMessage: '{"code":"HX_ERR_CAPACITY_QUEUE_FULL","message":"queue full"}',
      });
    } finally {
      await double.close();
    }
  });

  test('503 without Retry-After backs off for the default', async () => {
    const double = await startDouble((_r, i, res) => (i === 0 ? json(res, 503, {}) : json(res, 200, RESULT)));
    try {
      await runInProcess(avaTopology(), { rtspUrl: clip3, inferencingUrl: double.url }, { retryAfterDefaultSecs: 1 });
      assert.ok(double.requests[1]!.at - double.requests[0]!.at >= 990);
    } finally {
      await double.close();
    }
  });

  test('live: frames that arrive during a 503 back-off are dropped and counted', async () => {
    const double = await startDouble((_r, _i, res) => json(res, 503, {}, { 'retry-after': '30' }));
    try {
      const { counters } = await runInProcess(
        avaTopology(),
        { rtspUrl: clip10, inferencingUrl: double.url },
        { realtime: true },
      );
      // The 1 s clip ends long before the 30 s back-off.
      assert.deepEqual([counters.read, counters.sent, counters.dropped, counters.errors], [10, 1, 9, 1]);
    } finally {
      await double.close();
    }
  });

  test('live: at most one request in flight; frames meanwhile are dropped', async () => {
    const double = await startDouble(async (_r, _i, res) => {
      await new Promise((resolve) => setTimeout(resolve, 250));
      json(res, 200, RESULT);
    });
    try {
      const { counters, messages } = await runInProcess(
        avaTopology(),
        { rtspUrl: clip10, inferencingUrl: double.url },
        { realtime: true },
      );
      assert.equal(double.maxConcurrent, 1);
      assert.equal(counters.sent + counters.dropped, 10);
      assert.ok(counters.dropped > 0, 'frames every 100 ms, answers after 250 ms: some must be dropped');
      assert.equal(messages.length, counters.sent);
    } finally {
      await double.close();
    }
  });

  test('a network error is a ProtocolError with the socket error code', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as { port: number }).port;
    await new Promise((resolve) => closed.close(resolve));
    const { messages, counters } = await runInProcess(avaTopology(), {
      rtspUrl: clip3,
      inferencingUrl: `http://127.0.0.1:${port}/score`,
    });
    assert.equal(counters.errors, 3);
    assert.equal(messages.length, 3);
    assert.equal((messages[0]!.body as { errorCode: string }).errorCode, 'ECONNREFUSED');
    assert.equal(messages[0]!.properties.eventType, 'Microsoft.VideoAnalyzer.Diagnostics.ProtocolError');
  });

  test('a 200 that is not JSON is published base64-wrapped', async () => {
    const double = await startDouble((_r, _i, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('dark');
    });
    try {
      const { messages } = await runInProcess(avaTopology(), { rtspUrl: clip3, inferencingUrl: double.url });
      assert.deepEqual(messages[0]!.body.inferences, [
        { type: 'other', other: { contentType: 'text/plain', contentBytes: Buffer.from('dark').toString('base64') } },
      ]);
    } finally {
      await double.close();
    }
  });
});
