/**
 * One thread of the bare-model baseline: loads the processor once, decodes the frame once, then runs process() in a
 * loop for as long as it is told. The served side runs the same processor in the server's own worker threads, so
 * the two compare like for like (a worker thread each, one processor instance per thread).
 */
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { parentPort, workerData } from 'node:worker_threads';
import type { ProcessRequest } from '../src/contract/processor.js';
import { decodeFrame } from '../src/inference/decode.js';
import { probeEncoded } from '../src/inference/probe.js';
import { processorOptions } from '../src/processors/options.js';
import { loadProcessor, resolveProcessorUrl } from '../src/processors/registry.js';

export interface BareWorkerData {
  processor: string;
  framePath: string;
  workerId: number;
}

export type BareCommand = { type: 'run'; ms: number } | { type: 'close' };
export type BareReply = { type: 'ready' } | { type: 'done'; frames: number; wallMs: number };

const port = parentPort!;
const data = workerData as BareWorkerData;
const definition = await loadProcessor(resolveProcessorUrl(data.processor));
const options = processorOptions(definition, {});
const instance = await definition.create(options, { workerId: data.workerId });
const body = readFileSync(data.framePath);
const frame = await decodeFrame(
  new Uint8Array(body),
  probeEncoded(body),
  definition.frameRequirements?.(options) ?? {},
);
// A stream key per thread, as the served side's clients use, so stateful processors (motion) see one stream each.
const req: ProcessRequest = { requestId: 'bench', route: '/bench', query: {}, stream: `bare${data.workerId}` };
await instance.process(frame, req);

port.on('message', async (command: BareCommand) => {
  if (command.type === 'close') {
    await instance.dispose?.();
    port.close();
    return;
  }
  let frames = 0;
  const start = performance.now();
  const end = start + command.ms;
  while (performance.now() < end) {
    await instance.process(frame, req);
    frames++;
  }
  port.postMessage({ type: 'done', frames, wallMs: performance.now() - start } satisfies BareReply);
});
port.postMessage({ type: 'ready' } satisfies BareReply);
