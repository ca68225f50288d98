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
  if (probeFfmpeg('ffmpeg')) {
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
  if (!fpsModeSupport.has(ffmpeg)) probeFfmpeg(ffmpeg);
  return fpsModeSupport.get(ffmpeg) ?? false;
}

/** Runs `ffmpeg -h long`, remembers whether it has `-fps_mode`, and says whether that ffmpeg runs at all. */
function probeFfmpeg(ffmpeg: string): boolean {
  const help = spawnSync(ffmpeg, ['-hide_banner', '-h', 'long'], { encoding: 'utf8', maxBuffer: 16 * 1024 * 1024 });
  fpsModeSupport.set(ffmpeg, help.status === 0 && /^-fps_mode\s/m.test(help.stdout ?? ''));
  return help.status === 0;
}
