import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { parseAllDocuments } from 'yaml';
import { CLI, run } from './cli.js';

/** The repository root (tests run from dist/test, two levels down). */
export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

export type Manifest = Record<string, unknown> & { apiVersion: string; kind: string };

/**
 * Every document of a YAML file, parsed as YAML 1.1 because that is what Kubernetes reads (sigs.k8s.io/yaml):
 * there `defaultMode: 0440` is octal, where YAML 1.2 would read the decimal 440.
 */
export function readYaml(path: string): unknown[] {
  const docs = parseAllDocuments(readFileSync(join(ROOT, path), 'utf8'), { version: '1.1' });
  const list = Array.isArray(docs) ? docs : [docs];
  return list.map((doc) => {
    if (doc.errors.length > 0) throw new Error(`${path}: ${doc.errors.map((e) => e.message).join('; ')}`);
    return doc.toJS() as unknown;
  });
}

/** `httpextension config ARGS` with exactly ENV: what the server would run with, or why it would refuse to start. */
export async function effectiveConfig(
  args: readonly string[],
  env: Record<string, string>,
): Promise<{ code: number; config: Record<string, unknown> | undefined; stderr: string }> {
  const result = await run(process.execPath, [CLI, 'config', ...args], { env: { PATH: process.env.PATH, ...env } });
  return {
    code: result.code,
    config: result.code === 0 ? (JSON.parse(result.stdout) as Record<string, unknown>) : undefined,
    stderr: result.stderr,
  };
}

/** A real certificate and its key (test/fixtures/tls): the configuration refuses PEM files that do not parse. */
export const TEST_TLS = {
  cert: readFileSync(join(ROOT, 'test/fixtures/tls/extension-test.pem'), 'utf8'),
  key: readFileSync(join(ROOT, 'test/fixtures/tls/extension-test-key.pem'), 'utf8'),
};

const made: string[] = [];
process.on('exit', () => {
  for (const dir of made) rmSync(dir, { recursive: true, force: true });
});

/** A temporary folder holding the given files (relative path -> content), for secrets a manifest mounts. */
export function tempFiles(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'hx-deploy-'));
  made.push(dir);
  for (const [name, content] of Object.entries(files)) {
    const path = join(dir, name);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, content);
  }
  return dir;
}

/**
 * Checks manifests with the Kubernetes OpenAPI schemas as bundled by kubernetes-models, two ways:
 * its generated validators (types, required fields, formats, enums) and its TypeScript interfaces through the
 * compiler, whose excess-property check rejects unknown fields (a misspelt `readinesProbe` that the API server
 * would drop without a word). Returns one line per problem; empty means valid.
 */
export async function validateManifests(manifests: readonly Manifest[]): Promise<string[]> {
  const problems: string[] = [];
  for (const [i, m] of manifests.entries()) {
    let Model: new (data: unknown) => { validate(): void };
    try {
      const module = (await import(`kubernetes-models/${m.apiVersion}/${m.kind}`)) as Record<string, unknown>;
      Model = module[m.kind] as typeof Model;
    } catch {
      problems.push(`#${i} ${m.apiVersion} ${m.kind}: no such kind in the Kubernetes API`);
      continue;
    }
    try {
      new Model(m).validate();
    } catch (error) {
      problems.push(`#${i} ${m.kind}: ${(error as Error).message}`);
    }
  }
  problems.push(...typeCheck(manifests));
  return problems;
}

function typeCheck(manifests: readonly Manifest[]): string[] {
  const file = join(ROOT, 'deploy', '__manifest-check__.ts');
  const lines = manifests.map(
    (m, i) =>
      `import type { I${m.kind} as T${i} } from 'kubernetes-models/${m.apiVersion}/${m.kind}';\n` +
      `export const m${i}: T${i} = ${JSON.stringify(m)};`,
  );
  const source = lines.join('\n');
  const options: ts.CompilerOptions = {
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    target: ts.ScriptTarget.ES2022,
    types: [],
  };
  const host = ts.createCompilerHost(options);
  const readFile = host.readFile.bind(host);
  const getSourceFile = host.getSourceFile.bind(host);
  host.readFile = (name) => (name === file ? source : readFile(name));
  host.fileExists = (name) => name === file || ts.sys.fileExists(name);
  host.getSourceFile = (name, version) =>
    name === file ? ts.createSourceFile(name, source, version) : getSourceFile(name, version);
  const program = ts.createProgram([file], options, host);
  return ts.getPreEmitDiagnostics(program, program.getSourceFile(file)).map((d) => {
    const text = ts.flattenDiagnosticMessageText(d.messageText, '\n');
    const line = d.file && d.start !== undefined ? d.file.getLineAndCharacterOfPosition(d.start).line : -1;
    return `manifest #${line >= 0 ? Math.floor(line / 2) : '?'}: ${text}`;
  });
}
