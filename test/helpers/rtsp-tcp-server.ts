import { type ChildProcess, spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { findFfmpeg } from '../../src/pipeline/ffmpeg.js';

/**
 * A minimal RTSP server that serves one stream with RTP interleaved on the RTSP TCP connection (RFC 2326 section
 * 10.12), the only transport the vendor's module accepted; the rtsp-streaming-server package serves UDP only. ffmpeg
 * stream-copies a file into RTP on a loopback UDP port and writes the SDP; this relays those packets as `$` frames
 * to every client that has sent PLAY. It answers SETUP with UDP transports 461, as a TCP-only camera would.
 */
export interface RtspTcpServer {
  url: string;
  /** Transport headers the clients asked for in SETUP. */
  setups: string[];
  close(): Promise<void>;
}

export async function startRtspTcpServer(video: string, dir: string): Promise<RtspTcpServer> {
  const udp = createSocket('udp4');
  await new Promise<void>((resolve) => udp.bind(0, '127.0.0.1', resolve));
  const rtpPort = udp.address().port;
  const sdpFile = join(dir, 'stream.sdp');
  const playing = new Set<Socket>();
  udp.on('message', (packet) => {
    const frame = Buffer.alloc(4 + packet.length);
    frame[0] = 0x24; // '$'
    frame[1] = 0; // channel 0: RTP of the one track
    frame.writeUInt16BE(packet.length, 2);
    packet.copy(frame, 4);
    for (const client of playing) client.write(frame);
  });
  const ffmpeg: ChildProcess = spawn(
    findFfmpeg(),
    [
      '-hide_banner',
      '-loglevel',
      'error',
      '-re',
      '-stream_loop',
      '-1',
      '-i',
      video,
      '-map',
      '0:v:0',
      '-c',
      'copy',
    ].concat(['-f', 'rtp', '-sdp_file', sdpFile, `rtp://127.0.0.1:${rtpPort}`]),
    { stdio: 'ignore' },
  );
  // The SDP is written once the output is open.
  let sdp = '';
  while (sdp === '') {
    await new Promise((resolve) => udp.once('message', resolve));
    try {
      sdp = readFileSync(sdpFile, 'utf8');
    } catch {
      sdp = '';
    }
  }
  sdp = `${sdp
    .replace(/\r?\n/g, '\r\n')
    .replace(/^c=IN IP4 .*$/m, 'c=IN IP4 0.0.0.0')
    .trim()}\r\na=control:track0\r\n`;
  const setups: string[] = [];
  const server: Server = createServer((socket) => {
    socket.on('error', () => playing.delete(socket));
    socket.on('close', () => playing.delete(socket));
    let text = '';
    socket.on('data', (chunk) => {
      text += chunk.toString('latin1');
      for (let end = text.indexOf('\r\n\r\n'); end !== -1; end = text.indexOf('\r\n\r\n')) {
        const request = text.slice(0, end);
        text = text.slice(end + 4);
        const [line, ...headers] = request.split('\r\n');
        const method = line!.split(' ')[0];
        const header = (name: string) =>
          headers.find((h) => h.toLowerCase().startsWith(`${name.toLowerCase()}:`))?.replace(/^[^:]*:\s*/, '') ?? '';
        const reply = (status: string, extra: string[] = [], body = '') =>
          socket.write(
            [
              `RTSP/1.0 ${status}`,
              `CSeq: ${header('CSeq')}`,
              ...extra,
              `Content-Length: ${Buffer.byteLength(body)}`,
              '',
              body,
            ].join('\r\n'),
          );
        if (method === 'OPTIONS') reply('200 OK', ['Public: OPTIONS, DESCRIBE, SETUP, PLAY, TEARDOWN']);
        else if (method === 'DESCRIBE') reply('200 OK', ['Content-Type: application/sdp'], sdp);
        else if (method === 'SETUP') {
          const transport = header('Transport');
          setups.push(transport);
          if (!/RTP\/AVP\/TCP/i.test(transport)) reply('461 Unsupported Transport');
          else reply('200 OK', ['Transport: RTP/AVP/TCP;unicast;interleaved=0-1', 'Session: 1']);
        } else if (method === 'PLAY') {
          reply('200 OK', ['Session: 1']);
          playing.add(socket);
        } else reply('200 OK', ['Session: 1']);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    url: `rtsp://127.0.0.1:${port}/stream`,
    setups,
    close: async () => {
      ffmpeg.kill('SIGTERM');
      for (const client of playing) client.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      udp.close();
    },
  };
}
