import { InvalidArgumentError } from 'commander';
import { setPath } from '../config/load.js';
import { ROUTE_KEYS } from '../config/schema.js';

export const ROUTE_FLAG_SYNTAX = 'PATH=PROCESSOR[,KEY=VALUE...]';

/** Splits at commas that are outside brackets, braces and double quotes, so a JSON value may hold commas. */
function splitTopLevel(text: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let quoted = false;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '\\') i++;
      else if (c === '"') quoted = false;
    } else if (c === '"') quoted = true;
    else if (c === '[' || c === '{') depth++;
    else if (c === ']' || c === '}') depth--;
    else if (c === ',' && depth === 0) {
      parts.push(text.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(text.slice(start));
  return parts;
}

/** A value is JSON when it parses as JSON (`0.5`, `true`, `["basic"]`, `"123"`), else the text itself. */
function flagValue(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/**
 * Parses `--route PATH=PROCESSOR[,KEY=VALUE...]`: `annotate`, `auth` and `execution` are the route's own keys, any
 * other key is a processor option (`options.KEY` forces that; a dotted key nests). A key alone means `true`.
 * Example: `--route /vehicles=onnx,model=yolov8n,modelsDir=/models,confidence=0.4`.
 */
export function routeFromFlag(spec: string): Record<string, unknown> & { path: string; processor: string } {
  const fail = (why: string): never => {
    throw new InvalidArgumentError(
      `--route ${spec}: ${why}; use ${ROUTE_FLAG_SYNTAX}, e.g. /score=colorIntensity or /vehicles=onnx,model=yolov8n`,
    );
  };
  const [head = '', ...pairs] = splitTopLevel(spec);
  const eq = head.indexOf('=');
  if (eq <= 0 || eq === head.length - 1) fail('no PATH=PROCESSOR');
  const route: Record<string, unknown> & { path: string; processor: string } = {
    path: head.slice(0, eq),
    processor: head.slice(eq + 1),
    options: {},
  };
  for (const pair of pairs) {
    const at = pair.indexOf('=');
    const key = at < 0 ? pair : pair.slice(0, at);
    if (key.split('.').some((k) => k === '' || k === '__proto__')) fail(`bad key in "${pair}"`);
    const value = at < 0 ? true : flagValue(pair.slice(at + 1));
    const path = key.split('.');
    const own = path.length === 1 && ROUTE_KEYS.includes(key);
    setPath(route, own ? path : path[0] === 'options' ? path : ['options', ...path], value);
  }
  return route;
}
