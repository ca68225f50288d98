import { toRgb24 } from '../../src/contract/frame.js';
import { defineProcessor } from '../../src/contract/processor.js';

/**
 * Test double: answers the decoded frame itself, as RGB24 bytes in an `other` inference, with its geometry and the
 * request's query in `extensions`. Lets black-box tests check every decoder pixel by pixel over real HTTP.
 */
export default defineProcessor<Record<string, never>>({
  name: 'echo',
  description: 'echoes the decoded frame (tests only)',
  create: () => ({
    process(frame, request) {
      return [
        {
          type: 'other',
          subtype: 'echo',
          other: {
            contentType: 'application/octet-stream',
            contentBytes: Buffer.from(toRgb24(frame)).toString('base64'),
          },
          extensions: {
            width: String(frame.width),
            height: String(frame.height),
            format: frame.format,
            query: JSON.stringify(request.query),
            requestId: request.requestId,
          },
        },
      ];
    },
  }),
});
