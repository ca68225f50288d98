import { defineProcessor } from '../../src/contract/processor.js';

/** Test double whose set-up fails, as a model that cannot be loaded does. */
export default defineProcessor<Record<string, never>>({
  name: 'failsToCreate',
  description: 'create() throws (tests only)',
  create: () => {
    throw new Error('the model file weights.bin is missing');
  },
});
