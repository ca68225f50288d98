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
  const pixels = media.width * media.height;
  if (pixels > limits.maxPixels) {
    throw new HxError(
      'HX_ERR_LIMIT_TOO_MANY_PIXELS',
      `The image is ${media.width}x${media.height} = ${pixels} pixels, over maxPixels (${limits.maxPixels}): scale ` +
        'frames down in the pipeline or raise maxPixels',
    );
  }
  return media;
}
