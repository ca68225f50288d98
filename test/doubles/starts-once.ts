import { existsSync, writeFileSync } from 'node:fs';
import { defineProcessor } from '../../src/contract/processor.js';

/**
 * Test double that loads the first time only (a marker file remembers it across worker threads) and exits its
 * thread on ?do=crash: its worker's replacements can never start.
 */
export default defineProcessor<{ marker: string }>({
  name: 'startsOnce',
  description: 'create() fails after the first time (tests only)',
  options: {
    type: 'object',
    additionalProperties: false,
    required: ['marker'],
    properties: { marker: { type: 'string' } },
  },
  create: ({ marker }) => {
    if (existsSync(marker)) throw new Error('the device this model needs is gone');
    writeFileSync(marker, '1');
    return {
      process(_frame, request) {
        if (request.query.do === 'crash') process.exit(3);
        return [];
      },
    };
  },
});
