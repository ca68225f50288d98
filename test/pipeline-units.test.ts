import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { parseChallenges, pickDigest } from '../src/client/digest-auth.js';
import { retryAfterSeconds } from '../src/pipeline/http-extension-node.js';
import { placementFor } from '../src/pipeline/image-encoder.js';
import { unpadInferences } from '../src/pipeline/pipeline-message.js';
import { frameWidthFor } from '../src/pipeline/pipeline-runner.js';
import { PtsSampler } from '../src/pipeline/sampler.js';
import { parseTopology } from '../src/pipeline/topology.js';
import { ClockContinuity, ffmpegArgs } from '../src/pipeline/video-source.js';
import type { Rectangle } from '../src/schema/inference.js';
import { fixturePath } from './helpers/pipeline.js';

function sampled(rate: number, pts: number[]): number[] {
  const sampler = new PtsSampler(rate);
  return pts.filter((p) => sampler.accept(p));
}

describe('PtsSampler', () => {
  test('30 fps to 5 per second: every 6th frame, no drift over a minute', () => {
    const pts = Array.from({ length: 1800 }, (_, i) => i * 3000);
    const kept = sampled(5, pts);
    assert.equal(kept.length, 300);
    assert.ok(kept.every((p, i) => p === i * 18_000));
  });

  test('timestamps that jitter by a tick still land on the grid', () => {
    const pts = Array.from({ length: 40 }, (_, i) => Math.round(i * 3003.0003) - (i % 2));
    assert.equal(sampled(10, pts).length, 14); // 40 frames at 29.97 fps = 1.335 s
  });

  test('a rate above the frame rate keeps every frame', () => {
    assert.deepEqual(sampled(30, [0, 9000, 18_000, 27_000]), [0, 9000, 18_000, 27_000]);
  });

  test('a gap (camera reconnect) restarts the grid at the next frame', () => {
    assert.deepEqual(sampled(1, [0, 45_000, 90_000, 900_000, 945_000, 990_000]), [0, 90_000, 900_000, 990_000]);
  });

  test('a clock that jumps back restarts the grid', () => {
    assert.deepEqual(sampled(1, [9_000_000, 9_090_000, 0, 45_000, 90_000]), [9_000_000, 9_090_000, 0, 90_000]);
  });
});

describe('placementFor', () => {
  const box = (inputWidth: number, inputHeight: number, padLeft: number, padTop: number, w: number, h: number) => ({
    inputWidth,
    inputHeight,
    scaledWidth: w,
    scaledHeight: h,
    padLeft,
    padTop,
  });

  test('pad rounds the content and centres it, odd bars going to the bottom/right', () => {
    assert.deepEqual(
      placementFor(1920, 1080, { mode: 'pad', width: 416, height: 416 }),
      box(416, 416, 0, 91, 416, 234),
    );
    assert.deepEqual(placementFor(576, 768, { mode: 'pad', width: 416, height: 416 }), box(416, 416, 52, 0, 312, 416));
  });

  test('preserveAspectRatio and stretch send the whole image', () => {
    assert.deepEqual(
      placementFor(1920, 1080, { mode: 'preserveAspectRatio', width: 416, height: 416 }),
      box(416, 234, 0, 0, 416, 234),
    );
    assert.deepEqual(
      placementFor(1920, 1080, { mode: 'preserveAspectRatio', height: 540 }),
      box(960, 540, 0, 0, 960, 540),
    );
    assert.deepEqual(placementFor(1920, 1080, { mode: 'stretch', width: 300 }), box(300, 1080, 0, 0, 300, 1080));
    assert.deepEqual(placementFor(640, 480, undefined), box(640, 480, 0, 0, 640, 480));
  });
});

describe('unpadInferences', () => {
  test('maps boxes from the padded image back to the frame and clips what lies on the bars', () => {
    const placement = placementFor(1920, 1080, { mode: 'pad', width: 416, height: 416 });
    const [inside, onBar] = unpadInferences(
      [
        { type: 'entity', entity: { tag: { value: 'a' }, box: { l: 0.25, t: 91 / 416, w: 0.5, h: 117 / 416 } } },
        { type: 'motion', motion: { box: { l: 0, t: 0, w: 1, h: 0.1 } } },
      ],
      placement,
    ) as [{ entity: { box: Rectangle } }, { motion: { box: Rectangle } }];
    assert.deepEqual(inside.entity.box, { l: 0.25, t: 0, w: 0.5, h: 0.5 });
    assert.deepEqual(onBar.motion.box, { l: 0, t: 0, w: 1, h: 0 });
  });

  test('a NaN coordinate becomes 0, never null in the published JSON', () => {
    const placement = placementFor(1920, 1080, { mode: 'pad', width: 416, height: 416 });
    const [out] = unpadInferences(
      [{ type: 'motion', motion: { box: { l: Number.NaN, t: 0.5, w: 0.1, h: 0.1 } } }],
      placement,
    ) as [{ motion: { box: Rectangle } }];
    assert.equal(out.motion.box.l, 0);
    assert.ok(Object.values(out.motion.box).every((v) => Number.isFinite(v)));
  });
});

describe('WWW-Authenticate', () => {
  test('several challenges in one header and across headers; SHA-256 preferred', () => {
    const challenges = parseChallenges([
      'Basic realm="cams", Digest realm="cams", qop="auth,auth-int", algorithm=MD5, nonce="n1"',
      'Digest realm="cams", qop="auth", algorithm=SHA-256, nonce="n\\"2", stale=TRUE',
    ]);
    assert.deepEqual(challenges, [
      { scheme: 'basic', params: { realm: 'cams' } },
      { scheme: 'digest', params: { realm: 'cams', qop: 'auth,auth-int', algorithm: 'MD5', nonce: 'n1' } },
      { scheme: 'digest', params: { realm: 'cams', qop: 'auth', algorithm: 'SHA-256', nonce: 'n"2', stale: 'TRUE' } },
    ]);
    assert.equal(pickDigest(challenges)?.params.nonce, 'n"2');
  });

  test('an algorithm we cannot compute is not picked', () => {
    assert.equal(pickDigest(parseChallenges('Digest realm="r", nonce="n", algorithm=SHA-512-256')), undefined);
  });
});

describe('Retry-After', () => {
  test('seconds, an HTTP date, garbage', () => {
    assert.equal(retryAfterSeconds('7'), 7);
    assert.equal(retryAfterSeconds(undefined), undefined);
    assert.equal(retryAfterSeconds('soon'), undefined);
    const inTenSeconds = new Date(Date.now() + 10_000).toUTCString();
    const s = retryAfterSeconds(inTenSeconds)!;
    assert.ok(s > 8 && s <= 10, String(s));
  });
});

describe('frameWidthFor: frames scaled before the pipe only when every reader works on a smaller copy', () => {
  const plan = (name: string, values: Record<string, string> = {}) =>
    parseTopology(JSON.parse(readFileSync(fixturePath(`topologies/${name}.json`), 'utf8')), {
      rtspUrl: '/x.mp4',
      ...values,
    });
  test('motion alone: 320; an extension fitting inside WxH: W; with both, the wider', () => {
    assert.equal(frameWidthFor(plan('ava-motion-detection')), 320);
    assert.equal(frameWidthFor(plan('ava-evr-motion-video-sink')), 320);
    assert.equal(frameWidthFor(plan('ava-httpExtension', { frameWidth: '640' })), 640);
    assert.equal(frameWidthFor(plan('lva2-httpExtension', { imageScaleMode: 'Pad' })), 416);
    assert.equal(frameWidthFor(plan('ava-motion-with-httpExtension')), 416);
    // Through LVA 1.0's frame-rate filter.
    assert.equal(frameWidthFor(plan('lva1-httpExtension', { frameWidth: '300', frameHeight: '300' })), 300);
  });
  test("stretch, native size or recording only: the camera's own frames", () => {
    assert.equal(frameWidthFor(plan('lva2-httpExtension', { imageScaleMode: 'Stretch' })), undefined);
    assert.equal(frameWidthFor(plan('ava-httpExtensionOpenVINO')), undefined);
    assert.equal(frameWidthFor(plan('ava-cvr-video-sink')), undefined);
  });
});

describe('ClockContinuity', () => {
  test('after a reconnect the clock goes on from before the outage, by the wall-clock time it lasted', () => {
    let now = 1_000_000;
    const clock = new ClockContinuity(() => now);
    clock.restart(); // the first session: nothing to follow
    assert.deepEqual(
      [0, 9000, 18_000].map((t) => clock.map(t)),
      [0, 9000, 18_000],
    );
    now += 2500; // 2.5 s without video, then ffmpeg starts again near 0
    clock.restart();
    assert.deepEqual(
      [3000, 12_000].map((t) => clock.map(t)),
      [18_000 + 225_000, 18_000 + 225_000 + 9000],
    );
    assert.equal(clock.shift, 18_000 + 225_000 - 3000);
  });
});

describe('ffmpegArgs', () => {
  const rtsp = { name: 'cam', kind: 'rtsp', url: 'rtsp://cam/live', transport: 'tcp' } as const;
  test('RTSP over TCP, -fps_mode passthrough, and both outputs on one clock', () => {
    const args = ffmpegArgs(rtsp, false, { frames: true, packets: true });
    assert.deepEqual(args.slice(args.indexOf('-rtsp_transport'), args.indexOf('-rtsp_transport') + 2), [
      '-rtsp_transport',
      'tcp',
    ]);
    assert.ok(args.join(' ').includes('-fps_mode passthrough -f rawvideo -pix_fmt rgb24 pipe:1'));
    assert.ok(
      args.join(' ').includes('-c:v copy -muxdelay 0 -muxpreload 0 -avoid_negative_ts disabled -f mpegts pipe:3'),
    );
    assert.ok(!args.includes('-vsync'));
  });

  test('an ffmpeg older than 5.1 (the bundled static build) gets -vsync; packets only means no decoding', () => {
    const old = ffmpegArgs(rtsp, false, { frames: true, packets: false }, false);
    assert.ok(old.join(' ').includes('-vsync passthrough'));
    // Nor has its showinfo the checksum option.
    assert.equal(old[old.indexOf('-vf') + 1], 'showinfo');
    const packets = ffmpegArgs(rtsp, false, { frames: false, packets: true });
    assert.ok(!packets.includes('rawvideo') && !packets.includes('showinfo'));
  });

  test('maxFrameWidth: frames scaled down (never up) before they are piped', () => {
    const args = ffmpegArgs(rtsp, false, { frames: true, packets: true, maxFrameWidth: 320 });
    assert.equal(args[args.indexOf('-vf') + 1], "scale=w='min(320,iw)':h=-2:flags=area,showinfo=checksum=0");
    assert.equal(
      ffmpegArgs(rtsp, false, { frames: true, packets: false })[args.indexOf('-vf') + 1],
      'showinfo=checksum=0',
    );
  });
});
