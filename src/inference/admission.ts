import { HxError } from '../errors.js';
import { type MediaInfo, probeEncoded, probeRaw, type RawGeometrySource, sniffKind } from './probe.js';

const RAW_MEDIA_TYPE = 'image/x-raw';

/**
 * Declared types decoded by sniffing the bytes (the declared type is a hint: real clients send image/jpg,
 * application/octet-stream or nothing). image/x-raw has no magic and must be declared.
 */
const SNIFFED = new Set([
  '',
  'application/octet-stream',
  'image/jpeg',
  'image/jpg',
  'image/pjpeg',
  'image/png',
  'image/x-png',
  'image/apng',
  'image/bmp',
  'image/x-bmp',
  'image/x-ms-bmp',
  'image/*',
]);

export interface AdmissionLimits {
  maxPixels: number;
  /** The configured raw geometry, used where the request states none. */
  raw: RawGeometrySource;
}

/**
 * What a body is, from its bytes and what the front end was told, before anything is queued: the header probe, the
 * raw geometry and the pixel limit, so that a frame over the limit is refused before any pixel memory is allocated.
 * `mediaType` is the declared type's lower-case essence ('' when none); `rawHints` are the raw geometry's sources in
 * precedence order.
 */
export function admitMedia(
  body: Uint8Array,
  mediaType: string,
  rawHints: readonly RawGeometrySource[],
  limits: AdmissionLimits,
): MediaInfo {
  if (body.byteLength === 0) throw new HxError('HX_ERR_MEDIA_EMPTY_BODY');
  let media: MediaInfo;
  if (mediaType === RAW_MEDIA_TYPE) media = probeRaw(body.byteLength, [...rawHints, limits.raw]);
  else if (sniffKind(body) === undefined && !SNIFFED.has(mediaType)) {
    throw new HxError(
      'HX_ERR_MEDIA_UNSUPPORTED_TYPE',
      `The media type ${mediaType} is not supported and the body is not a JPEG, PNG or BMP: send image/jpeg, ` +
        'image/png, image/bmp or image/x-raw',
    );
  } else media = probeEncoded(body);
  if (media.width * media.height > limits.maxPixels) throw tooManyPixels(media.width, media.height, limits);
  return media;
}

/**
 * What the request says before its body is read: an image/x-raw frame's declared geometry over maxPixels is refused
 * at once (with `close`: the front end need not read a body it will not use). Anything else waits for the bytes.
 */
export function admitDeclared(
  mediaType: string,
  rawHints: readonly RawGeometrySource[],
  limits: AdmissionLimits,
): void {
  if (mediaType !== RAW_MEDIA_TYPE) return;
  const sources = [...rawHints, limits.raw];
  const pick = (key: 'width' | 'height') =>
    Number(sources.map((s) => s[key]).find((v) => v !== undefined && v !== '') ?? Number.NaN);
  const width = pick('width');
  const height = pick('height');
  if (Number.isSafeInteger(width) && Number.isSafeInteger(height) && width * height > limits.maxPixels) {
    throw tooManyPixels(width, height, limits, { connection: 'close' });
  }
}

function tooManyPixels(width: number, height: number, limits: AdmissionLimits, headers?: Record<string, string>) {
  return new HxError(
    'HX_ERR_LIMIT_TOO_MANY_PIXELS',
    `The image is ${width}x${height} = ${width * height} pixels, over maxPixels (${limits.maxPixels}): scale ` +
      'frames down in the pipeline or raise maxPixels',
    headers === undefined ? undefined : { headers },
  );
}
