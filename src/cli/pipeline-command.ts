import { basename } from 'node:path';
import { type Command, InvalidArgumentError } from 'commander';
import { HxError } from '../errors.js';
import type { LivePipeline } from '../pipeline/live-pipeline.js';
import type { MessageSink } from '../pipeline/message-sink.js';
import type { HubInput } from '../pipeline/nodes/hub-message-source.js';
import type { VideoFrame } from '../pipeline/video-source.js';

interface PipelineFlags {
  set?: string[];
  name?: string;
  livePipelines?: string;
  output?: string;
  mqttUrl?: string;
  mqttTopic: string;
  mqttUsername?: string;
  mqttPassword?: string;
  asFastAsPossible?: boolean;
  retryAfterDefaultSecs: number;
  requestTimeoutMs: number;
  rtspStallTimeoutMs: number;
  ffmpeg?: string;
  mediaRoot?: string;
  mqttInputTopic: string;
  moduleName: string;
  eventTopic?: string;
  progress: boolean;
  console?: number;
  consoleHost: string;
}

function positive(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0) throw new InvalidArgumentError('must be a number >= 0');
  return n;
}

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

function parseSets(pairs: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new InvalidArgumentError(`--set ${pair}: use NAME=VALUE`);
    out[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return out;
}

export async function runPipelines(topologies: string[], flags: PipelineFlags): Promise<number> {
  // Loaded here, not at the top: `httpextension serve` shares this CLI and must not load ffmpeg, MQTT and libvips.
  const { loadPlan, readLivePipelineList } = await import('../pipeline/live-pipeline.js');
  const { FanOutSink, JsonLinesSink, MqttSink } = await import('../pipeline/message-sink.js');
  const { PipelineRunner } = await import('../pipeline/pipeline-runner.js');
  const { ProgressDisplay } = await import('../pipeline/progress.js');
  const log = (message: string) => process.stderr.write(`${message}\n`);
  let pipelines: LivePipeline[];
  if (flags.livePipelines !== undefined) {
    if (flags.set?.length)
      throw new InvalidArgumentError('--set applies to one topology; give parameters in the list file');
    pipelines = readLivePipelineList(flags.livePipelines, topologies);
  } else {
    if (topologies.length !== 1) {
      throw new InvalidArgumentError('give one TOPOLOGY.json, or several with --live-pipelines LIST.json');
    }
    const file = topologies[0]!;
    pipelines = [
      { name: flags.name ?? basename(file, '.json'), topologyFile: file, parameters: parseSets(flags.set ?? []) },
    ];
  }
  // Every topology is checked before anything starts: a refused node stops the whole run, not one pipeline of it.
  const plans = pipelines.map((p) => ({ pipeline: p, plan: loadPlan(p) }));

  const sinks: MessageSink[] = [];
  if (flags.output !== undefined && flags.output !== '-') sinks.push(new JsonLinesSink(flags.output));
  else if (flags.output === '-' || flags.mqttUrl === undefined) sinks.push(new JsonLinesSink(process.stdout));
  if (flags.mqttUrl !== undefined) {
    sinks.push(
      await MqttSink.connect({
        url: flags.mqttUrl,
        topic: flags.mqttTopic,
        ...(flags.mqttUsername === undefined ? {} : { username: flags.mqttUsername }),
        ...(flags.mqttPassword === undefined ? {} : { password: flags.mqttPassword }),
      }),
    );
  }
  const sink = sinks.length === 1 ? sinks[0]! : new FanOutSink(sinks);
  const mqtt = sinks.find((s) => s instanceof MqttSink) as { hubInput(topic: string): HubInput } | undefined;
  const hubInput = mqtt?.hubInput(flags.mqttInputTopic);

  const { PipelineConsole } = await import('../pipeline/pipeline-console.js');
  const { encodeFrame } = await import('../pipeline/image-encoder.js');
  // The console reads the runners lazily: it is created before them so that their answers can reach it.
  let runnersForConsole: ReadonlyArray<InstanceType<typeof PipelineRunner>> = [];
  const pipelineConsole =
    flags.console === undefined
      ? undefined
      : new PipelineConsole(() =>
          runnersForConsole.map((runner) => {
            const c = runner.counters();
            return {
              name: runner.name,
              topology: runner.plan.topologyName,
              ...runner.status(),
              framesSent: c.sent,
              answers: c.answered,
              messages: c.published,
              errors: c.errors,
            };
          }),
        );
  /** One preview being encoded per pipeline at most: a fast pipeline makes the console skip frames, never queue them. */
  const encoding = new Set<string>();
  const showAnswer =
    (pipeline: string) =>
    (node: string, frame: VideoFrame, body: Readonly<Record<string, unknown>> | undefined): void => {
      if (pipelineConsole === undefined || !pipelineConsole.watching(pipeline) || encoding.has(pipeline)) return;
      encoding.add(pipeline);
      encodeFrame(frame.rgb, frame.width, frame.height, undefined, { kind: 'jpeg', quality: 80 })
        .then((image) =>
          pipelineConsole.record({
            pipeline,
            node,
            mediaType: image.contentType,
            width: frame.width,
            height: frame.height,
            bytes: image.body,
            json: body === undefined ? undefined : JSON.stringify(body),
          }),
        )
        .catch((error: unknown) => log(`${pipeline}: console preview: ${String(error)}`))
        .finally(() => encoding.delete(pipeline));
    };

  const runners = plans.map(
    ({ pipeline, plan }) =>
      new PipelineRunner(plan, pipeline.name, sink, {
        onAnswer: showAnswer(pipeline.name),
        realtime: !flags.asFastAsPossible,
        retryAfterDefaultSecs: flags.retryAfterDefaultSecs,
        requestTimeoutMs: flags.requestTimeoutMs,
        stallTimeoutMs: flags.rtspStallTimeoutMs,
        ...(flags.ffmpeg === undefined ? {} : { ffmpegPath: flags.ffmpeg }),
        ...(flags.mediaRoot === undefined ? {} : { mediaRoot: flags.mediaRoot }),
        moduleName: flags.moduleName,
        ...(flags.eventTopic === undefined ? {} : { topic: flags.eventTopic }),
        ...(hubInput === undefined ? {} : { hubInput }),
        onNotice: log,
      }),
  );
  for (const { pipeline, plan } of plans) {
    log(
      `${pipeline.name}: ${plan.topologyName} from ${plan.source.kind} ${redact(plan.source.url)}: ${plan.nodes
        .filter((n) => n.type !== 'RtspSource')
        .map((n) =>
          n.type === 'HttpExtension' || n.type === 'GrpcExtension' ? `${n.name} (${n.extension.endpoint.url})` : n.name,
        )
        .join(', ')}`,
    );
  }
  runnersForConsole = runners;
  if (pipelineConsole !== undefined) {
    log(`console: ${await pipelineConsole.listen(flags.console!, flags.consoleHost)}`);
  }
  const progress = flags.progress ? new ProgressDisplay(runners) : undefined;
  progress?.start();

  let signals = 0;
  let stopped = false;
  const stop = (signal: NodeJS.Signals) => {
    signals++;
    stopped = true;
    if (signals > 1) process.exit(130); // a second Ctrl-C means "now"
    log(`${signal}: stopping (waiting for requests in flight)`);
    for (const runner of runners) runner.stop();
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  const results = await Promise.allSettled(runners.map((r) => r.run()));
  process.off('SIGINT', stop);
  process.off('SIGTERM', stop);
  progress?.stop();
  await pipelineConsole?.close();
  await sink.close();
  let failed = 0;
  results.forEach((result, i) => {
    const name = runners[i]!.name;
    if (result.status === 'fulfilled') {
      const c = result.value;
      log(
        `${name}: read ${c.read}, sent ${c.sent}, dropped ${c.dropped}, answered ${c.answered}, errors ${c.errors}, published ${c.published}${c.recordings === undefined ? '' : `, recordings ${c.recordings}`}${c.segments === undefined ? '' : `, segments ${c.segments}`}`,
      );
      // A script must be able to tell "the extension answered" from "every request failed" (or it never ran).
      if (runners[i]!.extensions.length > 0 && c.answered === 0 && !(stopped && c.sent === 0)) {
        failed++;
        log(`${name}: the extension answered none of ${c.sent} requests (${c.errors} failed)`);
      }
    } else {
      failed++;
      const e = result.reason as unknown;
      log(`${name}: ${e instanceof HxError ? `${e.code}: ${e.message}` : String(e)}`);
    }
  });
  return failed > 0 ? 1 : 0;
}

function redact(url: string): string {
  return url.replace(/\/\/[^/@]*@/, '//***@');
}

/** `httpextension pipeline`: runs topologies the way the vendor's edge module did, feeding any HTTP extension. */
export function registerPipelineCommand(program: Command): void {
  program
    .command('pipeline')
    .description('run pipeline topologies: decode a camera (RTSP) or a file and feed an HTTP or gRPC extension')
    .argument('[topology...]', 'topology JSON file(s) (AVA 1.x or LVA 1.0/2.0)')
    .option('--set <name=value>', 'topology parameter (repeatable), e.g. --set rtspUrl=rtsp://cam/stream', collect)
    .option('--name <name>', 'live pipeline name used in message subjects (default: the file name)')
    .option('--live-pipelines <file>', 'JSON list of live pipelines (name, topologyName or topologyFile, parameters)')
    .option('-o, --output <file>', 'append messages as JSON lines to this file ("-" = stdout, the default)')
    .option('--mqtt-url <url>', 'also publish messages to this MQTT broker, e.g. mqtt://127.0.0.1:1883')
    .option(
      '--mqtt-topic <template>',
      'topic; {pipeline}, {node}, {output} are replaced',
      'httpextension/{pipeline}/{output}',
    )
    .option('--mqtt-username <name>', 'MQTT user name')
    .option('--mqtt-password <password>', 'MQTT password')
    .option(
      '--as-fast-as-possible',
      'files: decode as fast as the extension answers, never drop frames (default: native rate)',
    )
    .option('--retry-after-default-secs <s>', 'back-off after a 503 without Retry-After', positive, 5)
    .option('--request-timeout-ms <ms>', 'deadline for one extension request', positive, 30_000)
    .option('--rtsp-stall-timeout-ms <ms>', 'reconnect a camera that sends no video for this long', positive, 15_000)
    .option('--ffmpeg <path>', 'ffmpeg binary (default: HX_FFMPEG, the system ffmpeg, else the bundled one)')
    .option('--media-root <dir>', 'resolve the absolute paths a topology names (/var/media, ...) under this folder')
    .option(
      '--mqtt-input-topic <template>',
      'topic IotHubMessageSource nodes read; {pipeline} and {input} (the hubInputName) are replaced',
      'httpextension/{pipeline}/inputs/{input}',
    )
    .option(
      '--module-name <name>',
      'edge module name in AVA event subjects (/edgeModules/{name}/livePipelines/...)',
      'avaedge',
    )
    .option(
      '--event-topic <arm-id>',
      "events' topic property (default: an ARM id of the vendor's shape naming the module)",
    )
    .option('--no-progress', 'no progress line on a TTY')
    .option(
      '--console <port>',
      'serve the web console (each pipeline, its frames with the answers drawn) on this port; 0: a free one',
      positive,
    )
    .option('--console-host <host>', 'address the console listens on (it has no authentication)', '127.0.0.1')
    .action(async (topologies: string[], flags: PipelineFlags) => {
      process.exitCode = await runPipelines(topologies, flags);
    });
}
