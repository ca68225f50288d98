/**
 * V8 heap settings for a server process, given by the launchers we ship: `npm start`, the container's ENTRYPOINT and
 * the supervisor, for its server processes (test/heap-flags.test.ts keeps them in step). The `httpextension` bin
 * keeps a plain `#!/usr/bin/env node` shebang: flags there need `env -S`, which busybox (Alpine) and the BSDs do not
 * have; a server started without them says so in its log, once, at start.
 *
 * Why: V8's defaults suit pages and short scripts. A server that allocates a few tens of KB per request (HTTP
 * objects, promises, metrics labels) and tens of KB of ArrayBuffers (bodies, decoded pixels) keeps a small old
 * generation (12-16 MB live), whose allocation limit V8 sets close to its live size; with a 16 MB semi-space the
 * slack is then always under one new space, so incremental marking restarts as soon as a mark-compact ends. Measured
 * on the main thread at 800-1,300 frames/s (`--trace-gc`, 416x416 JPEGs): a mark-compact every 0.3 s with marking
 * steps of up to 8-12 ms and no scavenge at all, which is the whole 1% tail at c=1 (p99 13 ms for a p50 of 1 ms).
 * A 128 MB initial old generation keeps the limit out of reach between the mark-compacts that garbage makes
 * necessary, and a 64 MB semi-space makes scavenges rarer at the same cost each (their cost is the survivors, a few
 * requests in flight, not the garbage). Measured against V8's defaults in the same hour (BENCHMARKS.md, "The V8 heap
 * flags"): p99 -60% at c=1 and -30..50% at c=8, CPU per request -6..33%, req/s +8..47% at c=8; the cost is memory
 * under load, +60-90 MiB peak RSS per server process, and nothing at idle.
 *
 * They are process flags: V8 reads them once, when the process starts, so they cannot come from the config file.
 * To run with other values, start node with your own (`node --max-semi-space-size=16 --initial-heap-size=32
 * dist/src/cli/main.js`; NODE_OPTIONS may carry --max-semi-space-size but node refuses --initial-heap-size there): a
 * flag you give is kept, and the supervisor passes it on to its server processes instead of ours.
 */
export const SERVER_HEAP_FLAGS: readonly string[] = ['--max-semi-space-size=64', '--initial-heap-size=128'];

/** The SERVER_HEAP_FLAGS for which neither `execArgv` nor NODE_OPTIONS has a flag of that name (either spelling). */
export function missingServerHeapFlags(
  execArgv: readonly string[] = process.execArgv,
  env: NodeJS.ProcessEnv = process.env,
): string[] {
  const name = (flag: string) => flag.split('=')[0]!.replace(/_/g, '-');
  const given = new Set([...execArgv, ...(env.NODE_OPTIONS ?? '').split(/\s+/)].map(name));
  return SERVER_HEAP_FLAGS.filter((flag) => !given.has(name(flag)));
}

/** `execArgv` with the missing SERVER_HEAP_FLAGS added in front. */
export function withServerHeapFlags(execArgv: readonly string[], env: NodeJS.ProcessEnv = process.env): string[] {
  return [...missingServerHeapFlags(execArgv, env), ...execArgv];
}
