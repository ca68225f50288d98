import { defineProcessor } from '../../src/contract/processor.js';
import { released } from './released.js';

/**
 * Test double for a group whose processes become ready at different times: in the group's second process
 * (HTTPEXTENSION_PEERS index 1), set-up finishes only once the file named by HELD_IN_ONE_RELEASE exists; elsewhere at
 * once. It answers nothing (no inferences).
 */
export default defineProcessor<Record<string, never>>({
  name: 'heldInOne',
  description: 'set-up held in one process of a group until released (tests only)',
  create: async () => {
    const index = (JSON.parse(process.env.HTTPEXTENSION_PEERS ?? '{}') as { index?: number }).index;
    const release = process.env.HELD_IN_ONE_RELEASE;
    if (index === 1 && release !== undefined) await released(release);
    return { process: () => [] };
  },
});
