import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { type Browser, chromium, type Page } from 'playwright-core';
import sharp from 'sharp';
import { Agent, request } from 'undici';
import { type CliServer, SCORE_ONLY, startCli } from './helpers/cli.js';
import { fixture, get } from './helpers/http.js';

// A file of its own so that the longest console test runs beside the others instead of after them.

declare const document: {
  getElementById(id: string): { textContent: string | null; getAttribute(name: string): string | null } | null;
  querySelectorAll(selector: string): ArrayLike<{ value?: string }>;
};

const CHROMIUM = process.env.HX_TEST_CHROMIUM ?? '/usr/bin/chromium';
/**
 * As many bytes as the 768x576 street frame, so that 1,800 of them kept without bound (197 MB) would break the RSS
 * bound below, but 96x72 pixels padded with comment segments: the claim is about the bytes the rings and the server
 * hold, and a small picture costs the server and the viewer's browser a fraction of the decoding.
 */
async function paddedFrame(): Promise<Buffer> {
  const target = fixture('frames/street100_768x576.jpg').byteLength;
  const small = await sharp(fixture('frames/street100_768x576.jpg')).resize(96, 72).jpeg({ quality: 80 }).toBuffer();
  const segments: Buffer[] = [];
  let missing = target - small.byteLength;
  while (missing > 0) {
    // A COM segment: marker, 2-byte length (itself included), then at most 65,533 bytes of text.
    const length = Math.min(65535, Math.max(3, missing - 2));
    const segment = Buffer.alloc(length + 2, 0x20);
    segment.writeUInt16BE(0xfffe, 0);
    segment.writeUInt16BE(length, 2);
    segments.push(segment);
    missing -= segment.byteLength;
  }
  // After SOI, before the rest: a comment anywhere among the header segments is valid JPEG.
  return Buffer.concat([small.subarray(0, 2), ...segments, small.subarray(2)]);
}
let LARGE: Buffer;

/** Resident memory of a process, from /proc (the server's, not this test's). */
function rssBytes(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8')
    .split('\n')
    .find((l) => l.startsWith('VmRSS:'));
  return Number(/(\d+)/.exec(line ?? '')?.[1] ?? Number.NaN) * 1024;
}

let server: CliServer;
let browser: Browser;
let page: Page;

before(async () => {
  LARGE = await paddedFrame();
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: apt-get install chromium (or set HX_TEST_CHROMIUM)`);
  // One after the other: a browser launched beside a server that failed to start would keep this file alive.
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  // Only the cheap route the flood uses: no detector to load for a test about the console's rings.
  server = await startCli([...SCORE_ONLY, '--workers', '1']);
  page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));
  await page.goto(`${server.url}/`);
  assert.deepEqual(errors, []);
});
after(async () => {
  await browser?.close();
  await server?.stop();
});

test('memory stays bounded while a viewer watches 1,800 frames (a minute at 30 frames/s)', async (t) => {
  const agent = new Agent({ connections: 4 });
  const send = async (n: number) => {
    const workers = Array.from({ length: 4 }, async (_, w) => {
      for (let i = w; i < n; i += 4) {
        const response = await request(`${server.url}/score?stream=flood`, {
          method: 'POST',
          body: LARGE,
          headers: { 'content-type': 'image/jpeg' },
          dispatcher: agent,
        });
        assert.equal(response.statusCode, 200);
        await response.body.dump();
      }
    });
    await Promise.all(workers);
  };
  await send(100);
  // The page watches the flood from here on (the select lists it once the state poll has seen it).
  await page.waitForFunction(() =>
    Array.from(document.querySelectorAll('#stream option')).some((o) => o.value === 'flood'),
  );
  await page.selectOption('#stream', 'flood');
  await page.waitForFunction(() => (document.getElementById('view-caption')?.textContent ?? '').includes('/score'));
  // Warm: the heap and the allocator reach their working size before the measured part.
  await send(200);
  const before = rssBytes(server.child.pid!);
  await send(1800);
  const after = rssBytes(server.child.pid!);
  const state = (await get(`${server.url}/console/api/state`)).json as {
    heldBytes: number;
    streams: Array<{ stream: string; received: number }>;
  };
  assert.equal(state.streams.find((s) => s.stream === 'flood')?.received, 2100);
  // Eight frames of the watched stream, the only one here: the rings' own bound.
  assert.ok(state.heldBytes <= 8 * LARGE.byteLength, `held ${state.heldBytes} bytes`);
  t.diagnostic(
    `server RSS ${(before / 1048576).toFixed(1)} -> ${(after / 1048576).toFixed(1)} MiB, rings hold ${state.heldBytes} bytes`,
  );
  assert.ok(after - before < 96 * 1024 * 1024, `RSS grew by ${((after - before) / 1048576).toFixed(1)} MiB`);
  await page.waitForFunction(() => Number(document.getElementById('view-stage')?.getAttribute('data-shown')) > 3);
  await agent.close();
});
