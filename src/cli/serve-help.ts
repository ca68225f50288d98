import { BUILT_IN_PROCESSORS, loadProcessor, resolveProcessorUrl } from '../processors/registry.js';

interface OptionNode {
  type?: string;
  default?: unknown;
  enum?: readonly unknown[];
}

function describeOption(name: string, node: OptionNode): string {
  const type = node.enum ? node.enum.map(String).join('|') : (node.type ?? 'any');
  return node.default === undefined
    ? `${name} (${type})`
    : `${name} (${type}, default ${JSON.stringify(node.default)})`;
}

/** `serve --help`'s list of built-in processors, from each one's own description and options schema. */
export async function builtInProcessorsHelp(): Promise<string> {
  const lines = ['', 'Built-in processors (--route PATH=NAME[,OPTION=VALUE...]; a path to your module also works):'];
  for (const name of BUILT_IN_PROCESSORS) {
    const definition = await loadProcessor(resolveProcessorUrl(name));
    const properties = (definition.options?.properties ?? {}) as Record<string, OptionNode>;
    lines.push(`  ${name}: ${definition.description ?? ''}`);
    const options = Object.entries(properties).map(([key, node]) => describeOption(key, node));
    if (options.length > 0) lines.push(`      options: ${options.join(', ')}`);
  }
  lines.push(
    '',
    'Examples:',
    '  httpextension -p 5001 --route /score=colorIntensity,threshold=100',
    '  httpextension --route /vehicles=onnx,model=yolov8n,modelsDir=/models --route /annotate=objectDetection,annotate',
    '  httpextension --route /red=./redness.js,threshold=0.3,auth=[] --auth basic',
  );
  return lines.join('\n');
}
