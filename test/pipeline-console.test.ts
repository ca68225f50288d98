import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type Browser, chromium } from 'playwright-core';
import { CLI, stopChild } from './helpers/cli.js';
import { assertError, get } from './helpers/http.js';
import {
  avaTopology,
  fixturePath,
  json,
  STREET_MP4,
  startDouble,
  type TempDir,
  type TestDouble,
  tempDir,
} from './helpers/pipeline.js';

/** The callbacks below run in the browser; the project has no DOM types. */
declare const document: {
  getElementById(id: string): { textContent: string | null; getAttribute(name: string): string | null } | null;
  querySelectorAll(selector: string): ArrayLike<unknown>;
};

const CHROMIUM = process.env.HX_TEST_CHROMIUM ?? '/usr/bin/chromium';
/** Two boxes in every answer: what the page must draw over each frame it shows. */
const ANSWER = {
  inferences: [
    { type: 'entity', entity: { tag: { value: 'person', confidence: 0.9 }, box: { l: 0.1, t: 0.2, w: 0.2, h: 0.5 } } },
    { type: 'entity', entity: { tag: { value: 'car', confidence: 0.7 }, box: { l: 0.5, t: 0.5, w: 0.3, h: 0.3 } } },
  ],
};

/** `httpextension pipeline ARGS --console 0` as a child process, once its console listens. */
async function startPipeline(args: string[]) {
  const child = spawn(process.execPath, [CLI, 'pipeline', ...args, '--console', '0', '--no-progress'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  const consoleUrl = await new Promise<string>((resolve, reject) => {
    child.stderr.setEncoding('utf8').on('data', (text: string) => {
      stderr += text;
      const match = /console: (http:\/\/127\.0\.0\.1:\d+\/)/.exec(stderr);
      if (match) resolve(match[1]!);
    });
    child.once('exit', (code) => reject(new Error(`the pipeline exited (${code}):\n${stderr}`)));
  });
  return { child, consoleUrl, stderr: () => stderr };
}

describe('httpextension pipeline --console', () => {
  let dir: TempDir;
  let double: TestDouble;
  let browser: Browser;

  before(async () => {
    dir = tempDir();
    [double, browser] = await Promise.all([
      startDouble((_request, _index, res) => json(res, 200, ANSWER)),
      chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] }),
    ]);
  });
  after(async () => {
    await browser?.close();
    await double?.close();
    dir?.remove();
  });

  test("shows each pipeline's state and counts and its sampled frames with the extension's answers drawn", async () => {
    const topology = join(dir.path, 'topology.json');
    writeFileSync(topology, JSON.stringify(avaTopology({ samplingOptions: { maximumSamplesPerSecond: '5' } })));
    // The street video at its native rate (40 s): the pipeline is live while the page looks at it.
    const { child, consoleUrl, stderr } = await startPipeline([
      topology,
      '--name',
      'cam1',
      '--set',
      `rtspUrl=${STREET_MP4}`,
      '--set',
      `inferencingUrl=${double.url}`,
    ]);
    try {
      const page = await browser.newPage();
      await page.goto(`${consoleUrl}?stream=cam1`);
      await page.waitForSelector('#pipelines-body tr[data-pipeline="cam1"]');
      await page.waitForFunction(() => document.getElementById('view-stage')?.getAttribute('data-frame') !== null);
      assert.equal(await page.locator('#view-boxes .box').count(), 2);
      assert.deepEqual(await page.$$eval('#view-boxes .box span', (spans) => spans.map((s) => s.textContent)), [
        'person 0.90',
        'car 0.70',
      ]);
      const first = await page.getAttribute('#view-stage', 'data-frame');
      await page.waitForFunction(
        (before) => document.getElementById('view-stage')?.getAttribute('data-frame') !== before,
        first,
      );
      // The table follows the state feed (polled each second), the frames their own: wait for it to say running, with
      // two answers counted.
      await page.waitForFunction(() => {
        const cells = document.querySelectorAll('#pipelines-body tr[data-pipeline="cam1"] td') as ArrayLike<{
          textContent: string;
        }>;
        return cells[2]?.textContent === 'running' && Number(cells[4]?.textContent) >= 2;
      });
      const row = await page.$$eval('#pipelines-body tr[data-pipeline="cam1"] td', (tds) =>
        tds.map((td) => td.textContent),
      );
      assert.deepEqual(row.slice(0, 3), ['cam1', 'TestTopology', 'running']);
      assert.ok(Number(row[3]) >= 2 && Number(row[4]) >= 2, `frames sent and answered: ${row}`);
      assert.equal(await page.textContent('#ready'), '1 running');

      const state = (await get(`${consoleUrl}console/api/state`)).json as {
        kind: string;
        pipelines: Array<{ name: string; state: string }>;
        streams: Array<{ stream: string; lastSource: string }>;
      };
      assert.equal(state.kind, 'pipeline');
      assert.deepEqual(
        state.pipelines.map((p) => [p.name, p.state]),
        [['cam1', 'running']],
      );
      assert.equal(state.streams.find((s) => s.stream === 'cam1')?.lastSource, 'httpExtension');
      assertError(await get(`${consoleUrl}console/api/frames/999999`), 404, 'HX_ERR_HTTP_NOT_FOUND');
      assertError(await get(`${consoleUrl}nothing-here`), 404, 'HX_ERR_HTTP_NOT_FOUND');
    } finally {
      assert.equal(await stopChild(child), 0, stderr());
    }
    assert.match(stderr(), /cam1: read \d+, sent \d+/);
  });
  test("a pipeline's gate and recording state, as its nodes report them", async () => {
    const media = join(dir.path, 'media');
    const { child, consoleUrl, stderr } = await startPipeline([
      fixturePath('topologies/ava-evr-motion-file-sink.json'),
      '--name',
      'door',
      '--set',
      `rtspUrl=${STREET_MP4}`,
      '--media-root',
      media,
    ]);
    try {
      const page = await browser.newPage();
      await page.goto(consoleUrl);
      await page.waitForFunction(() => {
        const cells = document.querySelectorAll('#pipelines-body tr[data-pipeline="door"] td') as ArrayLike<{
          textContent: string;
        }>;
        return /^signalGateProcessor (closed|evaluating|open); fileSink (idle|recording), \d+ recorded$/.test(
          cells[7]?.textContent ?? '',
        );
      });
    } finally {
      await stopChild(child);
    }
    assert.match(stderr(), /door: read \d+/);
  });
});
