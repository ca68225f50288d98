/**
 * The floor for any Node front end: node:http reading each body into one buffer and answering a fixed JSON (it
 * contains "colorIntensity", so post.lua's CHECK=1 accepts it), nothing else. Measure it as the servers in run.ts:
 *
 *   node dist/bench/http-floor.js 5393 &
 *   BODY_FILE=../shared/images/frames/light_416.bmp CHECK=1 wrk -t1 -c8 -d10s -s bench/post.lua http://127.0.0.1:5393/score
 *
 * and read its CPU from /proc/<pid>/stat before and after.
 */
import { createServer } from 'node:http';

const answer = Buffer.from('{"inferences":[{"type":"classification","subtype":"colorIntensity"}]}');
const port = Number(process.argv[2] ?? 5393);

createServer((req, res) => {
  const body = Buffer.allocUnsafeSlow(Number(req.headers['content-length'] ?? 0));
  let used = 0;
  req.on('data', (chunk: Buffer) => {
    used += chunk.copy(body, used);
  });
  req.on('end', () => {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': answer.length });
    res.end(answer);
  });
}).listen(port, '127.0.0.1');
