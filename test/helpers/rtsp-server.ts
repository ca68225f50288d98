import RtspServerModule from 'rtsp-streaming-server';

/**
 * Runs the rtsp-streaming-server package as a child process of a test (it has no stop(): its sockets would keep the
 * test process alive), so the test ends it by pid. argv: serverPort clientPort rtpPortStart username password.
 * Prints `ready` once listening and `login USER:PASSWORD` for each client authentication.
 */
const RtspServer = ((RtspServerModule as unknown as { default?: unknown }).default ??
  RtspServerModule) as new (options: {
  serverPort: number;
  clientPort: number;
  rtpPortStart: number;
  rtpPortCount: number;
  clientServerHooks?: { authentication?: (username: string, password: string) => Promise<boolean> };
}) => { start(): Promise<void> };

const [serverPort, clientPort, rtpPortStart, username, password] = process.argv.slice(2);
// `node --test dist/test/` also loads this file, without arguments: then it does nothing.
if (password !== undefined) await serve();

async function serve(): Promise<void> {
  // The package logs client closes with console.log: keep stdout for our protocol lines.
  console.log = () => {};
  const server = new RtspServer({
    serverPort: Number(serverPort),
    clientPort: Number(clientPort),
    rtpPortStart: Number(rtpPortStart),
    rtpPortCount: 40,
    clientServerHooks: {
      authentication: async (user, pass) => {
        process.stdout.write(`login ${user}:${pass}\n`);
        return user === username && pass === password;
      },
    },
  });
  await server.start();
  process.stdout.write('ready\n');
}
