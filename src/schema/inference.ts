/**
 * The inference metadata types of the HTTP extension protocol (see docs/protocol.md).
 * One discriminated union: `type` names the one payload key an inference carries.
 */
export interface Tag {
  value: string;
  /** 0..1 */
  confidence?: number;
}

export interface Attribute {
  name: string;
  value: string;
  /** 0..1 */
  confidence?: number;
}

/** A box normalised to the image the extension received, origin top-left; l+w <= 1 and t+h <= 1. */
export interface Rectangle {
  l: number;
  t: number;
  w: number;
  h: number;
}

export interface Classification {
  tag: Tag;
  attributes?: Attribute[];
}

export interface Entity {
  tag: Tag;
  box: Rectangle;
  id?: string;
  attributes?: Attribute[];
}

export interface Motion {
  box?: Rectangle;
}

export interface Text {
  value: string;
  /** BCP-47 */
  language?: string;
  startTimestamp?: number;
  endTimestamp?: number;
}

export interface Event {
  name: string;
  properties: Record<string, string>;
  box?: Rectangle;
}

export interface Other {
  /** IANA media type */
  contentType?: string;
  /** base64 */
  contentBytes?: string;
}

interface InferenceCommon {
  subtype?: string;
  inferenceId?: string;
  relatedInferences?: string[];
  extensions?: Record<string, string>;
  /** Added by object trackers; allowed by our schema (the vendor's rejects it, see docs/protocol.md). */
  sequenceId?: string;
}

export type Inference = InferenceCommon &
  (
    | { type: 'classification'; classification: Classification }
    | { type: 'motion'; motion: Motion }
    | { type: 'entity'; entity: Entity }
    | { type: 'text'; text: Text }
    | { type: 'event'; event: Event }
    | { type: 'other'; other: Other }
  );

/** The body of a 200 answer. Never sent with an empty list: no result is 204. */
export interface InferenceResponse {
  inferences: Inference[];
}

/** Clamps a box into the unit square so that l+w <= 1 and t+h <= 1 hold exactly. */
export function clampBox(box: Rectangle): Rectangle {
  const l = clamp01(box.l);
  const t = clamp01(box.t);
  return { l, t, w: Math.min(clamp01(box.w), 1 - l), h: Math.min(clamp01(box.h), 1 - t) };
}

/**
 * Into 0..1: the one clamp for scores and normalised coordinates. NaN (a model's 0/0) becomes 0, so that it can
 * never reach a client as `null` in JSON; an infinite value saturates like any other out-of-range value.
 */
export function clamp01(x: number): number {
  return Number.isNaN(x) ? 0 : Math.min(1, Math.max(0, x));
}

/** A confidence as answered: in 0..1, three decimals (more digits are noise, and bytes on every answer). */
export function round3(x: number): number {
  return clamp01(Math.round(x * 1000) / 1000);
}
