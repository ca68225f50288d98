import { existsSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { defineProcessor } from '../../src/contract/processor.js';
import { released } from './released.js';

/**
 * Test double driven by the query: ?do=throw | crash | crash-async | empty | invalid | slow&ms=N | spin&ms=N |
 * hold&until=FILE (runs until the test creates FILE: a release that works across threads) | throw-later&until=FILE
 * (answers, then throws from a timer once FILE exists) | hog&mb=N (keeps N MB of Buffers) | ok.
 * Implements the real processor interface, so the pool and the front end are tested as they run in production.
 */
const hogged: Buffer[] = [];

export default defineProcessor<Record<string, never>>({
  name: 'behave',
  description: 'misbehaves on request (tests only)',
  create: () => ({
    async process(_frame, request) {
      switch (request.query.do) {
        case 'throw':
          throw new Error('secret internal detail /etc/passwd');
        case 'crash':
          process.exit(3);
          break;
        case 'crash-async':
          setTimeout(() => {
            throw new Error('uncaught in worker');
          }, 0);
          await sleep(1000);
          break;
        case 'throw-later': {
          // Returns at once, and throws from a timer once the test creates FILE: while another task runs.
          const timer = setInterval(() => {
            if (!existsSync(String(request.query.until))) return;
            clearInterval(timer);
            throw new Error('uncaught, long after its task');
          }, 5);
          break;
        }
        case 'hog':
          // Memory outside the JS heap, kept: what workerMaxMemoryMb bounds.
          hogged.push(Buffer.alloc(Number(request.query.mb ?? 64) * 2 ** 20, 1));
          break;
        case 'empty':
          return [];
        case 'invalid':
          return [{ type: 'entity', entity: { tag: { value: 'x' } } } as never];
        case 'slow':
          await sleep(Number(request.query.ms ?? 200));
          break;
        case 'hold':
          await released(String(request.query.until));
          break;
        case 'spin': {
          const end = Date.now() + Number(request.query.ms ?? 200);
          while (Date.now() < end) {
            // busy: a processor stuck in synchronous code
          }
          break;
        }
      }
      return [{ type: 'classification', subtype: 'behave', classification: { tag: { value: 'ok', confidence: 1 } } }];
    },
  }),
});
