import type { ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { SERVER_HEAP_FLAGS } from '../src/cli/heap-flags.js';

/** CPU and memory of a process and its children, read from /proc (Linux), for the benchmarks. */

const CLK_TCK = 100;

/** Fields of /proc/PID/stat after the parenthesised command name (state is [0], ppid [1], utime [11], stime [12]). */
export function statFields(path: string): string[] {
  const stat = readFileSync(path, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

/** The server and its child processes (with --processes, the supervisor and one server process per core). */
export function processTree(pid: number): number[] {
  const children = readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .filter((name) => {
      try {
        return Number(statFields(`/proc/${name}/stat`)[1]) === pid;
      } catch {
        return false; // it exited meanwhile
      }
    })
    .map(Number);
  return [pid, ...children];
}

/**
 * CPU of the server's processes (every thread) and of their main threads (the HTTP front end; for us, the rest is
 * mostly pool workers).
 */
export function procStat(pid: number, withReaped = false): { cpuMs: number; mainCpuMs: number } {
  // withReaped: also children that ran and exited (cutime, cstime), e.g. the runner's per-recording ffmpeg.
  const cpu = (path: string) => {
    const fields = statFields(path);
    const reaped = withReaped ? Number(fields[13]) + Number(fields[14]) : 0;
    return ((Number(fields[11]) + Number(fields[12]) + reaped) * 1000) / CLK_TCK;
  };
  let cpuMs = 0;
  let mainCpuMs = 0;
  for (const p of processTree(pid)) {
    cpuMs += cpu(`/proc/${p}/stat`);
    mainCpuMs += cpu(`/proc/${p}/task/${p}/stat`);
  }
  return { cpuMs, mainCpuMs };
}

/** Summed over the server's processes (pages they share are counted in each). */
export function procKiB(pid: number, key: 'VmRSS' | 'VmHWM'): number {
  let sum = 0;
  for (const p of processTree(pid)) {
    const match = new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${p}/status`, 'utf8'));
    sum += Number(match?.[1] ?? Number.NaN);
  }
  return sum;
}

/**
 * Resident memory of the server's processes with the pages they share counted once: each process's private pages
 * plus the largest shared set among them. Summed RSS counts the node binary and its libraries (about 45 MiB, mapped
 * from one file) in every process of a group; the kernel holds them once. For one process this is its RSS.
 */
export function residentOnceKiB(pid: number): number {
  let privateKiB = 0;
  let sharedKiB = 0;
  for (const p of processTree(pid)) {
    const rollup = readFileSync(`/proc/${p}/smaps_rollup`, 'utf8');
    const field = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(rollup)?.[1] ?? Number.NaN);
    const own = field('Private_Clean') + field('Private_Dirty');
    privateKiB += own;
    sharedKiB = Math.max(sharedKiB, field('Rss') - own);
  }
  return privateKiB + sharedKiB;
}

/** Resets the peak-RSS marks so each measurement reports its own peak (Linux >= 4.0; else the peak since start). */
export function resetPeak(pid: number): boolean {
  try {
    for (const p of processTree(pid)) writeFileSync(`/proc/${p}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

/** Waits until `url` answers below 500 (the server is up), or fails when the process exits or the time is up. */
export async function waitUp(url: string, child: ChildProcess, timeoutMs = 30_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (child.exitCode !== null) throw new Error(`server exited with code ${child.exitCode}`);
    try {
      const response = await fetch(url);
      await response.arrayBuffer();
      if (response.status < 500) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${url} did not come up in ${timeoutMs} ms`);
}

/** Node's arguments for the server as `npm start` runs it (heap flags, quiet log) from `root`, on 127.0.0.1:`port`. */
export function serverArgs(root: string, port: number, ...flags: string[]): string[] {
  return [
    ...SERVER_HEAP_FLAGS,
    `${root}/dist/src/cli/main.js`,
    '-p',
    String(port),
    '--host',
    '127.0.0.1',
    '--log-level',
    'warn',
    ...flags,
  ];
}
