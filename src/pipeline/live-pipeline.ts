import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { HxError } from '../errors.js';
import { type PipelinePlan, parseTopology } from './topology.js';

/** A live pipeline: a name, a topology file and the values of its parameters. */
export interface LivePipeline {
  name: string;
  topologyFile: string;
  parameters: Record<string, string>;
}

function readJson(path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new HxError('HX_ERR_PIPELINE_TOPOLOGY', `cannot read ${path}: ${(error as Error).message}`, { cause: error });
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new HxError('HX_ERR_PIPELINE_TOPOLOGY', `${path} is not valid JSON: ${(error as Error).message}`, {
      cause: error,
    });
  }
}

/** Reads a topology file and resolves it with the live pipeline's parameters. */
export function loadPlan(pipeline: LivePipeline): PipelinePlan {
  try {
    return parseTopology(readJson(pipeline.topologyFile), pipeline.parameters);
  } catch (error) {
    if (error instanceof HxError) {
      throw new HxError(error.code, `${pipeline.name} (${pipeline.topologyFile}): ${error.message}`, { cause: error });
    }
    throw error;
  }
}

/**
 * A live-pipeline list: the vendor's live pipeline objects, one per pipeline, as a JSON array or
 * `{"livePipelines": [...]}`:
 * `{"name": "cam1", "properties": {"topologyName": "InferencingWithHttpExtension", "parameters": [{"name": "rtspUrl", "value": "rtsp://..."}]}}`.
 * `topologyName` names one of the topology files given on the command line (by its `name`); `topologyFile` (our
 * addition) is a path relative to the list file.
 */
export function readLivePipelineList(path: string, topologyFiles: readonly string[]): LivePipeline[] {
  const json = readJson(path);
  const list = Array.isArray(json) ? json : (json as { livePipelines?: unknown } | null)?.livePipelines;
  if (!Array.isArray(list))
    throw new HxError('HX_ERR_PIPELINE_TOPOLOGY', `${path}: expected an array of live pipelines`);
  const byName = new Map<string, string>();
  for (const file of topologyFiles) {
    const name = (readJson(file) as { name?: unknown } | null)?.name;
    if (typeof name === 'string') byName.set(name, file);
  }
  const names = new Set<string>();
  return list.map((entry: unknown, i) => {
    const e = (entry ?? {}) as {
      name?: unknown;
      properties?: { topologyName?: unknown; topologyFile?: unknown; parameters?: unknown };
    };
    const where = `${path}: live pipeline ${i}`;
    if (typeof e.name !== 'string' || e.name === '')
      throw new HxError('HX_ERR_PIPELINE_TOPOLOGY', `${where} has no name`);
    if (names.has(e.name))
      throw new HxError('HX_ERR_PIPELINE_TOPOLOGY', `${where}: the name "${e.name}" is used twice`);
    names.add(e.name);
    const props = e.properties ?? {};
    let topologyFile: string | undefined;
    if (typeof props.topologyFile === 'string') topologyFile = resolve(dirname(path), props.topologyFile);
    else if (typeof props.topologyName === 'string') topologyFile = byName.get(props.topologyName);
    if (topologyFile === undefined) {
      throw new HxError(
        'HX_ERR_PIPELINE_TOPOLOGY',
        `${where} ("${e.name}"): topology ${String(props.topologyName ?? props.topologyFile)} not found; give its file on the command line or as properties.topologyFile`,
      );
    }
    const parameters: Record<string, string> = {};
    const params = props.parameters ?? [];
    if (!Array.isArray(params))
      throw new HxError('HX_ERR_PIPELINE_TOPOLOGY', `${where}: properties.parameters must be an array`);
    for (const p of params as { name?: unknown; value?: unknown }[]) {
      if (typeof p?.name !== 'string')
        throw new HxError('HX_ERR_PIPELINE_TOPOLOGY', `${where}: a parameter has no name`);
      parameters[p.name] = String(p.value ?? '');
    }
    return { name: e.name, topologyFile, parameters };
  });
}
