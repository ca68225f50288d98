import { createServer, type Server } from 'node:http';

/** What a /metrics listener serves: Prometheus text and its content type. */
export interface MetricsSource {
  render(): Promise<string>;
  readonly contentType: string;
}

/**
 * The separate plain-HTTP /metrics listener (`metrics.port` set): a single process serves its own registry, a
 * supervisor the sum over its server processes. Everything but `GET /metrics` is 404.
 */
export async function listenMetrics(source: MetricsSource, port: number, host: string): Promise<Server> {
  const server = createServer((req, res) => {
    if (req.method !== 'GET' || req.url?.split('?')[0] !== '/metrics') {
      res.writeHead(404).end();
      return;
    }
    source.render().then(
      (text) => res.writeHead(200, { 'content-type': source.contentType }).end(text),
      () => res.writeHead(500).end(),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return server;
}
