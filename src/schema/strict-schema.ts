/**
 * Our strict JSON Schema (draft-07) for answers. It closes the vendor schema's holes (docs/protocol.md):
 * `inferences` is required, `type` is tied to exactly one payload key, `subtype` is lower-case-keyed and trimmed,
 * `sequenceId` is allowed, boxes stay inside the image. Every answer the server sends validates against it.
 */
const unit = { type: 'number', minimum: 0, maximum: 1 } as const;
const stringMap = { type: 'object', additionalProperties: { type: 'string' } } as const;

const payloadKeys = ['classification', 'motion', 'entity', 'text', 'event', 'other'] as const;

export const strictInferenceSchema = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  $id: 'https://httpextension.dev/schema/inference-response.json',
  title: 'httpextension inference response (strict)',
  type: 'object',
  required: ['inferences'],
  additionalProperties: false,
  properties: {
    inferences: { type: 'array', minItems: 1, items: { $ref: '#/definitions/inference' } },
  },
  definitions: {
    tag: {
      type: 'object',
      required: ['value'],
      additionalProperties: false,
      properties: { value: { type: 'string', minLength: 1 }, confidence: unit },
    },
    attribute: {
      type: 'object',
      required: ['name', 'value'],
      additionalProperties: false,
      properties: { name: { type: 'string', minLength: 1 }, value: { type: 'string' }, confidence: unit },
    },
    attributes: { type: 'array', items: { $ref: '#/definitions/attribute' } },
    rectangle: {
      type: 'object',
      required: ['l', 't', 'w', 'h'],
      additionalProperties: false,
      properties: { l: unit, t: unit, w: unit, h: unit },
    },
    classification: {
      type: 'object',
      required: ['tag'],
      additionalProperties: false,
      properties: { tag: { $ref: '#/definitions/tag' }, attributes: { $ref: '#/definitions/attributes' } },
    },
    entity: {
      type: 'object',
      required: ['tag', 'box'],
      additionalProperties: false,
      properties: {
        tag: { $ref: '#/definitions/tag' },
        box: { $ref: '#/definitions/rectangle' },
        id: { type: 'string' },
        attributes: { $ref: '#/definitions/attributes' },
      },
    },
    motion: { type: 'object', additionalProperties: false, properties: { box: { $ref: '#/definitions/rectangle' } } },
    text: {
      type: 'object',
      required: ['value'],
      additionalProperties: false,
      properties: {
        value: { type: 'string' },
        language: { type: 'string', pattern: '^[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8})*$' },
        startTimestamp: { type: 'integer' },
        endTimestamp: { type: 'integer' },
      },
    },
    event: {
      type: 'object',
      required: ['name', 'properties'],
      additionalProperties: false,
      properties: {
        name: { type: 'string', minLength: 1 },
        properties: stringMap,
        box: { $ref: '#/definitions/rectangle' },
      },
    },
    other: {
      type: 'object',
      additionalProperties: false,
      properties: {
        contentType: { type: 'string', pattern: '^[A-Za-z0-9!#$&^_.+-]+/[A-Za-z0-9!#$&^_.+-]+$' },
        contentBytes: { type: 'string', pattern: '^[A-Za-z0-9+/]*={0,2}$' },
      },
    },
    inference: {
      type: 'object',
      required: ['type'],
      additionalProperties: false,
      properties: {
        type: { enum: [...payloadKeys] },
        subtype: { type: 'string', pattern: '^\\S(\\s*\\S)*$' },
        inferenceId: { type: 'string', minLength: 1 },
        relatedInferences: { type: 'array', items: { type: 'string', minLength: 1 } },
        extensions: stringMap,
        sequenceId: { type: 'string' },
        classification: { $ref: '#/definitions/classification' },
        motion: { $ref: '#/definitions/motion' },
        entity: { $ref: '#/definitions/entity' },
        text: { $ref: '#/definitions/text' },
        event: { $ref: '#/definitions/event' },
        other: { $ref: '#/definitions/other' },
      },
      // `type` names the payload key, and no other payload key is present.
      oneOf: payloadKeys.map((key) => ({
        required: [key],
        properties: { type: { const: key } },
        not: { anyOf: payloadKeys.filter((k) => k !== key).map((k) => ({ required: [k] })) },
      })),
    },
  },
} as const;
