/** The part of autocannon's API the overload benchmark uses (the package ships no types). */
declare module 'autocannon' {
  import type { EventEmitter } from 'node:events';

  interface Options {
    url: string;
    method: string;
    headers: Record<string, string>;
    body: Buffer;
    connections: number;
    duration: number;
  }
  interface Result {
    duration: number;
    errors: number;
    latency: { p99: number };
  }
  type Instance = EventEmitter & PromiseLike<Result>;
  export default function autocannon(options: Options): Instance;
}
