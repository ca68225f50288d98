import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import sharp from 'sharp';
import { encodeBmp } from '../src/pipeline/pixel-encoders.js';
import { post } from './helpers/http.js';
import { EXAMPLE, startTestServer, type TestServer } from './helpers/server.js';

describe('examples/average-color: a user processor loaded from a file path by config', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({
      routes: [{ path: '/color', processor: EXAMPLE, options: { precision: 2 } }],
    });
  });
  after(() => server.close());

  test('answers the average colour of a known image', async () => {
    // 4x2: left half pure red, right half pure blue -> mean (127.5, 0, 127.5)
    const rgb = new Uint8Array(4 * 2 * 3);
    for (let p = 0; p < 8; p++) rgb.set(p % 4 < 2 ? [255, 0, 0] : [0, 0, 255], p * 3);
    const answer = await post(server.at('/color'), encodeBmp(rgb, 4, 2), { 'content-type': 'image/bmp' });
    assert.equal(answer.status, 200);
    assert.deepEqual(answer.json, {
      inferences: [
        {
          type: 'classification',
          subtype: 'averageColor',
          classification: {
            tag: { value: '#800080', confidence: 1 },
            attributes: [
              { name: 'red', value: '127.50' },
              { name: 'green', value: '0.00' },
              { name: 'blue', value: '127.50' },
            ],
          },
        },
      ],
    });
  });

  test('the query reaches the processor: ?min=200 gives 204 for a mid-grey frame', async () => {
    const grey = await sharp({ create: { width: 8, height: 8, channels: 3, background: '#646464' } })
      .png()
      .toBuffer();
    assert.equal((await post(server.at('/color?min=200'), grey)).status, 204);
    assert.equal((await post(server.at('/color?min=50'), grey)).status, 200);
  });
});
