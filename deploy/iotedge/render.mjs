#!/usr/bin/env node
// Turns deployment.template.json into the deployment manifest IoT Edge accepts (`az iot edge set-modules
// --content deployment.json`), as the IoT Edge tooling does: ${NAME} placeholders filled from the environment or an
// .env file, each module's createOptions object serialised to a string and cut into createOptions,
// createOptions01.. createOptions07 of at most 512 characters (the limit of one twin property value).
//
//   node deploy/iotedge/render.mjs [--env FILE] [--no-pipeline] [--template FILE] [-o deployment.json]
//
// --no-pipeline leaves out the pipeline runner module (when pipelines run elsewhere).
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const CHUNK = 512;
export const MAX_CHUNKS = 8;

/** KEY=VALUE lines; blank lines and # comments skipped; surrounding quotes removed. */
export function parseEnvFile(text) {
  const vars = {};
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const eq = line.indexOf('=');
    if (eq <= 0) throw new Error(`.env: "${line}" is not KEY=VALUE`);
    vars[line.slice(0, eq).trim()] = line
      .slice(eq + 1)
      .trim()
      .replace(/^(['"])(.*)\1$/, '$2');
  }
  return vars;
}

function fill(value, vars, missing) {
  if (typeof value === 'string') {
    return value.replace(/\$\{([A-Z0-9_]+)\}/g, (_, name) => {
      if (vars[name] === undefined || vars[name] === '') {
        missing.add(name);
        return '';
      }
      return vars[name];
    });
  }
  if (Array.isArray(value)) return value.map((v) => fill(v, vars, missing));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, fill(v, vars, missing)]));
  }
  return value;
}

/** createOptions as IoT Edge stores it: a JSON string in chunks of at most CHUNK characters. */
export function splitCreateOptions(createOptions) {
  const text = JSON.stringify(createOptions);
  const chunks = [];
  for (let i = 0; i < text.length; i += CHUNK) chunks.push(text.slice(i, i + CHUNK));
  if (chunks.length > MAX_CHUNKS) throw new Error(`createOptions is ${text.length} characters; IoT Edge takes 4 KiB`);
  if (chunks.length === 0) chunks.push('{}');
  return Object.fromEntries(chunks.map((c, i) => [i === 0 ? 'createOptions' : `createOptions0${i}`, c]));
}

/** The deployment manifest from the template: placeholders filled, createOptions serialised, pipeline optional. */
export function render(template, vars, options = {}) {
  const missing = new Set();
  const filled = fill(template, vars, missing);
  // The tooling's marker for templates; a deployment manifest has only modulesContent.
  delete filled['$schema-template'];
  if (missing.size > 0) throw new Error(`missing variables: ${[...missing].sort().join(', ')}`);
  const agent = filled.modulesContent.$edgeAgent['properties.desired'];
  if (options.pipeline === false) delete agent.modules.pipeline;
  for (const group of [agent.systemModules, agent.modules]) {
    for (const module of Object.values(group)) {
      const { createOptions, ...settings } = module.settings;
      module.settings = { ...settings, ...splitCreateOptions(createOptions ?? {}) };
    }
  }
  return filled;
}

const isMain = process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href;
if (isMain) {
  const args = process.argv.slice(2);
  const take = (flag) => {
    const i = args.indexOf(flag);
    return i >= 0 ? args.splice(i, 2)[1] : undefined;
  };
  const here = dirname(fileURLToPath(import.meta.url));
  const templatePath = take('--template') ?? join(here, 'deployment.template.json');
  const envFile = take('--env');
  const out = take('-o') ?? take('--output');
  const pipeline = !args.includes('--no-pipeline');
  try {
    const vars = { ...(envFile ? parseEnvFile(readFileSync(envFile, 'utf8')) : {}), ...process.env };
    const manifest = render(JSON.parse(readFileSync(templatePath, 'utf8')), vars, { pipeline });
    const text = `${JSON.stringify(manifest, null, 2)}\n`;
    if (out === undefined || out === '-') process.stdout.write(text);
    else writeFileSync(out, text);
  } catch (error) {
    process.stderr.write(`render: ${error.message}\n`);
    process.exit(2);
  }
}
