import { spawnSync } from 'node:child_process';
import { accessSync, chmodSync, constants } from 'node:fs';
import { createRequire } from 'node:module';
import { HxError } from '../errors.js';

let cached: string | undefined;

/**
 * The ffmpeg binary that decodes sources: `HX_FFMPEG` if set, else the system's (it is usually newer and has the
 * hardware decoders), else the static build that `@ffmpeg-installer/ffmpeg` ships inside its npm package (an optional
 * peer dependency: 66 MB that only the runner needs, installed by whoever wants it). Nothing is downloaded at run time.
 */
export function findFfmpeg(explicit?: string): string {
  const fromEnv = explicit ?? process.env.HX_FFMPEG;
  if (fromEnv) return fromEnv;
  if (cached !== undefined) return cached;
  // The probe for the system's ffmpeg is also the one hasFpsMode needs: one process start instead of two.
  if (askFpsMode('ffmpeg') !== undefined) {
    cached = 'ffmpeg';
    return cached;
  }
  try {
    const require = createRequire(import.meta.url);
    const path = (require('@ffmpeg-installer/ffmpeg') as { path: string }).path;
    try {
      accessSync(path, constants.X_OK);
    } catch {
      // npm may skip the package's `chmod u+x` install script (install scripts disabled).
      chmodSync(path, 0o755);
    }
    cached = path;
    return cached;
  } catch (error) {
    throw new HxError(
      'HX_ERR_PIPELINE_SOURCE',
      'No ffmpeg found: install ffmpeg (apt-get install -y ffmpeg), or its npm build (npm install @ffmpeg-installer/ffmpeg), or set HX_FFMPEG',
      { cause: error },
    );
  }
}

const fpsModeSupport = new Map<string, boolean>();

/**
 * Whether this ffmpeg has `-fps_mode` (5.1 and later), which replaces the deprecated `-vsync`; the static build
 * bundled by `@ffmpeg-installer` predates it. Asked once per binary.
 */
export function hasFpsMode(ffmpeg: string): boolean {
  let known = fpsModeSupport.get(ffmpeg);
  if (known === undefined) {
    known = askFpsMode(ffmpeg) ?? false;
    fpsModeSupport.set(ffmpeg, known);
  }
  return known;
}

/** Runs `ffmpeg -h long` once and remembers the answer; undefined when that ffmpeg does not run. */
function askFpsMode(ffmpeg: string): boolean | undefined {
  const help = spawnSync(ffmpeg, ['-hide_banner', '-h', 'long'], { encoding: 'utf8', maxBuffer: 16 * 1024 * 1024 });
  if (help.status !== 0) return undefined;
  const known = /^-fps_mode\s/m.test(help.stdout ?? '');
  fpsModeSupport.set(ffmpeg, known);
  return known;
}
