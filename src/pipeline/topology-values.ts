import { HxError } from '../errors.js';

/**
 * Readers for topology property values. The vendor typed almost every number and boolean as a string (so that a
 * `${parameter}` can stand in for it): each reader accepts both and names the property when it refuses a value.
 */

export interface RawNode {
  '@type'?: unknown;
  name?: unknown;
  inputs?: unknown;
  [key: string]: unknown;
}

/** `#Microsoft.VideoAnalyzer.HttpExtension` and `#Microsoft.Media.MediaGraphHttpExtension` -> `HttpExtension`. */
export function shortType(type: unknown): string {
  if (typeof type !== 'string') return '';
  let t = type.replace(/^#?Microsoft\.VideoAnalyzer\./, '').replace(/^#?Microsoft\.Media\.MediaGraph/, '');
  if (t === 'IoTHubMessageSink') t = 'IotHubMessageSink'; // LVA's capital T
  if (t === 'IoTHubMessageSource') t = 'IotHubMessageSource';
  return t;
}

export function fail(message: string): never {
  throw new HxError('HX_ERR_PIPELINE_TOPOLOGY', message);
}

export function str(value: unknown, where: string): string {
  if (typeof value === 'string' && value.length > 0) return value;
  if (typeof value === 'number') return String(value);
  return fail(`${where} must be a non-empty string`);
}

/** Topologies write numbers as strings ("416", "2.0"): accept both. */
export function num(
  value: unknown,
  where: string,
  { integer = false, min = 0, max = Number.POSITIVE_INFINITY } = {},
): number {
  const n = typeof value === 'number' ? value : typeof value === 'string' && value.trim() !== '' ? Number(value) : NaN;
  if (!Number.isFinite(n) || n < min || n > max || (integer && !Number.isInteger(n))) {
    fail(`${where} must be ${integer ? 'a whole number' : 'a number'} in ${min}..${max}, not ${JSON.stringify(value)}`);
  }
  return n;
}

export function bool(value: unknown): boolean {
  return value === true || (typeof value === 'string' && value.toLowerCase() === 'true');
}

/** A boolean property with a default (absent or empty keeps the default). */
export function optionalBool(value: unknown, where: string, fallback: boolean): boolean {
  if (value === undefined || value === null || value === '') return fallback;
  if (value === true || value === false) return value;
  if (typeof value === 'string' && /^(true|false)$/i.test(value)) return value.toLowerCase() === 'true';
  return fail(`${where} must be true or false, not ${JSON.stringify(value)}`);
}

/** An enum property, matched without case (AVA writes `medium`, LVA `Medium`). */
export function oneOf<T extends string>(value: unknown, where: string, allowed: readonly T[], fallback: T): T {
  if (value === undefined || value === null || value === '') return fallback;
  const found = allowed.find((a) => typeof value === 'string' && a.toLowerCase() === value.toLowerCase());
  if (found === undefined) fail(`${where} must be one of ${allowed.join(', ')}, not ${JSON.stringify(value)}`);
  return found;
}

const DURATION = /^(-)?P(?:(\d+(?:\.\d+)?)D)?(?:T(?:(\d+(?:\.\d+)?)H)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)S)?)?$/i;

/** An ISO 8601 duration (`PT1S`, `-PT5S`, `PT1.5S`, `PT1M30S`, `P1D`) in milliseconds; a bare number is seconds. */
export function durationMs(
  value: unknown,
  where: string,
  fallbackMs: number,
  { min = 0, max = Infinity } = {},
): number {
  if (value === undefined || value === null || value === '') return fallbackMs;
  let ms: number | undefined;
  if (typeof value === 'number') ms = value * 1000;
  else if (typeof value === 'string') {
    const m = DURATION.exec(value.trim());
    if (m !== null && value.trim().replace(/^-/, '').toUpperCase() !== 'P' && !/T$/i.test(value.trim())) {
      const [, sign, d, h, mi, s] = m;
      ms = (Number(d ?? 0) * 86_400 + Number(h ?? 0) * 3600 + Number(mi ?? 0) * 60 + Number(s ?? 0)) * 1000;
      if (sign) ms = -ms;
    } else if (/^-?\d+(\.\d+)?$/.test(value.trim())) ms = Number(value) * 1000;
  }
  if (ms === undefined || !Number.isFinite(ms)) {
    return fail(`${where} must be an ISO 8601 duration such as PT1S or -PT5S, not ${JSON.stringify(value)}`);
  }
  if (ms < min || ms > max) fail(`${where} must be between ${min / 1000} s and ${max / 1000} s, not ${String(value)}`);
  return Math.round(ms);
}
