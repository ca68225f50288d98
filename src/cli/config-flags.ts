import { type Command, InvalidArgumentError, Option } from 'commander';
import { setPath } from '../config/load.js';
import { describeDefault, SETTINGS, type Setting } from '../config/settings.js';
import { routeFromFlag } from './route-flag.js';

function int(value: string): number {
  if (!/^\d+$/.test(value)) throw new InvalidArgumentError('must be a whole number');
  return Number(value);
}

export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

function commaList(value: string): string[] {
  return value.split(',').map((s) => s.trim());
}

const FLAGGED = SETTINGS.filter((s): s is Setting & { flag: string } => s.flag !== undefined);

/** --help text of a setting: its meaning, its real default and its variable, all from the schema. */
export function flagHelp(setting: Setting): string {
  const meaning = setting.description.replaceAll('`', '');
  const env = setting.env.map((v) => v.name).join(', ');
  if (setting.node.type === 'boolean') return `do not ${meaning} (also ${env}=false)`;
  const { values, note } = describeDefault(setting.node);
  const fallback = values.length === 0 ? 'none' : values.join(', ');
  return `${meaning} (default ${fallback}${note ? `: ${note}` : ''}; also ${env})`;
}

function toOption(setting: Setting & { flag: string }): Option {
  const option = new Option(setting.flag, flagHelp(setting));
  const { node } = setting;
  if (node.enum !== undefined) return option.choices(node.enum.map(String));
  if (node.type === 'integer') return option.argParser(int);
  if (node.type === 'array' && node.items?.type === 'object') return option.argParser(collect);
  if (node.type === 'array') return option.argParser(commaList);
  return option;
}

/** Adds a flag for every setting that has one, in the schema's order (flags win over env and file). */
export function addConfigOptions(command: Command): Command {
  for (const setting of FLAGGED) command.addOption(toOption(setting));
  return command;
}

/** The config layer the flags given make, keyed by config path; flags not given leave the key to env and file. */
export function flagsToLayer(flags: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const layer: Record<string, unknown> = {};
  for (const setting of FLAGGED) {
    const value = flags[new Option(setting.flag).attributeName()];
    if (value === undefined) continue;
    // commander sets a `--no-` flag's value to true unless it is given; only the explicit "off" is a flag value.
    if (setting.node.type === 'boolean' && value === true) continue;
    const isRoutes = setting.node.type === 'array' && setting.node.items?.type === 'object';
    setPath(layer, setting.path, isRoutes ? (value as string[]).map(routeFromFlag) : value);
  }
  return layer;
}
