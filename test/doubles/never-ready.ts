import { defineProcessor } from '../../src/contract/processor.js';

/** Test double whose set-up never finishes: the server must stay not-ready and answer 503. */
export default defineProcessor<Record<string, never>>({
  name: 'neverReady',
  description: 'never finishes create() (tests only)',
  create: () => new Promise(() => {}),
});
