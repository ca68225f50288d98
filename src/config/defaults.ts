import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { configSchema } from './schema.js';
import type { Resolved } from './schema-type.js';
import { defaultsOf } from './settings.js';

/** The resolved configuration: what src/config/schema.ts accepts, with its defaults filled in. */
export type Config = Resolved<typeof configSchema>;
/** One route: POST to `path` runs `processor` (a built-in name, or a path to the user's processor module). */
export type RouteConfig = Config['routes'][number];
/** Credentials: secrets come from env or files, never from flags. Several may be valid at once (rotation). */
export type AuthConfig = Config['auth'];

export { DEFAULT_ROUTES } from './schema.js';

/** Every default, read from the schema. */
export const DEFAULTS: Readonly<Config> = defaultsOf(configSchema) as Config;

/** `workers` 0: the CPUs shared among the processes, so that the group runs one model copy per CPU in all. */
export function effectiveWorkers(config: Pick<Config, 'workers' | 'processes'>): number {
  if (config.workers > 0) return config.workers;
  return Math.max(1, Math.round(cpuBudget() / effectiveProcesses(config)));
}

/** `processes` 0: one per CPU. */
export function effectiveProcesses(config: Pick<Config, 'processes'>): number {
  return config.processes > 0 ? config.processes : cpuBudget();
}

/**
 * Whether a process has CPUs beyond its event loop, so that handing a cheap frame to a worker under load gains more
 * than the hand-off costs (see EngineOptions.handOffUnderLoad).
 */
export function sparesCores(config: Pick<Config, 'processes'>): boolean {
  return effectiveProcesses(config) < cpuBudget();
}

type ReadText = (path: string) => string;
const readText: ReadText = (path) => readFileSync(path, 'utf8');

/**
 * The CPUs this process may use: the cores it may run on, capped by its cgroup's CPU quota (`docker run --cpus`, a
 * Kubernetes limit), which Node's availableParallelism() does not read: in a 2-CPU container on a 32-core host it
 * says 32, and a process per core would be 32 processes.
 */
export function cpuBudget(read: ReadText = readText, cores: number = availableParallelism()): number {
  const quota = cgroupCpuQuota(read);
  const all = Math.max(1, cores);
  return quota === undefined ? all : Math.max(1, Math.min(all, Math.ceil(quota - 1e-9)));
}

/** CPUs' worth of the cgroup CPU quota (quota / period), undefined when there is none or it cannot be read. */
function cgroupCpuQuota(read: ReadText): number | undefined {
  const ratio = (quota: number, period: number) => (quota > 0 && period > 0 ? quota / period : undefined);
  const attempt = <T>(f: () => T): T | undefined => {
    try {
      return f();
    } catch {
      return undefined;
    }
  };
  // cgroup v2: the process's own group (`0::/path` in /proc/self/cgroup), whose cpu.max is `max 100000` or
  // `200000 100000`; inside a container's namespace the path is `/`.
  const v2 = attempt(() => {
    const path = /^0::(\/.*)$/m.exec(read('/proc/self/cgroup'))?.[1] ?? '/';
    const [quota = 'max', period = '100000'] = read(`/sys/fs/cgroup${path === '/' ? '' : path}/cpu.max`)
      .trim()
      .split(/\s+/);
    return quota === 'max' ? null : ratio(Number(quota), Number(period));
  });
  if (v2 !== undefined) return v2 ?? undefined;
  // cgroup v1: cfs_quota_us is -1 when unlimited.
  return attempt(() =>
    ratio(
      Number(read('/sys/fs/cgroup/cpu/cpu.cfs_quota_us').trim()),
      Number(read('/sys/fs/cgroup/cpu/cpu.cfs_period_us').trim()),
    ),
  );
}
