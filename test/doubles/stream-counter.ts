import { defineProcessor } from '../../src/contract/processor.js';

/**
 * Test double: a stateful processor that counts the frames of each stream it has seen and answers the count with
 * its worker id. If the pool sent one stream's frames to two workers, the counts would split between them.
 */
export default defineProcessor<Record<string, never>>({
  name: 'streamCounter',
  description: 'counts frames per stream (tests only)',
  stateful: true,
  create: (_options, { workerId }) => {
    const counts = new Map<string, number>();
    return {
      process(_frame, request) {
        const stream = request.stream ?? '';
        const count = (counts.get(stream) ?? 0) + 1;
        counts.set(stream, count);
        return [
          {
            type: 'classification',
            subtype: 'streamCounter',
            classification: { tag: { value: String(count), confidence: 1 } },
            extensions: { workerId: String(workerId), stream },
          },
        ];
      },
    };
  },
});
