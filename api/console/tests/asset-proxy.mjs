// For working on the console without rebuilding trove: with
// TROVE_CONSOLE_ASSETS=<dir> (e.g. ../assets) the tests talk to this proxy,
// which answers /console/ files from that folder (with the server's own
// headers) and passes every other request and the WebSocket upgrade through.

import { readFile } from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';

const ASSET = /^\/console\/(index\.html|console\.js|console\.css)?$/;

export async function startAssetProxy(upstream, assetsDir) {
  const target = new URL(upstream);
  const server = http.createServer((req, res) => {
    const forward = http.request({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers }, async (up) => {
      const asset = ASSET.exec(req.url.split('?')[0]);
      if (!asset || up.statusCode !== 200) {
        res.writeHead(up.statusCode, up.headers);
        up.pipe(res);
        return;
      }
      up.resume();
      const body = await readFile(path.join(assetsDir, asset[1] || 'index.html'));
      const headers = { ...up.headers, 'content-length': String(body.length) };
      delete headers['transfer-encoding'];
      res.writeHead(200, headers);
      res.end(body);
    });
    forward.on('error', () => {
      res.writeHead(502);
      res.end();
    });
    req.pipe(forward);
  });
  server.on('upgrade', (req, socket, head) => {
    const up = net.connect(Number(target.port), target.hostname, () => {
      const lines = [`${req.method} ${req.url} HTTP/1.1`];
      for (let i = 0; i < req.rawHeaders.length; i += 2) lines.push(`${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}`);
      up.write(`${lines.join('\r\n')}\r\n\r\n`);
      up.write(head);
      socket.pipe(up);
      up.pipe(socket);
    });
    up.on('error', () => socket.destroy());
    socket.on('error', () => up.destroy());
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    close: () => new Promise((resolve) => {
      server.closeAllConnections();
      server.close(resolve);
    }),
  };
}
