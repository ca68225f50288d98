import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseChallenges, pickDigest } from '../src/pipeline/digest-auth.js';
import { retryAfterSeconds } from '../src/pipeline/http-extension-node.js';
import { placementFor } from '../src/pipeline/image-encoder.js';
import { PtsSampler } from '../src/pipeline/sampler.js';
import { ffmpegArgs } from '../src/pipeline/video-source.js';

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
  test('pad rounds the content and centres it, odd bars going to the bottom/right', () => {
    assert.deepEqual(placementFor(1920, 1080, { mode: 'pad', width: 416, height: 416 }), {
      width: 416,
      height: 416,
      content: { left: 0, top: 91, width: 416, height: 234 },
    });
    assert.deepEqual(placementFor(576, 768, { mode: 'pad', width: 416, height: 416 }), {
      width: 416,
      height: 416,
      content: { left: 52, top: 0, width: 312, height: 416 },
    });
  });

  test('preserveAspectRatio and stretch', () => {
    assert.deepEqual(placementFor(1920, 1080, { mode: 'preserveAspectRatio', width: 416, height: 416 }).content, {
      left: 0,
      top: 0,
      width: 416,
      height: 234,
    });
    assert.equal(placementFor(1920, 1080, { mode: 'preserveAspectRatio', height: 540 }).width, 960);
    assert.deepEqual(
      [
        placementFor(1920, 1080, { mode: 'stretch', width: 300 }).width,
        placementFor(1920, 1080, { mode: 'stretch', width: 300 }).height,
      ],
      [300, 1080],
    );
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
    assert.ok(
      ffmpegArgs(rtsp, false, { frames: true, packets: false }, false).join(' ').includes('-vsync passthrough'),
    );
    const packets = ffmpegArgs(rtsp, false, { frames: false, packets: true });
    assert.ok(!packets.includes('rawvideo') && !packets.includes('showinfo'));
  });
});
