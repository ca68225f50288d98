// biome-ignore-all lint/suspicious/noTemplateCurlyInString: topologies write their parameters as ${name} in plain strings
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { HxError } from '../src/errors.js';
import { parseTopology, SUPPORTED_TYPES } from '../src/pipeline/topology.js';
import { avaTopology, fixturePath } from './helpers/pipeline.js';

function vendor(name: string): unknown {
  return JSON.parse(readFileSync(fixturePath(`topologies/${name}.json`), 'utf8'));
}

function refusal(fn: () => unknown): HxError {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof HxError, String(error));
    return error;
  }
  assert.fail('expected an error');
}

const STREET = { rtspUrl: '/videos/street.mp4' };

describe('vendor topologies', () => {
  test('AVA 1.1 httpExtension: defaults, ${param} substitution, BMP, preserveAspectRatio', () => {
    const plan = parseTopology(vendor('ava-httpExtension'), {
      rtspUrl: 'rtsp://cam.local:554/live',
      frameWidth: '640',
    });
    assert.deepEqual(plan.source, {
      name: 'rtspSource',
      kind: 'rtsp',
      url: 'rtsp://cam.local:554/live',
      transport: 'tcp',
      username: 'dummyUserName',
      password: 'dummyPassword',
    });
    assert.equal(plan.apiVersion, '1.1');
    assert.deepEqual(plan.extensions, [
      {
        name: 'httpExtension',
        endpoint: {
          url: 'http://yolov3/score',
          credentials: { kind: 'usernamePassword', username: 'dummyUserName', password: 'dummyPassword' },
        },
        scale: { mode: 'preserveAspectRatio', width: 640, height: 416 },
        format: { kind: 'bmp' },
        maximumSamplesPerSecond: [0.2],
      },
    ]);
    assert.deepEqual(plan.sinks, [{ name: 'hubSink', hubOutputName: 'inferenceOutput', inputs: ['httpExtension'] }]);
  });

  test('AVA OpenVINO: no scale means native size', () => {
    const plan = parseTopology(vendor('ava-httpExtensionOpenVINO'), STREET);
    assert.equal(plan.extensions[0]!.scale, undefined);
    assert.equal(plan.extensions[0]!.endpoint.url, 'http://openvino:4000/vehicleDetection');
    assert.deepEqual(plan.source.kind, 'file');
  });

  test('LVA 1.0: MediaGraph spelling, frame-rate filter, ImageFormatEncoded', () => {
    const plan = parseTopology(vendor('lva1-httpExtension'), { ...STREET, imageEncoding: 'jpeg', frameRate: '3' });
    assert.equal(plan.apiVersion, '1.0');
    // The frame-rate filter is a node of its own in front of the extension.
    assert.deepEqual(plan.extensions[0]!.maximumSamplesPerSecond, []);
    assert.deepEqual(
      plan.nodes.map((n) => [n.type, n.name]),
      [
        ['RtspSource', 'rtspSource'],
        ['FrameRateFilterProcessor', 'frameRateFilter'],
        ['HttpExtension', 'httpExtension'],
        ['IotHubMessageSink', 'hubSink'],
      ],
    );
    assert.equal(plan.nodes[1]!.type === 'FrameRateFilterProcessor' && plan.nodes[1]!.maximumFps, 3);
    assert.deepEqual(plan.extensions[0]!.format, { kind: 'jpeg', quality: 90 });
    assert.equal(plan.sinks[0]!.hubOutputName, 'inferenceOutput');
  });

  test('LVA 2.0', () => {
    const plan = parseTopology(vendor('lva2-httpExtension'), { ...STREET, imageScaleMode: 'Stretch' });
    assert.deepEqual(plan.extensions[0]!.scale, { mode: 'stretch', width: 416, height: 416 });
    assert.deepEqual(plan.extensions[0]!.maximumSamplesPerSecond, [20]);
  });

  const RUNS = `, which runs ${SUPPORTED_TYPES.join(', ')}`;
  const refused: [string, string][] = [
    [
      'ava-cvr-with-httpExtension',
      `node "videoSink" (#Microsoft.VideoAnalyzer.VideoSink) is not supported by the runner${RUNS}`,
    ],
    [
      'ava-evr-httpExtension-video-sink',
      `node "videoSink" (#Microsoft.VideoAnalyzer.VideoSink) is not supported by the runner${RUNS}`,
    ],
    [
      'ava-line-crossing',
      `node "objectTracker" (#Microsoft.VideoAnalyzer.ObjectTrackingProcessor), node "lineCrossing" (#Microsoft.VideoAnalyzer.LineCrossingProcessor) are not supported by the runner${RUNS}`,
    ],
    [
      'ava-motion-with-httpExtension',
      `node "videoSink" (#Microsoft.VideoAnalyzer.VideoSink) is not supported by the runner${RUNS}`,
    ],
    [
      'ava-object-tracking',
      `node "objectTracker" (#Microsoft.VideoAnalyzer.ObjectTrackingProcessor) is not supported by the runner${RUNS}`,
    ],
  ];
  for (const [name, message] of refused) {
    test(`${name} is refused, naming the unsupported nodes`, () => {
      const error = refusal(() => parseTopology(vendor(name), STREET));
      assert.equal(error.code, 'HX_ERR_PIPELINE_UNSUPPORTED');
      assert.equal(error.message, message);
    });
  }
});

describe('parameters', () => {
  test('a parameter without default and without value is reported, with all others at once', () => {
    const error = refusal(() => parseTopology(vendor('ava-httpExtension'), { rtspUrll: 'x' }));
    assert.equal(error.code, 'HX_ERR_PIPELINE_PARAMETER');
    assert.equal(
      error.message,
      '"rtspUrll" is not a parameter of this topology (it has: rtspUserName, rtspPassword, rtspUrl, inferencingUrl, inferencingUserName, inferencingPassword, imageScaleMode, frameWidth, frameHeight); parameter "rtspUrl" has no default: give it with --set rtspUrl=VALUE',
    );
  });

  test('an undeclared ${reference} is an error', () => {
    const topology = avaTopology({
      endpoint: { '@type': '#Microsoft.VideoAnalyzer.UnsecuredEndpoint', url: '${nope}' },
    });
    const error = refusal(() => parseTopology(topology, { rtspUrl: 'a.mp4', inferencingUrl: 'http://x' }));
    assert.equal(error.message, '"${nope}" is used but not declared in properties.parameters');
  });
});

describe('node options', () => {
  const values = { rtspUrl: 'file:///videos/a.mp4', inferencingUrl: 'https://ext:8443/score' };

  test('TlsEndpoint, HttpHeaderCredentials, raw format, udp', () => {
    const plan = parseTopology(
      avaTopology(
        {
          endpoint: {
            '@type': '#Microsoft.VideoAnalyzer.TlsEndpoint',
            url: '${inferencingUrl}',
            credentials: {
              '@type': '#Microsoft.VideoAnalyzer.HttpHeaderCredentials',
              headerName: 'Authorization',
              headerValue: 'Bearer abc',
            },
            trustedCertificates: { '@type': '#Microsoft.VideoAnalyzer.PemCertificateList', certificates: ['PEM'] },
            validationOptions: { ignoreHostname: 'true', ignoreSignature: 'false' },
          },
          image: {
            scale: { mode: 'Pad', width: '320', height: '240' },
            format: { '@type': '#Microsoft.VideoAnalyzer.ImageFormatRaw', pixelFormat: 'Yuv420p' },
          },
        },
        { transport: 'udp' },
      ),
      values,
    );
    const node = plan.extensions[0]!;
    assert.deepEqual(node.endpoint, {
      url: 'https://ext:8443/score',
      credentials: { kind: 'httpHeader', headerName: 'Authorization', headerValue: 'Bearer abc' },
      tls: { trustedCertificates: ['PEM'], ignoreHostname: true, ignoreSignature: false },
    });
    assert.deepEqual(node.format, { kind: 'raw', pixelFormat: 'yuv420p' });
    assert.deepEqual(node.scale, { mode: 'pad', width: 320, height: 240 });
    assert.equal(plan.source.transport, 'udp');
    assert.equal(plan.source.kind, 'file');
  });

  const bad: [string, Record<string, unknown>, string][] = [
    [
      'pad with one dimension',
      { image: { scale: { mode: 'pad', width: '320' } } },
      'httpExtension.image.scale: pad needs both width and height',
    ],
    [
      'an unknown scale mode',
      { image: { scale: { mode: 'crop', width: '1', height: '1' } } },
      'httpExtension.image.scale.mode must be pad, preserveAspectRatio or stretch, not crop',
    ],
    [
      'a JPEG quality over 100',
      { image: { format: { '@type': '#Microsoft.VideoAnalyzer.ImageFormatJpeg', quality: '101' } } },
      'httpExtension.image.format.quality must be a whole number in 0..100, not "101"',
    ],
    [
      'an unknown pixel format',
      { image: { format: { '@type': '#Microsoft.VideoAnalyzer.ImageFormatRaw', pixelFormat: 'nv12' } } },
      'httpExtension.image.format.pixelFormat nv12 is not one of the 11 raw formats',
    ],
    [
      'a zero sampling rate',
      { samplingOptions: { maximumSamplesPerSecond: '0' } },
      'httpExtension.samplingOptions.maximumSamplesPerSecond must be a number in 0.001..1000, not "0"',
    ],
  ];
  for (const [what, extension, message] of bad) {
    test(`refuses ${what}`, () => {
      const error = refusal(() => parseTopology(avaTopology(extension), values));
      assert.equal(error.code, 'HX_ERR_PIPELINE_TOPOLOGY');
      assert.equal(error.message, message);
    });
  }

  test('refuses a source URL of another scheme', () => {
    const error = refusal(() => parseTopology(avaTopology(), { ...values, rtspUrl: 'http://cam/stream' }));
    assert.equal(
      error.message,
      'rtspSource.endpoint.url must be an rtsp:// URL, a file path or a file:// URL, not http://cam/stream',
    );
  });
});
