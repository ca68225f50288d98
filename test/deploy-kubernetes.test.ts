import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  effectiveConfig,
  type Manifest,
  ROOT,
  readYaml,
  TEST_TLS,
  tempFiles,
  validateManifests,
} from './helpers/deploy.js';
import { get } from './helpers/http.js';
import { startTestServer, type TestServer } from './helpers/server.js';

const DIR = 'deploy/kubernetes';

// Shapes of the parts these tests read; the schemas themselves are checked by validateManifests.
interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { resourceFieldRef?: { resource: string; divisor?: string } };
}
interface Probe {
  httpGet: { path: string; port: string | number; scheme?: string };
}
interface Container {
  name: string;
  image: string;
  args: string[];
  ports: Array<{ name: string; containerPort: number }>;
  env: EnvVar[];
  resources: { requests: Record<string, string>; limits: Record<string, string> };
  readinessProbe: Probe;
  livenessProbe: Probe;
  lifecycle: { preStop: { sleep: { seconds: number } } };
  securityContext: Record<string, unknown> & { capabilities: { drop: string[] } };
  volumeMounts: Array<{ name: string; mountPath: string; readOnly?: boolean }>;
}
interface Deployment {
  metadata: { name: string };
  spec: {
    selector: { matchLabels: Record<string, string> };
    template: {
      metadata: { labels: Record<string, string>; annotations: Record<string, string> };
      spec: {
        terminationGracePeriodSeconds: number;
        securityContext: Record<string, unknown>;
        containers: Container[];
        volumes: Array<{ name: string; secret?: { secretName: string; defaultMode: number }; emptyDir?: object }>;
      };
    };
  };
}

function load(file: string): Manifest[] {
  return readYaml(join(DIR, file)) as Manifest[];
}

function only<T>(file: string, kind: string): T {
  const docs = load(file).filter((m) => m.kind === kind);
  assert.equal(docs.length, 1, `${file} holds one ${kind}`);
  return docs[0] as unknown as T;
}

function manifestFiles(): string[] {
  return readdirSync(join(ROOT, DIR)).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml');
}

describe('Kubernetes manifests: valid against the Kubernetes API schemas', () => {
  test('every manifest validates (schema validators and unknown-field check)', async () => {
    const files = manifestFiles();
    assert.deepEqual(files.sort(), ['deployment.yaml', 'hpa.yaml', 'pdb.yaml', 'service.yaml']);
    const manifests = files.flatMap(load);
    assert.deepEqual(await validateManifests(manifests), []);
  });

  test('the checker refuses what the API server would refuse or silently drop', async () => {
    const deployment = load('deployment.yaml')[0] as Manifest & { spec: Record<string, unknown> };
    const wrongType = { ...deployment, spec: { ...deployment.spec, replicas: 'two' } };
    const container = (deployment.spec as unknown as Deployment['spec']).template.spec.containers[0]!;
    const { readinessProbe, ...rest } = container;
    const misspelt = structuredClone(deployment) as unknown as Deployment;
    misspelt.spec.template.spec.containers[0] = { ...rest, readinesProbe: readinessProbe } as unknown as Container;
    const unknownKind = { apiVersion: 'apps/v1', kind: 'Deploymnet', metadata: { name: 'x' } };

    const problems = await validateManifests([wrongType, misspelt as unknown as Manifest, unknownKind]);
    assert.ok(
      problems.some((p) => p.includes('replicas') && p.includes('integer')),
      problems.join('\n'),
    );
    assert.ok(
      problems.some((p) => p.includes('readinesProbe')),
      problems.join('\n'),
    );
    assert.ok(
      problems.some((p) => p.includes('Deploymnet')),
      problems.join('\n'),
    );
  });

  test('kustomization lists every manifest and renames the image the Deployment uses', () => {
    const [k] = readYaml(join(DIR, 'kustomization.yaml')) as Array<{
      resources: string[];
      images: Array<{ name: string }>;
    }>;
    assert.deepEqual([...k!.resources].sort(), manifestFiles().sort());
    const deployment = only<Deployment>('deployment.yaml', 'Deployment');
    const image = deployment.spec.template.spec.containers[0]!.image.split(':')[0];
    assert.deepEqual(
      k!.images.map((i) => i.name),
      [image],
    );
  });
});

describe('Kubernetes manifests: what the server needs', () => {
  const deployment = only<Deployment>('deployment.yaml', 'Deployment');
  const pod = deployment.spec.template.spec;
  const container = pod.containers[0]!;
  const labels = deployment.spec.template.metadata.labels;
  const env = new Map(container.env.map((e) => [e.name, e]));

  test('one container; selectors of the Deployment, Service and PodDisruptionBudget match the pod', () => {
    assert.equal(pod.containers.length, 1);
    const service = only<{ spec: { selector: Record<string, string> } }>('service.yaml', 'Service');
    const pdb = only<{ spec: { selector: { matchLabels: Record<string, string> }; maxUnavailable: number } }>(
      'pdb.yaml',
      'PodDisruptionBudget',
    );
    for (const selector of [
      deployment.spec.selector.matchLabels,
      service.spec.selector,
      pdb.spec.selector.matchLabels,
    ]) {
      for (const [key, value] of Object.entries(selector)) assert.equal(labels[key], value, key);
    }
    assert.equal(pdb.spec.maxUnavailable, 1);
  });

  test('the container starts: its args and environment, secrets mounted, give a valid configuration', async () => {
    // Each env path under a mounted secret is served from a temporary folder with that secret's keys.
    const secrets: Record<string, Record<string, string>> = {
      'httpextension-tls': { 'tls.crt': TEST_TLS.cert, 'tls.key': TEST_TLS.key },
      'httpextension-auth': { 'header-value': 'k1\nk2\n' },
    };
    const mounts = container.volumeMounts.flatMap((m) => {
      const secret = pod.volumes.find((v) => v.name === m.name)?.secret;
      return secret === undefined ? [] : [{ path: m.mountPath, dir: tempFiles(secrets[secret.secretName]!) }];
    });
    assert.equal(mounts.length, 2);
    const vars: Record<string, string> = {};
    for (const e of container.env) {
      if (e.value !== undefined) {
        const mount = mounts.find((m) => e.value!.startsWith(`${m.path}/`));
        vars[e.name] = mount ? mount.dir + e.value.slice(mount.path.length) : e.value;
      } else {
        const ref = e.valueFrom?.resourceFieldRef;
        assert.ok(ref, `${e.name} has a value or a resource reference`);
        // Kubernetes rounds a resource up to a whole number of its divisor.
        vars[e.name] = String(Math.ceil(Number(container.resources.limits[ref.resource.replace('limits.', '')])));
      }
    }
    const result = await effectiveConfig(container.args, vars);
    assert.equal(result.code, 0, result.stderr);
    const config = result.config as {
      port: number;
      workers: number;
      processes: number;
      shutdownGraceMs: number;
      tls: { certFile: string };
      metrics: { enabled: boolean; port: number };
      auth: { schemes: string[] };
    };
    const https = container.ports.find((p) => p.name === 'https')!;
    const metrics = container.ports.find((p) => p.name === 'metrics')!;
    assert.equal(config.port, https.containerPort);
    assert.deepEqual(config.metrics, { ...config.metrics, enabled: true, port: metrics.containerPort });
    assert.deepEqual([config.processes, config.workers], [Number(container.resources.limits.cpu), 1]);
    assert.ok(config.tls.certFile.endsWith('/tls.crt'));
    assert.deepEqual(config.auth.schemes, ['header']);
    assert.equal(deployment.spec.template.metadata.annotations['prometheus.io/port'], String(metrics.containerPort));
  });

  test('the environment names only variables the server knows (it refuses to start on any other HX_*)', async () => {
    const unknown = { ...Object.fromEntries(container.env.map((e) => [e.name, '1'])), HX_NOT_A_SETTING: '1' };
    const result = await effectiveConfig([], unknown);
    assert.equal(result.code, 2);
    const refused = [...result.stderr.matchAll(/unknown variable (HX_\w+)/g)].map((m) => m[1]);
    assert.deepEqual(refused, ['HX_NOT_A_SETTING']);
  });

  test('probes: ready on /health/ready, live on /health/live, over the server port with its scheme', () => {
    const tls = env.has('HX_TLS_CERT');
    for (const [probe, path] of [
      [container.readinessProbe, '/health/ready'],
      [container.livenessProbe, '/health/live'],
    ] as const) {
      assert.equal(probe.httpGet.path, path);
      assert.equal(probe.httpGet.port, 'https');
      assert.equal(probe.httpGet.scheme, tls ? 'HTTPS' : 'HTTP');
    }
  });

  test('shutdown: the grace period covers preStop, the drain and the CLI margin before it forces an exit', () => {
    const preStop = container.lifecycle.preStop.sleep.seconds;
    const drain = Number(env.get('HX_SHUTDOWN_GRACE_MS')!.value) / 1000;
    assert.ok(preStop >= 1);
    assert.ok(pod.terminationGracePeriodSeconds >= preStop + drain + 5, `${pod.terminationGracePeriodSeconds}s`);
  });

  test('security: non-root as the image user, no privilege escalation, read-only root, no capabilities', () => {
    const user = /^USER\s+(\d+):(\d+)\s*$/m.exec(readFileSync(join(ROOT, 'Dockerfile'), 'utf8'));
    assert.ok(user, 'the Dockerfile sets a numeric USER');
    assert.deepEqual(pod.securityContext, {
      runAsNonRoot: true,
      runAsUser: Number(user[1]),
      runAsGroup: Number(user[2]),
      fsGroup: Number(user[2]),
      seccompProfile: { type: 'RuntimeDefault' },
    });
    assert.deepEqual(container.securityContext, {
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'] },
    });
    // Secrets readable by the group only (fsGroup), written nowhere; /tmp is the one writable place.
    for (const v of pod.volumes.filter((v) => v.secret)) assert.equal(v.secret!.defaultMode, 0o440);
    assert.ok(container.volumeMounts.filter((m) => m.mountPath !== '/tmp').every((m) => m.readOnly === true));
    assert.ok(container.resources.requests.cpu && container.resources.limits.memory);
  });
});

describe('Kubernetes manifests: autoscaling on CPU and on the queue depth the server exports', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ workers: 1 });
  });
  after(() => server.close());

  test('the HPA scales the Deployment on CPU and on a pods metric the adapter serves from /metrics', async () => {
    const hpa = only<{
      spec: {
        scaleTargetRef: { kind: string; name: string };
        minReplicas: number;
        maxReplicas: number;
        metrics: Array<{ type: string; resource?: { name: string }; pods?: { metric: { name: string } } }>;
      };
    }>('hpa.yaml', 'HorizontalPodAutoscaler');
    const deployment = only<Deployment>('deployment.yaml', 'Deployment');
    assert.deepEqual(hpa.spec.scaleTargetRef, { apiVersion: 'apps/v1', kind: 'Deployment', name: 'httpextension' });
    assert.equal(deployment.metadata.name, hpa.spec.scaleTargetRef.name);
    assert.ok(hpa.spec.minReplicas >= 2 && hpa.spec.maxReplicas > hpa.spec.minReplicas);
    assert.deepEqual(
      hpa.spec.metrics.map((m) => m.resource?.name ?? m.pods?.metric.name),
      ['cpu', 'httpextension_queue_depth'],
    );

    const [values] = readYaml(join(DIR, 'prometheus-adapter/values.yaml')) as Array<{
      rules: { custom: Array<{ seriesQuery: string; name: { as: string }; resources: { overrides: object } }> };
    }>;
    const rule = values!.rules.custom.find((r) => r.name.as === 'httpextension_queue_depth');
    assert.ok(rule, 'the adapter serves the metric the HPA reads');
    const series = /^(\w+)\{/.exec(rule.seriesQuery)![1];
    assert.deepEqual(rule.resources.overrides, { namespace: { resource: 'namespace' }, pod: { resource: 'pod' } });

    // The series exists, as a gauge, in what the real server exports.
    const answer = await get(server.at('/metrics'));
    assert.equal(answer.status, 200);
    assert.match(answer.text, new RegExp(`^# TYPE ${series} gauge$`, 'm'));
    assert.match(answer.text, new RegExp(`^${series} 0$`, 'm'));
  });
});
