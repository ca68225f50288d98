/**
 * Summarises V8 .cpuprofile files (from `npm run bench -- --cpu-prof DIR`): self time per function, top first, one
 * table per thread (file names end in .<thread>.<seq>: thread 0 is the main thread, the others are pool workers).
 *
 *   node dist/bench/profile-summary.js DIR [--top 25]
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { top: { type: 'string', default: '25' } },
});
const dir = positionals[0] ?? '.tmp/prof';
const top = Number(values.top);

for (const file of readdirSync(dir)
  .filter((f) => f.endsWith('.cpuprofile'))
  .sort()) {
  const profile = JSON.parse(readFileSync(join(dir, file), 'utf8')) as Profile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<string, number>();
  let total = 0;
  profile.samples.forEach((id, i) => {
    const dt = profile.timeDeltas[i] ?? 0;
    const frame = byId.get(id)!.callFrame;
    const where =
      frame.url === '' ? '' : ` ${frame.url.replace(/^.*\/(node_modules|dist)\//, '$1/')}:${frame.lineNumber + 1}`;
    const key = `${frame.functionName || '(anonymous)'}${where}`;
    self.set(key, (self.get(key) ?? 0) + dt);
    total += dt;
  });
  const idle = self.get('(idle)') ?? 0;
  const busy = total - idle;
  process.stdout.write(`\n${file}: ${(total / 1e6).toFixed(1)} s sampled, ${(busy / 1e6).toFixed(1)} s busy\n`);
  process.stdout.write('| self ms | % of busy | function |\n| ---: | ---: | --- |\n');
  const rows = [...self.entries()].filter(([k]) => k !== '(idle)').sort((a, b) => b[1] - a[1]);
  for (const [key, us] of rows.slice(0, top)) {
    process.stdout.write(`| ${(us / 1000).toFixed(0)} | ${((100 * us) / busy).toFixed(1)} | ${key} |\n`);
  }
}
