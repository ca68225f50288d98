import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { loadSync, type MethodDefinition } from '@grpc/proto-loader';
import {
  EXTENSION_PROTO,
  float32,
  fromProtoInference,
  GRPC_LOADER_OPTIONS,
  PROTO_DIR,
  PROTO_PACKAGE,
  type ProtoInference,
  toProtoInference,
} from '../src/schema/grpc-inference.js';
import type { Inference } from '../src/schema/inference.js';
import { validateResponse } from '../src/schema/validate.js';

const definition = loadSync(join(PROTO_DIR, EXTENSION_PROTO), { ...GRPC_LOADER_OPTIONS, includeDirs: [PROTO_DIR] });
const service = definition[`${PROTO_PACKAGE}.MediaGraphExtension`] as Record<string, MethodDefinition<object, object>>;
const method = service.ProcessMediaStream!;

/** Through the wire: our inferences in a MediaSample, encoded and decoded by protobuf as a peer would. */
function viaWire(inferences: Inference[]): ProtoInference[] {
  const message = { sequenceNumber: 1, mediaSample: { timestamp: 9, inferences: inferences.map(toProtoInference) } };
  const decoded = method.responseDeserialize(method.requestSerialize(message)) as {
    mediaSample: { inferences?: ProtoInference[] };
  };
  return decoded.mediaSample.inferences ?? [];
}

const common = { subtype: 'sub', inferenceId: 'id-1', relatedInferences: ['id-0', 'id-2'], extensions: { k: 'v' } };

const everyType: Inference[] = [
  {
    type: 'classification',
    ...common,
    classification: {
      tag: { value: 'daylight', confidence: 0.9 },
      attributes: [{ name: 'isBlackWhite', value: 'false', confidence: 0.75 }],
    },
  },
  { type: 'motion', motion: { box: { l: 0.1, t: 0.2, w: 0.3, h: 0.4 } } },
  { type: 'motion', motion: {} },
  {
    type: 'entity',
    ...common,
    sequenceId: 'track-7',
    entity: {
      tag: { value: 'person', confidence: 0.873 },
      box: { l: 0.125, t: 0.333, w: 0.5, h: 0.667 },
      id: 'p-1',
      attributes: [{ name: 'color', value: 'red' }],
    },
  },
  { type: 'text', text: { value: 'STOP', language: 'en-US', startTimestamp: 900000, endTimestamp: 990000 } },
  { type: 'text', subtype: 'ocr', text: { value: 'exit' } },
  { type: 'event', event: { name: 'lineCrossed', properties: { direction: 'in', count: '3' } } },
  {
    type: 'other',
    other: { contentType: 'application/json', contentBytes: Buffer.from('{"a":1}').toString('base64') },
  },
];

describe('gRPC inference mapping', () => {
  test('every type survives ours -> proto -> wire -> proto -> ours unchanged', () => {
    const back = viaWire(everyType).map(fromProtoInference);
    assert.deepEqual(back, everyType);
    assert.deepEqual(validateResponse({ inferences: back }), []);
  });

  test('ours -> proto gives the exact message a peer reads (camelCase, enum names, bytes)', () => {
    assert.deepEqual(toProtoInference(everyType[3]!), {
      type: 'ENTITY',
      subtype: 'sub',
      inferenceId: 'id-1',
      relatedInferences: ['id-0', 'id-2'],
      sequenceId: 'track-7',
      extensions: { k: 'v' },
      entity: {
        tag: { value: 'person', confidence: 0.873 },
        box: { l: 0.125, t: 0.333, w: 0.5, h: 0.667 },
        id: 'p-1',
        attributes: [{ name: 'color', value: 'red' }],
      },
    });
    const wire = viaWire([everyType[7]!])[0]!;
    assert.equal(wire.type, 'OTHER');
    assert.equal(wire.value, 'other');
    assert.equal(Buffer.from(wire.other!.contentBytes!).toString(), '{"a":1}');
  });

  test('proto -> ours: the payload decides the type (AUTO), empty proto3 strings are absent', () => {
    const fromPeer: ProtoInference = {
      type: 'AUTO',
      subtype: '',
      inferenceId: '',
      entity: { tag: { value: 'car', confidence: Math.fround(0.6) }, box: { l: 0, t: 0, w: 1, h: 1 }, id: '' },
    };
    assert.deepEqual(fromProtoInference(fromPeer), {
      type: 'entity',
      entity: { tag: { value: 'car', confidence: 0.6 }, box: { l: 0, t: 0, w: 1, h: 1 } },
    });
    assert.throws(() => fromProtoInference({ type: 'ENTITY' }), /ENTITY carries no payload/);
  });

  test("an event's box has no field in the contract: it is not sent", () => {
    const [wire] = viaWire([{ type: 'event', event: { name: 'x', properties: {}, box: { l: 0, t: 0, w: 1, h: 1 } } }]);
    assert.deepEqual(fromProtoInference(wire!), { type: 'event', event: { name: 'x', properties: {} } });
  });

  test('float32 gives the shortest decimal of the same single-precision value', () => {
    assert.equal(float32(Math.fround(0.1)), 0.1);
    assert.equal(float32(Math.fround(0.873)), 0.873);
    assert.equal(float32(Math.fround(1 / 3)), 0.33333334);
    assert.equal(float32(0), 0);
  });
});
