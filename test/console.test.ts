import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { type Browser, chromium, type Page } from 'playwright-core';
import { request } from 'undici';
import { cpuBudget } from '../src/config/defaults.js';
import { type CliServer, SCORE_ONLY, startCli } from './helpers/cli.js';
import { FirefoxPage } from './helpers/firefox-bidi.js';
import { assertError, fixture, get, post } from './helpers/http.js';

/** The page's document as far as the callbacks below use it (they run in the browser; the project has no DOM types). */
interface PageElement {
  textContent: string | null;
  getBoundingClientRect(): { width: number };
  value?: string;
  naturalWidth?: number;
  getAttribute(name: string): string | null;
}
declare const document: {
  documentElement?: { scrollWidth: number };
  getElementById(id: string): PageElement | null;
  querySelector(selector: string): PageElement | null;
  querySelectorAll(selector: string): ArrayLike<PageElement>;
};

/** Debian's chromium, which .ci/run installs; the console is tested in a real browser or not at all. */
const CHROMIUM = process.env.HX_TEST_CHROMIUM ?? '/usr/bin/chromium';
const FIREFOX = process.env.HX_TEST_FIREFOX ?? '/usr/bin/firefox-esr';
const STREET = fixture('frames/street100_416.jpg');

async function launch(): Promise<Browser> {
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: apt-get install chromium (or set HX_TEST_CHROMIUM)`);
  return chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
}

interface Answer {
  inferences: Array<{ type: string; entity?: { tag: { value: string } } }>;
}

/** Opens an event stream and resolves with its status once the head arrives; the socket stays open until destroyed. */
function openLive(base: string, stream: string, headers: Record<string, string> = {}) {
  return new Promise<{ status: number; close(): void; first: Promise<string> }>((resolve, reject) => {
    const req = httpRequest(`${base}/console/api/live?stream=${encodeURIComponent(stream)}`, { headers }, (res) => {
      let text = '';
      const first = new Promise<string>((done) => {
        res.on('data', (chunk) => {
          text += chunk;
          if (text.includes('\n\n')) done(text);
        });
        res.on('end', () => done(text));
      });
      resolve({ status: res.statusCode ?? 0, close: () => req.destroy(), first });
    });
    req.on('error', reject);
    req.end();
  });
}

/** One browser for the whole file: each launch costs a second or two of CPU. */
let browser: Browser;
before(async () => {
  browser = await launch();
});
after(async () => {
  await browser?.close();
});

describe('web console', () => {
  let server: CliServer;
  let page: Page;

  before(async () => {
    // The browser first (file-level hook): one launched beside a server that failed to start would keep this file alive.
    server = await startCli(
      [
        '--route',
        '/score=colorIntensity',
        '--route',
        '/detect=objectDetection',
        '--route',
        '/motion=motion',
        '--workers',
        '1',
      ],
      {},
      { processes: 'default' },
    );
    page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    // A stream named in the address is watched at once: its first frame is kept for the page.
    await page.goto(`${server.url}/?stream=cam1`);
    assert.deepEqual(errors, []);
  });
  after(async () => {
    await page?.close();
    await server?.stop();
  });

  test('GET / is the page for a browser, the JSON index for anyone else; strict CSP; script and stylesheet served', async () => {
    const index = await get(`${server.url}/`);
    assert.equal(index.status, 200);
    assert.deepEqual((index.json as { console: string; routes: unknown[] }).console, '/console/');
    const html = await request(`${server.url}/`, { headers: { accept: 'text/html,application/xhtml+xml;q=0.9' } });
    assert.equal(html.statusCode, 200);
    assert.equal(html.headers['content-type'], 'text/html; charset=utf-8');
    assert.match(String(html.headers['content-security-policy']), /default-src 'none'; script-src 'self';/);
    assert.match(await html.body.text(), /<script src="\/console\/app.js"><\/script>/);
    for (const [path, type] of [
      ['/console/app.js', 'text/javascript; charset=utf-8'],
      ['/console/app.css', 'text/css; charset=utf-8'],
    ]) {
      const asset = await request(`${server.url}${path}`);
      assert.equal(asset.statusCode, 200, path);
      assert.equal(asset.headers['content-type'], type);
      await asset.body.dump();
    }
  });

  test('shows the routes with their processors and readiness', async () => {
    await page.waitForSelector('#routes-body tr[data-route="/detect"]');
    const rows = await page.$$eval('#routes-body tr', (trs) =>
      trs.map((tr) => [...tr.querySelectorAll('td')].slice(0, 2).map((td) => td.textContent)),
    );
    assert.deepEqual(rows, [
      ['/score', 'colorIntensity'],
      ['/detect', 'objectDetection'],
      ['/motion', 'motion'],
    ]);
    await page.waitForFunction(() => document.getElementById('ready')?.textContent === 'ready');
  });

  test('draws a frame posted to /detect?stream=cam1 with one box per entity, and the next frame when it comes', async () => {
    const first = await post(`${server.url}/detect?stream=cam1`, STREET);
    assert.equal(first.status, 200);
    const entities = (first.json as Answer).inferences.filter((i) => i.type === 'entity');
    assert.ok(entities.length >= 10, `the street frame has its pedestrians: ${entities.length}`);
    // The page picks the stream up from its state poll, opens its event stream and shows the newest frame it has.
    await page.waitForFunction(() => document.getElementById('view-stage')?.getAttribute('data-frame') !== null);
    const shownFirst = await page.$eval('#view-stage', (el) => el.getAttribute('data-frame'));
    assert.equal(await page.locator('#view-boxes .box').count(), entities.length);
    const labels = await page.$$eval('#view-boxes .box span', (spans) => spans.map((s) => s.textContent ?? ''));
    assert.deepEqual(
      labels.map((l) => l.split(' ')[0]),
      entities.map((e) => e.entity!.tag.value),
    );
    assert.ok(
      labels.every((l) => / \d\.\d\d$/.test(l)),
      `labels carry the confidence: ${labels}`,
    );
    assert.equal(await page.evaluate(() => document.querySelector('#view-stage img')?.naturalWidth), 416);
    // README's picture of the console is this view (written only when asked, so a test run never dirties the clone).
    const shot = await page.screenshot({ type: 'jpeg', quality: 80 });
    assert.equal(shot.subarray(0, 2).toString('hex'), 'ffd8');
    if (process.env.HX_UPDATE_SCREENSHOT === '1')
      writeFileSync(new URL('../../docs/images/console.jpg', import.meta.url), shot);

    const next = await post(`${server.url}/detect?stream=cam1&object=car`, STREET);
    const cars = (next.json as Answer).inferences.length;
    assert.ok(cars >= 1 && cars < entities.length);
    await page.waitForFunction(
      (before) => document.getElementById('view-stage')?.getAttribute('data-frame') !== before,
      shownFirst,
    );
    assert.equal(await page.locator('#view-boxes .box').count(), cars);
    assert.match((await page.textContent('#view-caption')) ?? '', /from \/detect, 416x416, \d+ inferences/);
  });

  test('works in Firefox too (Debian ESR, over WebDriver BiDi): routes, and a frame with its boxes', async () => {
    assert.ok(existsSync(FIREFOX), `${FIREFOX} is missing: apt-get install firefox-esr (or set HX_TEST_FIREFOX)`);
    const firefox = await FirefoxPage.launch(FIREFOX);
    try {
      await firefox.goto(`${server.url}/?stream=fox`);
      await firefox.waitFor(`document.querySelector('#routes-body tr[data-route="/detect"]')`);
      const answer = await post(`${server.url}/detect?stream=fox&object=person`, STREET);
      const people = (answer.json as Answer).inferences.length;
      await firefox.waitFor(`document.getElementById('view-stage').getAttribute('data-frame') !== null`);
      assert.equal(await firefox.evaluate<number>(`document.querySelectorAll('#view-boxes .box').length`), people);
      assert.equal(await firefox.evaluate<number>(`document.querySelector('#view-stage img').naturalWidth`), 416);
    } finally {
      await firefox.close();
    }
  });

  test('readable on a phone: one column, nothing wider than the screen', async () => {
    const phone = await browser.newPage({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
    try {
      await phone.goto(`${server.url}/?stream=cam1`);
      await phone.waitForSelector('#routes-body tr[data-route="/detect"]');
      await phone.waitForFunction(() => document.getElementById('view-stage')?.getAttribute('data-frame') !== null);
      const widths = await phone.evaluate(() => ({
        page: document.documentElement?.scrollWidth,
        live: document.getElementById('live')?.getBoundingClientRect().width,
        routes: document.getElementById('routes')?.getBoundingClientRect().width,
      }));
      assert.ok(widths.page !== undefined && widths.page <= 390, `the page is ${widths.page} px wide`);
      assert.equal(widths.live, widths.routes, 'the sections are stacked in one column');
    } finally {
      await phone.close();
    }
  });

  test('try it: a picked image is sent to the chosen route and its answer drawn, with the JSON', async () => {
    await page.selectOption('#try-route', '/detect');
    await page.setInputFiles('#try-file', { name: 'street.jpg', mimeType: 'image/jpeg', buffer: STREET });
    await page.waitForFunction(() => (document.getElementById('try-json')?.textContent ?? '').includes('inferences'));
    const answer = JSON.parse((await page.textContent('#try-json')) ?? '') as Answer;
    assert.equal(await page.locator('#try-boxes .box').count(), answer.inferences.length);
    assert.match((await page.textContent('#try-status')) ?? '', /^200 .*from \/detect$/);
  });

  test('the state API: routes, the engine, per-route figures and the streams seen', async () => {
    const state = await get(`${server.url}/console/api/state`);
    assert.equal(state.status, 200);
    const body = state.json as Record<string, unknown> & {
      routes: unknown[];
      figures: Record<string, { statuses: Record<string, number>; count: number }>;
      streams: Array<{ stream: string; received: number; lastSource: string }>;
      engine: Record<string, unknown>;
    };
    assert.deepEqual(body.routes, [
      {
        path: '/score',
        processor: 'colorIntensity',
        options: {},
        annotate: false,
        // A process per CPU has no CPU to spare for hand-offs under load (EngineOptions.handOffUnderLoad).
        runs: 'inline, workers over 500000 pixels',
      },
      { path: '/detect', processor: 'objectDetection', options: {}, annotate: false, runs: 'workers' },
      // A stateful processor's streams stay on their owner process's event loop: the group spreads them.
      { path: '/motion', processor: 'motion', options: {}, annotate: false, runs: 'inline' },
    ]);
    assert.deepEqual(Object.keys(body.engine).sort(), [
      'busy',
      'capacity',
      'draining',
      'queued',
      'ready',
      'retryAfterSeconds',
      'workers',
    ]);
    assert.ok((body.figures['/detect']?.statuses['200'] ?? 0) >= 3);
    // The default group: one process per CPU, every one of them in the state.
    assert.equal(body.processes, cpuBudget());
    const cam1 = body.streams.find((s) => s.stream === 'cam1');
    assert.deepEqual([cam1?.received, cam1?.lastSource], [2, '/detect']);
    assertError(await get(`${server.url}/console/api/frames/999999`), 404, 'HX_ERR_HTTP_NOT_FOUND');
    assertError(await get(`${server.url}/console/api/live?stream=${'x'.repeat(300)}`), 400, 'HX_ERR_HTTP_BAD_QUERY');
  });

  test('a live viewer does not hold the drain: SIGTERM exits 0 with an event stream open', async () => {
    const own = await startCli(SCORE_ONLY);
    const viewer = await openLive(own.url, 'cam9');
    assert.equal(viewer.status, 200);
    assert.equal(await viewer.first, 'retry: 2000\n\n');
    assert.equal(await own.stop(), 0);
    viewer.close();
  });

  test('viewers are capped: one more than the cap is refused 503 with Retry-After', async () => {
    const own = await startCli(SCORE_ONLY);
    try {
      const open = await Promise.all(Array.from({ length: 32 }, (_, i) => openLive(own.url, `s${i}`)));
      assert.deepEqual(new Set(open.map((v) => v.status)), new Set([200]));
      const refused = await get(`${own.url}/console/api/live?stream=one-more`);
      assertError(refused, 503, 'HX_ERR_CAPACITY_VIEWERS');
      assert.equal(refused.headers['retry-after'], '5');
      for (const viewer of open) viewer.close();
    } finally {
      await own.stop();
    }
  });
});

describe('web console behind authentication, and switched off', () => {
  const PASSWORD = 'console-test-password';
  let server: CliServer;
  before(async () => {
    server = await startCli(SCORE_ONLY, { HX_AUTH: 'basic', HX_AUTH_USERNAME: 'viewer', HX_AUTH_PASSWORD: PASSWORD });
  });
  after(async () => {
    await server?.stop();
  });

  test('a viewer without credentials is refused, page and feeds alike; with them the page works', async () => {
    for (const path of [
      '/',
      '/console/',
      '/console/app.js',
      '/console/api/state',
      '/console/api/live?stream=x',
      '/console/api/frames/1',
    ]) {
      const answer = await get(`${server.url}${path}`);
      assertError(answer, 401, 'HX_ERR_AUTH_REQUIRED');
      assert.match(String(answer.headers['www-authenticate']), /^Basic realm=/);
    }
    // A browser with the wrong password gets the 401 page (with none, Chromium would wait at its login prompt).
    const wrong = await browser.newContext({ httpCredentials: { username: 'viewer', password: 'not-it' } });
    const refused = await (await wrong.newPage()).goto(`${server.url}/`);
    assert.equal(refused?.status(), 401);
    await wrong.close();
    const context = await browser.newContext({ httpCredentials: { username: 'viewer', password: PASSWORD } });
    const page = await context.newPage();
    const ok = await page.goto(`${server.url}/`);
    assert.equal(ok?.status(), 200);
    await page.waitForSelector('#routes-body tr[data-route="/score"]');
    await page.waitForFunction(() => document.getElementById('ready')?.textContent === 'ready');
    const credentials = `Basic ${Buffer.from(`viewer:${PASSWORD}`).toString('base64')}`;
    const answer = await post(`${server.url}/score?stream=authed`, STREET, { authorization: credentials });
    assert.equal(answer.status, 200);
    await page.waitForFunction(() => document.getElementById('view-stage')?.getAttribute('data-frame') !== null);
    await context.close();
  });

  test('--no-console: GET / is the JSON index even for a browser, and the console is gone', async () => {
    const off = await startCli([...SCORE_ONLY, '--no-console']);
    try {
      const index = await get(`${off.url}/`, { accept: 'text/html' });
      assert.equal(index.status, 200);
      assert.equal((index.json as { console?: string }).console, undefined);
      for (const path of ['/console/', '/console/api/state']) {
        assertError(await get(`${off.url}${path}`), 404, 'HX_ERR_HTTP_NOT_FOUND');
      }
    } finally {
      await off.stop();
    }
  });
});
