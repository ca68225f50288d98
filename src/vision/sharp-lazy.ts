import type sharpModule from 'sharp';

export type Sharp = typeof sharpModule;

let loading: Promise<Sharp> | undefined;

/**
 * libvips, loaded on first use (about 30 MiB of resident memory): most frames never need it, since JPEG goes through
 * libjpeg-turbo, 8-bit PNGs through @napi-rs/image, BMP and raw are read by our own code. Inside pool workers each call gets
 * one libvips thread and no operation cache (frames never repeat).
 */
export function loadSharp(): Promise<Sharp> {
  loading ??= import('sharp').then(({ default: sharp }) => {
    sharp.concurrency(1);
    sharp.cache(false);
    return sharp;
  });
  return loading;
}
