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

  test('VideoSink and AssetSink: the vendor properties, segmentLength defaulting to 30 s', () => {
    const cvr = parseTopology(vendor('ava-cvr-with-httpExtension'), STREET).nodes.find((n) => n.name === 'videoSink');
    assert.deepEqual(cvr?.type === 'VideoSink' && cvr.video, {
      name: 'videoSink',
      namePattern: 'sample-http-extension',
      outputType: 'videoName',
      localMediaCachePath: '/var/lib/videoanalyzer/tmp/',
      localMediaCacheMaximumSizeMiB: 2048,
      segmentLengthMs: 30_000,
      title: 'sample-http-extension',
      description: 'Sample video using HTTP extension',
    });
    const lva = parseTopology(vendor('lva2-evr-httpExtension-assets'), STREET).nodes.find(
      (n) => n.name === 'assetSink',
    );
    assert.deepEqual(lva?.type === 'AssetSink' && lva.video, {
      name: 'assetSink',
      namePattern: 'sampleAssetFromEVR-LVAEdge-${System.DateTime}',
      outputType: 'assetName',
      localMediaCachePath: '/var/lib/azuremediaservices/tmp/',
      localMediaCacheMaximumSizeMiB: 200,
      segmentLengthMs: 30_000,
    });
    const topology = vendor('lva2-evr-httpExtension-assets') as { properties: { sinks: Record<string, unknown>[] } };
    topology.properties.sinks[0]!.assetNamePattern = 'fixed';
    assert.match(
      refusal(() => parseTopology(topology, STREET)).message,
      /assetNamePattern must contain at least one system variable/,
    );
    topology.properties.sinks[0]!.assetNamePattern = 'a-${System.DateTime}';
    topology.properties.sinks[0]!.segmentLength = 'PT0.5S';
    assert.match(
      refusal(() => parseTopology(topology, STREET)).message,
      /assetSink.segmentLength must be between 1 s and 3600 s/,
    );
    const motion = vendor('ava-motion-detection') as { properties: { sinks: Record<string, unknown>[] } };
    motion.properties.sinks.push({
      '@type': '#Microsoft.VideoAnalyzer.VideoSink',
      name: 'videoSink',
      videoName: 'v',
      localMediaCachePath: '/tmp',
      localMediaCacheMaximumSizeMiB: '10',
      inputs: [{ nodeName: 'motionDetection' }],
    });
    assert.equal(
      refusal(() => parseTopology(motion, STREET)).message,
      'node "videoSink" (VideoSink) must read the RtspSource (continuous) or a SignalGateProcessor (events)',
    );
  });

  const RUNS = `, which runs ${SUPPORTED_TYPES.join(', ')}`;
  test('a node type the runner does not run is refused, naming it and what the runner runs', () => {
    const topology = avaTopology() as { properties: { processors: unknown[] } };
    topology.properties.processors.push({
      '@type': '#Microsoft.VideoAnalyzer.SomeFutureProcessor',
      name: 'future',
      inputs: [{ nodeName: 'rtspSource' }],
    });
    const error = refusal(() => parseTopology(topology, STREET));
    assert.equal(error.code, 'HX_ERR_PIPELINE_UNSUPPORTED');
    assert.equal(
      error.message,
      `node "future" (#Microsoft.VideoAnalyzer.SomeFutureProcessor) is not supported by the runner${RUNS}`,
    );
  });
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

describe('the graph', () => {
  const values = { rtspUrl: 'a.mp4', inferencingUrl: 'http://ext/score' };
  function withNodes(processors: object[], sinks: object[]): object {
    const base = avaTopology() as { properties: Record<string, unknown> };
    return { ...base, properties: { ...base.properties, processors, sinks } };
  }
  const motion = (name: string, input = 'rtspSource') => ({
    '@type': '#Microsoft.VideoAnalyzer.MotionDetectionProcessor',
    name,
    inputs: [{ nodeName: input }],
  });
  const hub = (input: string, selectors?: object[]) => ({
    '@type': '#Microsoft.VideoAnalyzer.IotHubMessageSink',
    name: 'hubSink',
    hubOutputName: 'out',
    inputs: [{ nodeName: input, ...(selectors ? { outputSelectors: selectors } : {}) }],
  });

  test('every vendor EVR / motion topology the runner supports parses, in topological order', () => {
    const plan = parseTopology(vendor('ava-evr-motion-file-sink'), STREET);
    assert.deepEqual(
      plan.nodes.map((n) => n.name),
      ['rtspSource', 'motionDetection', 'signalGateProcessor', 'fileSink'],
    );
    const gate = plan.nodes[2]!;
    assert.ok(gate.type === 'SignalGateProcessor');
    assert.deepEqual(gate.gate, {
      activationEvaluationWindowMs: 1000,
      activationSignalOffsetMs: 0,
      minimumActivationTimeMs: 10_000,
      maximumActivationTimeMs: 30_000,
    });
    const motionNode = plan.nodes[1]!;
    assert.ok(motionNode.type === 'MotionDetectionProcessor');
    assert.deepEqual(motionNode.motion, {
      sensitivity: 'medium',
      outputMotionRegion: true,
      eventAggregationWindowMs: 1000,
    });
    const file = plan.nodes[3]!;
    assert.ok(file.type === 'FileSink');
    assert.deepEqual(file.file, {
      name: 'fileSink',
      baseDirectoryPath: '/var/media',
      fileNamePattern:
        'sampleFilesFromEVR-motion-${System.TopologyName}-${System.PipelineName}-filesinkOutput-${System.Runtime.DateTime}',
      maximumSizeMiB: 512,
    });
    assert.deepEqual(
      parseTopology(vendor('ava-evr-hubMessage-file-sink'), STREET).nodes.map((n) => n.type),
      ['RtspSource', 'IotHubMessageSource', 'SignalGateProcessor', 'FileSink'],
    );
    assert.equal(parseTopology(vendor('ava-motion-detection'), STREET).nodes.length, 3);
  });

  const bad: [string, object, string][] = [
    [
      'a cycle',
      withNodes(
        [
          { ...motion('a'), '@type': '#Microsoft.VideoAnalyzer.HttpExtension', inputs: [{ nodeName: 'b' }] },
          { ...motion('b'), '@type': '#Microsoft.VideoAnalyzer.HttpExtension', inputs: [{ nodeName: 'a' }] },
        ].map((n) => ({ ...n, endpoint: { '@type': '#Microsoft.VideoAnalyzer.UnsecuredEndpoint', url: 'http://x' } })),
        [hub('a')],
      ),
      "the topology has a cycle: a -> b -> a (each node reads the next one's output)",
    ],
    [
      'a dangling input',
      withNodes([motion('md', 'nowhere')], [hub('md')]),
      'node "md" has input "nowhere", which is not a node',
    ],
    [
      'a sink whose selectors leave it nothing',
      withNodes([motion('md')], [hub('md', [{ property: 'mediaType', operator: 'is', value: 'video' }])]),
      'node "hubSink" (IotHubMessageSink) reads "md" (MotionDetectionProcessor), which gives it nothing it consumes: "md" emits video and application before outputSelectors, "hubSink" consumes application',
    ],
    [
      'a hub sink on the source',
      withNodes([], [hub('rtspSource')]),
      'node "hubSink" (IotHubMessageSink) reads "rtspSource" (RtspSource), which gives it nothing it consumes: "rtspSource" emits video, "hubSink" consumes application',
    ],
    [
      'motion detection behind another node',
      withNodes([motion('md1'), motion('md2', 'md1')], [hub('md2')]),
      'node "md2" (MotionDetectionProcessor) must read the RtspSource directly',
    ],
    [
      'a gate without an event input',
      withNodes(
        [
          {
            '@type': '#Microsoft.VideoAnalyzer.SignalGateProcessor',
            name: 'gate',
            inputs: [{ nodeName: 'rtspSource' }],
          },
        ],
        [
          {
            '@type': '#Microsoft.VideoAnalyzer.FileSink',
            name: 'file',
            inputs: [{ nodeName: 'gate' }],
            baseDirectoryPath: '/m',
            fileNamePattern: 'x-${System.Runtime.DateTime}',
            maximumSizeMiB: '1',
          },
        ],
      ),
      'node "gate" (SignalGateProcessor) needs at least one event input (motion, an extension, hub messages)',
    ],
    [
      'a file sink on the source',
      withNodes(
        [],
        [
          {
            '@type': '#Microsoft.VideoAnalyzer.FileSink',
            name: 'file',
            inputs: [{ nodeName: 'rtspSource' }],
            baseDirectoryPath: '/m',
            fileNamePattern: 'x-${System.Runtime.DateTime}',
          },
        ],
      ),
      'node "file" (FileSink) must read a SignalGateProcessor (it records one file per activation)',
    ],
    [
      'a file name without a system variable',
      withNodes(
        [],
        [
          {
            '@type': '#Microsoft.VideoAnalyzer.FileSink',
            name: 'file',
            inputs: [{ nodeName: 'rtspSource' }],
            baseDirectoryPath: '/m',
            fileNamePattern: 'x',
          },
        ],
      ),
      'file.fileNamePattern must contain at least one system variable, e.g. ${System.Runtime.DateTime}',
    ],
    [
      'an unknown system variable',
      withNodes(
        [],
        [
          {
            '@type': '#Microsoft.VideoAnalyzer.FileSink',
            name: 'file',
            inputs: [{ nodeName: 'rtspSource' }],
            baseDirectoryPath: '/m',
            fileNamePattern: 'x-${System.Time}',
          },
        ],
      ),
      'file.fileNamePattern: ${System.Time} is not a system variable (there are: System.TopologyName, System.PipelineName, System.GraphTopologyName, System.GraphInstanceName, System.DateTime, System.Runtime.DateTime, System.Runtime.PreciseDateTime)',
    ],
    [
      'a bad duration',
      withNodes([{ ...motion('md'), eventAggregationWindow: '1 second' }], [hub('md')]),
      'md.eventAggregationWindow must be an ISO 8601 duration such as PT1S or -PT5S, not "1 second"',
    ],
    [
      'an extension URL without a scheme',
      avaTopology(),
      'httpExtension.endpoint.url must be an http:// or https:// URL, not ext:5001/score',
    ],
  ];
  for (const [what, topology, message] of bad) {
    test(`refuses ${what}`, () => {
      const error = refusal(() =>
        parseTopology(topology, what.includes('scheme') ? { ...values, inferencingUrl: 'ext:5001/score' } : values),
      );
      assert.equal(error.code, 'HX_ERR_PIPELINE_TOPOLOGY');
      assert.equal(error.message, message);
    });
  }

  test('Cognitive Services nodes are refused as out of scope', () => {
    const topology = withNodes(
      [
        {
          '@type': '#Microsoft.VideoAnalyzer.CognitiveServicesVisionProcessor',
          name: 'spatial',
          inputs: [{ nodeName: 'rtspSource' }],
        },
      ],
      [hub('spatial')],
    );
    const error = refusal(() => parseTopology(topology, values));
    assert.equal(error.code, 'HX_ERR_PIPELINE_UNSUPPORTED');
    assert.match(
      error.message,
      /^node "spatial" \(#Microsoft\.VideoAnalyzer\.CognitiveServicesVisionProcessor\): Cognitive Services/,
    );
  });
});

describe('ObjectTrackingProcessor and LineCrossingProcessor', () => {
  const CAMERA = { ...STREET, rtspUserName: 'u', rtspPassword: 'p' };
  const tracker = (properties: object = {}, type = '#Microsoft.VideoAnalyzer.ObjectTrackingProcessor') => ({
    '@type': type,
    name: 'objectTracker',
    inputs: [{ nodeName: 'httpExtension' }],
    ...properties,
  });
  const crossing = (lines: unknown, input = 'objectTracker') => ({
    '@type': '#Microsoft.VideoAnalyzer.LineCrossingProcessor',
    name: 'lineCrossing',
    inputs: [{ nodeName: input }],
    lines,
  });
  function withTracking(processors: object[], sinkInput: string): object {
    const base = avaTopology() as { properties: { processors: object[]; sinks: object[] } };
    const sink = { ...(base.properties.sinks[0] as object), inputs: [{ nodeName: sinkInput }] };
    return {
      ...base,
      properties: { ...base.properties, processors: [...base.properties.processors, ...processors], sinks: [sink] },
    };
  }
  const values = { rtspUrl: 'a.mp4', inferencingUrl: 'http://ext/score' };

  test('ava-line-crossing: the line from its parameters, accuracy medium by default', () => {
    const plan = parseTopology(vendor('ava-line-crossing'), {
      ...CAMERA,
      linecrossingName: 'Gate A',
      lineCoordinates: '[[0.1, 0.6], [0.9, 0.65]]',
    });
    assert.deepEqual(
      plan.nodes.map((n) => n.type),
      ['RtspSource', 'HttpExtension', 'ObjectTrackingProcessor', 'LineCrossingProcessor', 'IotHubMessageSink'],
    );
    const [, , track, line] = plan.nodes;
    assert.ok(track?.type === 'ObjectTrackingProcessor' && line?.type === 'LineCrossingProcessor');
    assert.deepEqual(track.tracking, { accuracy: 'medium' });
    assert.deepEqual(line.lineCrossing, { lines: [{ name: 'Gate A', start: [0.1, 0.6], end: [0.9, 0.65] }] });
    assert.deepEqual(
      (parseTopology(vendor('ava-line-crossing'), CAMERA).nodes[3] as { lineCrossing: unknown }).lineCrossing,
      { lines: [{ name: 'LineCrossing1', start: [0.5, 0.1], end: [0.5, 0.9] }] },
    );
  });

  test('both spellings; accuracy in either casing', () => {
    for (const [type, accuracy, expected] of [
      ['#Microsoft.VideoAnalyzer.ObjectTrackingProcessor', 'high', 'high'],
      ['#Microsoft.Media.MediaGraphObjectTrackingProcessor', 'Low', 'low'],
    ] as const) {
      const plan = parseTopology(withTracking([tracker({ accuracy }, type)], 'objectTracker'), values);
      const node = plan.nodes.find((n) => n.type === 'ObjectTrackingProcessor');
      assert.deepEqual(node?.type === 'ObjectTrackingProcessor' && node.tracking, { accuracy: expected });
    }
  });

  const bad: [string, object, string][] = [
    [
      'an unknown accuracy',
      withTracking([tracker({ accuracy: 'best' })], 'objectTracker'),
      'objectTracker.accuracy must be one of low, medium, high, not "best"',
    ],
    [
      'a tracker on the source',
      withTracking([{ ...tracker(), inputs: [{ nodeName: 'rtspSource' }] }], 'objectTracker'),
      'node "objectTracker" (ObjectTrackingProcessor) must read an HttpExtension directly',
    ],
    [
      'line crossing on motion',
      withTracking(
        [
          {
            '@type': '#Microsoft.VideoAnalyzer.MotionDetectionProcessor',
            name: 'md',
            inputs: [{ nodeName: 'rtspSource' }],
          },
          crossing([{ name: 'a', line: '[[0,0],[1,1]]' }], 'md'),
        ],
        'lineCrossing',
      ),
      'node "lineCrossing" (LineCrossingProcessor) must read an ObjectTrackingProcessor (or an extension that tracks, with sequenceIds) directly',
    ],
    [
      'no lines',
      withTracking([tracker(), crossing([])], 'lineCrossing'),
      'lineCrossing.lines must be a non-empty array',
    ],
    [
      'a line that is not JSON',
      withTracking([tracker(), crossing([{ name: 'a', line: '[[0.5,0.1], [0.5' }])], 'lineCrossing'),
      'lineCrossing.lines[0].line must be the JSON of two points, e.g. "[[0.5,0.1],[0.5,0.9]]", not "[[0.5,0.1], [0.5"',
    ],
    [
      'three points',
      withTracking([tracker(), crossing([{ name: 'a', line: '[[0,0],[1,1],[0,1]]' }])], 'lineCrossing'),
      'lineCrossing.lines[0].line must hold exactly two points [[x1,y1],[x2,y2]], not "[[0,0],[1,1],[0,1]]"',
    ],
    [
      'a point outside the frame',
      withTracking([tracker(), crossing([{ name: 'a', line: '[[0,0],[1.2,1]]' }])], 'lineCrossing'),
      'lineCrossing.lines[0].line[1][0] must be a number in 0..1, not 1.2',
    ],
    [
      'two lines of one name',
      withTracking(
        [
          tracker(),
          crossing([
            { name: 'a', line: '[[0,0],[1,1]]' },
            { name: 'a', line: '[[0,1],[1,0]]' },
          ]),
        ],
        'lineCrossing',
      ),
      'lineCrossing.lines[1].name: two lines are named "a"',
    ],
    [
      'a line of one point',
      withTracking([tracker(), crossing([{ name: 'a', line: '[[0.5,0.5],[0.5,0.5]]' }])], 'lineCrossing'),
      'lineCrossing.lines[0].line: its two points are the same',
    ],
  ];
  for (const [what, topology, message] of bad) {
    test(`refuses ${what}`, () => {
      const error = refusal(() => parseTopology(topology, values));
      assert.equal(error.code, 'HX_ERR_PIPELINE_TOPOLOGY');
      assert.equal(error.message, message);
    });
  }
});
