import { writeFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { type Command, InvalidArgumentError } from 'commander';
import { DEFAULT_SCORE_URL, type ScoreAnswer, scoreFile } from '../client/score-client.js';
import { HxError } from '../errors.js';
import { collect } from './config-flags.js';

/** The variable the server reads its Basic/Digest user's password from: the client reads the same one. */
const PASSWORD_VARIABLE = 'HX_AUTH_PASSWORD';

interface ScoreFlags {
  url: string;
  contentType?: string;
  header?: string[];
  output?: string;
  user?: string;
}

function parseHeaders(specs: readonly string[]): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const h of specs) {
    const colon = h.indexOf(':');
    if (colon <= 0) throw new InvalidArgumentError(`--header ${h}: use NAME:VALUE`);
    headers[h.slice(0, colon).trim()] = h.slice(colon + 1).trim();
  }
  return headers;
}

/** Reads a password from the terminal without echoing it. */
async function promptPassword(user: string): Promise<string> {
  if (!process.stdin.isTTY) {
    throw new HxError(
      'HX_ERR_CONFIG_INVALID',
      `--user ${user}: set ${PASSWORD_VARIABLE}, or run on a terminal to be asked for the password`,
    );
  }
  process.stderr.write(`password for ${user}: `);
  const rl = createInterface({ input: process.stdin, terminal: true });
  // Typed characters are not echoed: readline writes them through this, and it drops them.
  (rl as unknown as { _writeToOutput: (s: string) => void })._writeToOutput = () => {};
  const password = await new Promise<string>((resolve) => rl.question('', resolve));
  rl.close();
  process.stderr.write('\n');
  return password;
}

function describe(answer: ScoreAnswer): string {
  const what =
    answer.bytes.byteLength === 0 ? 'no body' : `${answer.contentType ?? 'no type'}, ${answer.bytes.byteLength} bytes`;
  const retry = answer.retryAfter === null ? '' : `, Retry-After: ${answer.retryAfter}`;
  return `HTTP ${answer.status} in ${answer.durationMs.toFixed(1)} ms (${what}${retry}; request id ${answer.requestId})`;
}

/** The body as stdout gets it: JSON pretty on a terminal and as received elsewhere, anything else as bytes. */
function stdoutBody(answer: ScoreAnswer): Uint8Array | string | undefined {
  if (answer.bytes.byteLength === 0) return undefined;
  if (answer.json !== undefined) {
    return process.stdout.isTTY ? `${JSON.stringify(answer.json, null, 2)}\n` : `${Buffer.from(answer.bytes)}\n`;
  }
  if (process.stdout.isTTY) return undefined;
  return answer.bytes;
}

async function score(image: string, flags: ScoreFlags): Promise<void> {
  // A reader that stops early (`| head`) closes the pipe: that is the reader's choice, not a failure.
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw error;
  });
  const credentials =
    flags.user === undefined
      ? undefined
      : { username: flags.user, password: process.env[PASSWORD_VARIABLE] ?? (await promptPassword(flags.user)) };
  const answer = await scoreFile(image, {
    url: flags.url,
    contentType: flags.contentType,
    headers: parseHeaders(flags.header ?? []),
    credentials,
  }).catch((error: unknown) => {
    // fetch says only "fetch failed"; the reason (ECONNREFUSED, a bad certificate) is its cause.
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    throw new Error(`no answer from ${flags.url}: ${cause?.code ?? cause?.message ?? String(error)}`, { cause: error });
  });
  process.stderr.write(`${describe(answer)}\n`);
  if (answer.status >= 400) process.exitCode = 1;
  if (flags.output !== undefined) {
    await writeFile(flags.output, answer.bytes);
    return;
  }
  const body = stdoutBody(answer);
  if (body === undefined && answer.bytes.byteLength > 0) {
    process.stderr.write(`not printing a ${answer.contentType} answer on a terminal: use -o FILE or redirect stdout\n`);
  }
  if (body !== undefined) process.stdout.write(body);
}

/** `httpextension score`: one POST, the answer's body alone on stdout (status and timing on stderr). */
export function registerScoreCommand(program: Command): void {
  program
    .command('score')
    .description('POST one image to an extension; print the answer body on stdout and its status on stderr')
    .argument('<image>', 'image file (.jpg, .png, .bmp, or raw pixels with --content-type image/x-raw;...)')
    .option('--url <url>', 'extension URL', DEFAULT_SCORE_URL)
    .option('--content-type <type>', 'Content-Type to send (default from the file extension)')
    .option('-H, --header <name:value>', 'extra request header (repeatable)', collect)
    .option('-o, --output <file>', 'write the answer body (JSON, or the image of an /annotate route) to this file')
    .option(
      '--user <name>',
      `Basic or Digest user, as the server asks; the password from ${PASSWORD_VARIABLE} or a prompt`,
    )
    .addHelpText('after', '\nExit status: 0 for a 2xx answer, 1 for 4xx/5xx, 2 when no answer came (or bad usage).')
    .action(score);
}
