/**
 * Worker-thread entry: loads every processor once, reports ready, then runs each task it is given (task-runner.ts).
 * Everything that leaves this thread is a plain object; errors become {code, message}.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { isHxError } from '../errors.js';
import type { TaskMessage, WorkerInit, WorkerMessage } from './messages.js';
import { TaskRunner } from './task-runner.js';

const port = parentPort!;
const init = workerData as WorkerInit;
let runner: TaskRunner | undefined;

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
  const { outcome, timings } = await runner!.run(task, new Uint8Array(task.body, 0, task.byteLength));
  const message: WorkerMessage = { type: 'result', id: task.id, timings, ...outcome };
  port.postMessage(message, outcome.ok && outcome.image ? [outcome.image.bytes] : []);
}

async function close(): Promise<void> {
  await runner?.dispose();
  port.close();
}

process.on('unhandledRejection', (reason) => {
  // A processor that leaks a rejected promise must not take the worker down silently.
  throw reason;
});

void start();
