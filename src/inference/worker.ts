/**
 * Worker-thread entry: loads every processor once, reports ready, then runs each task it is given (task-runner.ts).
 * Everything that leaves this thread is a plain object; errors become {code, message}.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { getHeapStatistics } from 'node:v8';
import { parentPort, workerData } from 'node:worker_threads';
import { isHxError } from '../errors.js';
import type { TaskMessage, WorkerInit, WorkerMessage } from './messages.js';
import { TaskRunner } from './task-runner.js';

const port = parentPort!;
const init = workerData as WorkerInit;
let runner: TaskRunner | undefined;
/** The task whose code is running: an uncaught error is attributed to the task that scheduled it, not to the next. */
const taskContext = new AsyncLocalStorage<number>();
let current: number | undefined;
/** Set by an uncaught error: the thread's state is suspect, so it is replaced after the answer it owes. */
let faulted: string | undefined;

function post(message: WorkerMessage): void {
  port.postMessage(message);
}

async function start(): Promise<void> {
  try {
    runner = await TaskRunner.load(init.processors, init.workerId);
  } catch (error) {
    const plain = isHxError(error)
      ? error.toPlain()
      : { code: 'HX_ERR_PROCESSOR_LOAD' as const, message: String(error) };
    post({ type: 'init-failed', error: plain, detail: (error as Error)?.stack ?? String(error) });
    return;
  }
  port.on('message', (message: TaskMessage | { type: 'close' }) => {
    if (message.type === 'close') void close();
    else void run(message);
  });
  post({ type: 'ready' });
}

async function run(task: TaskMessage): Promise<void> {
  current = task.id;
  const { outcome, timings } = await taskContext.run(task.id, () =>
    runner!.run(task, new Uint8Array(task.body, 0, task.byteLength)),
  );
  // Already answered: its own uncaught error failed it.
  if (current !== task.id) return;
  current = undefined;
  const recycle = faulted ?? overMemory();
  const message: WorkerMessage = { type: 'result', id: task.id, timings, ...outcome, ...(recycle ? { recycle } : {}) };
  port.postMessage(message, outcome.ok && outcome.image ? [outcome.image.bytes] : []);
}

/** Memory this thread holds: its JS heap and what its buffers hold outside it (process RSS is shared by threads). */
function overMemory(): string | undefined {
  // The same two figures as process.memoryUsage()'s heapUsed and external, without the RSS it also reads from /proc
  // (a file read per task).
  const heap = getHeapStatistics() as ReturnType<typeof getHeapStatistics> & { external_memory?: number };
  const used = heap.used_heap_size + (heap.external_memory ?? process.memoryUsage().external);
  return used > init.maxMemoryBytes
    ? `holds ${Math.round(used / 2 ** 20)} MB after a task, over workerMaxMemoryMb`
    : undefined;
}

/**
 * An error no task caught (a processor's timer or promise): it fails the task that raised it, if that one is still
 * running, and never the one running now on behalf of another route. The thread is replaced after its next answer.
 */
function fault(error: unknown): void {
  const owner = taskContext.getStore();
  const detail = (error as Error)?.stack ?? String(error);
  faulted = 'an uncaught error in a processor';
  if (owner !== undefined && owner === current) {
    current = undefined;
    const failed = {
      ok: false as const,
      error: { code: 'HX_ERR_PROCESSOR_FAILED' as const, message: 'The processor failed on this frame' },
    };
    post({
      type: 'result',
      id: owner,
      timings: { decodeMs: 0, processMs: 0, encodeMs: 0 },
      ...failed,
      detail,
      recycle: faulted,
    });
    return;
  }
  post({ type: 'fault', id: owner, detail });
}

async function close(): Promise<void> {
  await runner?.dispose();
  port.close();
}

process.on('uncaughtException', fault);
process.on('unhandledRejection', fault);

void start();
