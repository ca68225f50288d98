import { isMainThread } from 'node:worker_threads';
import { defineProcessor } from '../../src/contract/processor.js';

/** Test double whose set-up never finishes: the server must stay not-ready and answer 503. */
export default defineProcessor<Record<string, never>>({
  name: 'neverReady',
  description: 'never finishes create() (tests only)',
  // Stuck waiting on something: a bare promise leaves a worker thread nothing to run, so it would exit (code 0) and
  // race the startup timeout it is meant to trip. Inline, the server's own sockets keep the process alive.
  create: () =>
    new Promise(() => {
      if (!isMainThread) setInterval(() => {}, 60_000);
    }),
});
