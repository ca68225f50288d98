import { fileURLToPath } from 'node:url';
import type { Attribute, Inference, Rectangle, Tag } from './inference.js';

/**
 * Our inference schema and the gRPC contract's `Inference` message (proto/inferencing.proto), both ways, for the
 * gRPC server and the pipeline runner's gRPC node alike. Messages are plain objects as @grpc/proto-loader gives them
 * with GRPC_LOADER_OPTIONS: camelCase field names (`inferenceId`, not `inference_id`), enums as their names, 64-bit
 * integers as numbers (timestamps and sequence numbers stay far below 2^53), bytes as Buffers, absent fields absent,
 * and the name of the set member of each oneof in a virtual field (`value`, `payload`, `content`).
 */
export const GRPC_LOADER_OPTIONS = {
  keepCase: false,
  longs: Number,
  enums: String,
  defaults: false,
  oneofs: true,
} as const;

/** The contract's folder and its entry file: shipped beside dist/ (package.json `files`). */
export const PROTO_DIR = fileURLToPath(new URL('../../../proto/', import.meta.url));
export const EXTENSION_PROTO = 'extension.proto';
export const PROTO_PACKAGE = 'microsoft.azure.media.live_video_analytics.extensibility.grpc.v1';

export type ProtoInferenceType = 'AUTO' | 'CLASSIFICATION' | 'MOTION' | 'ENTITY' | 'TEXT' | 'EVENT' | 'OTHER';

export interface ProtoTag {
  value?: string;
  confidence?: number;
}
export interface ProtoAttribute {
  name?: string;
  value?: string;
  confidence?: number;
}
export interface ProtoRectangle {
  l?: number;
  t?: number;
  w?: number;
  h?: number;
}

export interface ProtoInference {
  type?: ProtoInferenceType;
  subtype?: string;
  inferenceId?: string;
  relatedInferences?: string[];
  sequenceId?: string;
  value?: 'classification' | 'motion' | 'entity' | 'text' | 'event' | 'other';
  classification?: { tag?: ProtoTag; attributes?: ProtoAttribute[] };
  motion?: { box?: ProtoRectangle };
  entity?: { tag?: ProtoTag; attributes?: ProtoAttribute[]; box?: ProtoRectangle; id?: string };
  text?: { value?: string; language?: string; startTimestamp?: number; endTimestamp?: number };
  event?: { name?: string; properties?: Record<string, string> };
  other?: { contentType?: string; contentBytes?: Uint8Array };
  extensions?: Record<string, string>;
}

/** `MediaStreamMessage` as proto-loader gives it with GRPC_LOADER_OPTIONS (camelCase, oneof names in `payload`). */
export interface StreamMessage {
  sequenceNumber?: number;
  ackSequenceNumber?: number;
  payload?: 'mediaStreamDescriptor' | 'mediaSample';
  mediaStreamDescriptor?: {
    graphIdentifier?: { mediaServicesArmId?: string; graphInstanceName?: string; graphNodeName?: string };
    extensionIdentifier?: string;
    extensionConfiguration?: string;
    mediaDescriptor?: {
      timescale?: number;
      videoFrameSampleFormat?: {
        encoding?: 'BMP' | 'JPG' | 'PNG' | 'RAW';
        pixelFormat?: string;
        dimensions?: { width?: number; height?: number };
        strideBytes?: number;
      };
    };
    sharedMemoryBufferTransferProperties?: { handleName?: string; lengthBytes?: number };
  };
  mediaSample?: {
    timestamp?: number;
    contentBytes?: { bytes?: Uint8Array };
    contentReference?: { addressOffset?: number; lengthBytes?: number };
    inferences?: ProtoInference[];
  };
}

/**
 * Ours to the proto's. The one loss: an event's `box` has no field in the contract (its Event is a name and
 * properties), so it is not sent.
 */
export function toProtoInference(inference: Inference): ProtoInference {
  const out: ProtoInference = { type: inference.type.toUpperCase() as ProtoInferenceType };
  if (inference.subtype !== undefined) out.subtype = inference.subtype;
  if (inference.inferenceId !== undefined) out.inferenceId = inference.inferenceId;
  if (inference.relatedInferences !== undefined) out.relatedInferences = [...inference.relatedInferences];
  if (inference.sequenceId !== undefined) out.sequenceId = inference.sequenceId;
  if (inference.extensions !== undefined) out.extensions = { ...inference.extensions };
  switch (inference.type) {
    case 'classification': {
      const c = inference.classification;
      out.classification = { tag: { ...c.tag }, ...attributesTo(c.attributes) };
      break;
    }
    case 'motion':
      out.motion = inference.motion.box === undefined ? {} : { box: { ...inference.motion.box } };
      break;
    case 'entity': {
      const e = inference.entity;
      out.entity = { tag: { ...e.tag }, box: { ...e.box }, ...(e.id === undefined ? {} : { id: e.id }) };
      Object.assign(out.entity, attributesTo(e.attributes));
      break;
    }
    case 'text':
      out.text = { ...inference.text };
      break;
    case 'event':
      out.event = { name: inference.event.name, properties: { ...inference.event.properties } };
      break;
    case 'other': {
      const o = inference.other;
      out.other = {
        ...(o.contentType === undefined ? {} : { contentType: o.contentType }),
        ...(o.contentBytes === undefined ? {} : { contentBytes: Buffer.from(o.contentBytes, 'base64') }),
      };
      break;
    }
  }
  return out;
}

/**
 * The proto's to ours. Which payload it carries decides the type (so `AUTO` works, as the contract allows);
 * proto3 cannot tell an empty string from an absent one, so empty optional strings become absent. The contract's
 * floats are 32-bit: each is given back as the shortest decimal that is the same float32, so 0.9 sent comes back
 * 0.9, not 0.8999999761581421.
 */
export function fromProtoInference(proto: ProtoInference): Inference {
  const common = {
    ...optional('subtype', proto.subtype),
    ...optional('inferenceId', proto.inferenceId),
    ...(proto.relatedInferences?.length ? { relatedInferences: [...proto.relatedInferences] } : {}),
    ...(proto.extensions && Object.keys(proto.extensions).length > 0 ? { extensions: { ...proto.extensions } } : {}),
    ...optional('sequenceId', proto.sequenceId),
  };
  const kind = proto.value ?? payloadOf(proto);
  switch (kind) {
    case 'classification': {
      const c = proto.classification ?? {};
      return { type: kind, ...common, classification: { tag: tagFrom(c.tag), ...attributesFrom(c.attributes) } };
    }
    case 'motion': {
      const box = proto.motion?.box;
      return { type: kind, ...common, motion: box === undefined ? {} : { box: boxFrom(box) } };
    }
    case 'entity': {
      const e = proto.entity ?? {};
      return {
        type: kind,
        ...common,
        entity: { tag: tagFrom(e.tag), box: boxFrom(e.box), ...optional('id', e.id), ...attributesFrom(e.attributes) },
      };
    }
    case 'text': {
      const t = proto.text ?? {};
      return {
        type: kind,
        ...common,
        text: {
          value: t.value ?? '',
          ...optional('language', t.language),
          ...(t.startTimestamp ? { startTimestamp: Number(t.startTimestamp) } : {}),
          ...(t.endTimestamp ? { endTimestamp: Number(t.endTimestamp) } : {}),
        },
      };
    }
    case 'event': {
      const e = proto.event ?? {};
      return { type: kind, ...common, event: { name: e.name ?? '', properties: { ...e.properties } } };
    }
    case 'other': {
      const o = proto.other ?? {};
      return {
        type: kind,
        ...common,
        other: {
          ...optional('contentType', o.contentType),
          ...(o.contentBytes?.length ? { contentBytes: Buffer.from(o.contentBytes).toString('base64') } : {}),
        },
      };
    }
    default:
      throw new TypeError(`Inference of type ${proto.type ?? 'AUTO'} carries no payload`);
  }
}

const PAYLOADS = ['classification', 'motion', 'entity', 'text', 'event', 'other'] as const;

function payloadOf(proto: ProtoInference): (typeof PAYLOADS)[number] | undefined {
  return PAYLOADS.find((key) => proto[key] !== undefined && proto[key] !== null);
}

function optional<K extends string>(key: K, value: string | undefined): { [P in K]?: string } {
  return (value === undefined || value === '' ? {} : { [key]: value }) as { [P in K]?: string };
}

function attributesTo(attributes: readonly Attribute[] | undefined): { attributes?: ProtoAttribute[] } {
  return attributes === undefined ? {} : { attributes: attributes.map((a) => ({ ...a })) };
}

function attributesFrom(attributes: readonly ProtoAttribute[] | undefined): { attributes?: Attribute[] } {
  if (!attributes?.length) return {};
  return {
    attributes: attributes.map((a) => ({
      name: a.name ?? '',
      value: a.value ?? '',
      ...(a.confidence === undefined ? {} : { confidence: float32(a.confidence) }),
    })),
  };
}

function tagFrom(tag: ProtoTag | undefined): Tag {
  return {
    value: tag?.value ?? '',
    ...(tag?.confidence === undefined ? {} : { confidence: float32(tag.confidence) }),
  };
}

function boxFrom(box: ProtoRectangle | undefined): Rectangle {
  return { l: float32(box?.l ?? 0), t: float32(box?.t ?? 0), w: float32(box?.w ?? 0), h: float32(box?.h ?? 0) };
}

/** The shortest decimal that reads back as the same float32 (at most 9 significant digits always suffice). */
export function float32(x: number): number {
  const target = Math.fround(x);
  for (let digits = 1; digits < 9; digits++) {
    const candidate = Number(target.toPrecision(digits));
    if (Math.fround(candidate) === target) return candidate;
  }
  return Number(target.toPrecision(9));
}
