import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WebSocket } from 'undici';
import { stopChild } from './cli.js';

/**
 * Debian's Firefox ESR driven over WebDriver BiDi, the W3C protocol it speaks natively: launch headless with a fresh
 * profile, open a tab, navigate and evaluate expressions in the page. Enough to check that a page works in Firefox
 * (playwright-core's Firefox driver needs BiDi commands newer than the ESR has).
 */
export class FirefoxPage {
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();

  private constructor(
    private readonly child: ChildProcess,
    private readonly socket: WebSocket,
    private readonly profile: string,
    private context = '',
  ) {
    socket.addEventListener('message', (event) => {
      const message = JSON.parse(String(event.data)) as {
        id?: number;
        type: string;
        result?: unknown;
        error?: string;
        message?: string;
      };
      const pending = message.id === undefined ? undefined : this.waiting.get(message.id);
      if (pending === undefined) return;
      this.waiting.delete(message.id!);
      if (message.type === 'error') pending.reject(new Error(`${message.error}: ${message.message}`));
      else pending.resolve(message.result);
    });
  }

  static async launch(executable: string): Promise<FirefoxPage> {
    const profile = mkdtempSync(join(tmpdir(), 'hx-firefox-'));
    const child = spawn(executable, ['--headless', '--no-remote', '--remote-debugging-port=0', '--profile', profile], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, MOZ_CRASHREPORTER_DISABLE: '1' },
    });
    let output = '';
    const url = await new Promise<string>((resolve, reject) => {
      const onData = (chunk: Buffer) => {
        output += chunk;
        const match = /WebDriver BiDi listening on (ws:\/\/\S+)/.exec(output);
        if (match) resolve(`${match[1]}/session`);
      };
      child.stdout!.on('data', onData);
      child.stderr!.on('data', onData);
      child.once('exit', (code) => reject(new Error(`firefox exited (${code}):\n${output}`)));
    });
    const socket = new WebSocket(url);
    await once(socket as unknown as EventTarget, 'open');
    const page = new FirefoxPage(child, socket, profile);
    await page.send('session.new', { capabilities: {} });
    const tree = (await page.send('browsingContext.getTree', {})) as { contexts: Array<{ context: string }> };
    page.context = tree.contexts[0]!.context;
    return page;
  }

  send(method: string, params: Record<string, unknown>): Promise<unknown> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      this.socket.send(JSON.stringify({ id, method, params }));
    });
  }

  async goto(url: string): Promise<void> {
    await this.send('browsingContext.navigate', { context: this.context, url, wait: 'complete' });
  }

  /** Evaluates an expression in the page (promises awaited) and returns its JSON value. */
  async evaluate<T>(expression: string): Promise<T> {
    const result = (await this.send('script.evaluate', {
      expression: `JSON.stringify(${expression})`,
      target: { context: this.context },
      awaitPromise: true,
    })) as { type: string; result?: { value?: string }; exceptionDetails?: { text: string } };
    if (result.type === 'exception') throw new Error(`in the page: ${result.exceptionDetails?.text}`);
    return JSON.parse(result.result?.value ?? 'null') as T;
  }

  /** Polls an expression until it is truthy (a poll every 50 ms, timed in the page). */
  async waitFor(expression: string, timeoutMs = 20_000): Promise<void> {
    const started = Date.now();
    for (;;) {
      if (await this.evaluate<boolean>(`Boolean(${expression})`)) return;
      if (Date.now() - started > timeoutMs) throw new Error(`timed out waiting for ${expression}`);
      await this.evaluate('new Promise((resolve) => setTimeout(() => resolve(true), 50))');
    }
  }

  async close(): Promise<void> {
    this.socket.close();
    await stopChild(this.child);
    rmSync(this.profile, { recursive: true, force: true });
  }
}
