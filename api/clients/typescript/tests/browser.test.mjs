// The browser path, in a real browser: Debian's chromium (env CHROMIUM
// overrides /usr/bin/chromium) driven by playwright-core loads the built
// package (dist/) and @msgpack/msgpack's ESM build through an import map
// with no `ws` in it, and talks to a real trove server with the native
// WebSocket, authenticated by a one-use ticket from POST /v1/ws/ticket.
//
// trove sends no CORS headers, so (like the console, which trove serves
// itself) the page reaches the API same-origin: the static server here also
// reverse-proxies /v1/* HTTP requests and the WebSocket upgrade to trove.
// It logs every request, so the test checks that the key never travels in
// a URL and that a wrong key costs one ticket request and no upgrade.

import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { chromium } from 'playwright-core';
import { KEYS, PKG, admin, startServer } from './support.mjs';

const MSGPACK = path.join(PKG, 'node_modules/@msgpack/msgpack/dist.esm');
const DIST = path.join(PKG, 'dist');

const INDEX = `<!doctype html>
<html><head><meta charset="utf-8"><title>@trove/client in a browser</title>
<script type="importmap">
{ "imports": {
  "@trove/client": "/pkg/index.js",
  "@msgpack/msgpack": "/msgpack/index.mjs"
} }
</script>
<script type="module">
import * as trove from '@trove/client';
window.trove = trove;
window.troveLoaded = true;
</script>
</head><body></body></html>`;

/** Static files under a prefix, from a folder; null if the path is not one. */
function fileFor(urlPath) {
  for (const [prefix, dir] of [['/pkg/', DIST], ['/msgpack/', MSGPACK]]) {
    if (!urlPath.startsWith(prefix)) continue;
    const file = path.resolve(dir, `.${decodeURIComponent(urlPath.slice(prefix.length - 1))}`);
    if (!file.startsWith(dir + path.sep) || !/\.(m?js)$/.test(file)) return undefined;
    return file;
  }
  return undefined;
}

/** The page's origin: index.html, the package, msgpack, and a proxy to trove for /v1/*. */
async function startStatic(target) {
  const upstream = new URL(target);
  const log = [];
  const server = http.createServer(async (req, res) => {
    const { pathname } = new URL(req.url, 'http://x');
    log.push({ kind: 'http', method: req.method, url: req.url, authorization: req.headers.authorization ?? null });
    if (pathname.startsWith('/v1/')) {
      const proxied = http.request({
        host: upstream.hostname, port: upstream.port, method: req.method, path: req.url,
        headers: { ...req.headers, host: upstream.host },
      }, (answer) => {
        res.writeHead(answer.statusCode, answer.headers);
        answer.pipe(res);
      });
      proxied.on('error', () => { res.writeHead(502).end(); });
      req.pipe(proxied);
      return;
    }
    if (pathname === '/favicon.ico') {
      res.writeHead(204).end();
      return;
    }
    if (pathname === '/' || pathname === '/index.html') {
      res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' }).end(INDEX);
      return;
    }
    const file = fileFor(pathname);
    if (file) {
      try {
        const body = await readFile(file);
        res.writeHead(200, { 'Content-Type': 'text/javascript; charset=utf-8' }).end(body);
        return;
      } catch { /* 404 below */ }
    }
    res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found');
  });
  // The WebSocket upgrade: the raw request goes to trove, then bytes both ways.
  server.on('upgrade', (req, socket, head) => {
    log.push({
      kind: 'upgrade', method: req.method, url: req.url, authorization: req.headers.authorization ?? null,
      subprotocol: req.headers['sec-websocket-protocol'] ?? null,
    });
    const up = net.connect(Number(upstream.port), upstream.hostname, () => {
      const lines = [`${req.method} ${req.url} HTTP/1.1`];
      for (let i = 0; i < req.rawHeaders.length; i += 2) {
        const name = req.rawHeaders[i];
        lines.push(`${name}: ${name.toLowerCase() === 'host' ? upstream.host : req.rawHeaders[i + 1]}`);
      }
      up.write(`${lines.join('\r\n')}\r\n\r\n`);
      if (head.length) up.write(head);
      up.pipe(socket);
      socket.pipe(up);
    });
    const end = () => { up.destroy(); socket.destroy(); };
    up.on('error', end);
    socket.on('error', end);
    up.on('close', end);
    socket.on('close', end);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const sockets = new Set();
  server.on('connection', (s) => { sockets.add(s); s.on('close', () => sockets.delete(s)); });
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    log,
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

let trove;
let site;
let browser;
let page;
const problems = [];

before(async () => {
  trove = await startServer();
  await admin(trove, 'POST', '/v1/hunts', {
    id: 'hb', clues: [{ id: 'c1', points: 10 }], products: [{ sku: 'mug', stock: 10 }],
  });
  site = await startStatic(trove.url);
  browser = await chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium', args: ['--no-sandbox'] });
  page = await browser.newPage();
  page.setDefaultTimeout(20000);
  page.on('pageerror', (error) => problems.push(`pageerror: ${error.message}`));
  page.on('console', (message) => { if (message.type() === 'error') problems.push(`console: ${message.text()}`); });
  page.on('requestfailed', (request) => problems.push(`requestfailed: ${request.url()} ${request.failure()?.errorText}`));
  await page.goto(`${site.url}/`);
  try {
    await page.waitForFunction(() => window.troveLoaded === true, null, { timeout: 10000 });
  } catch (error) {
    throw new Error(`the package did not load in the page (${error.message}): ${problems.join('; ')}`);
  }
});

after(async () => {
  await browser?.close();
  await site?.close();
  await trove?.stop();
});

test('the page loads the package without `ws`, from its own origin', async () => {
  assert.ok(site.url !== trove.url, 'the page origin differs from the trove server');
  const exported = await page.evaluate(() => Object.keys(window.trove).sort());
  assert.ok(exported.includes('Client') && exported.includes('TroveError'), exported.join(','));
  assert.deepEqual(await page.evaluate(() => typeof WebSocket), 'function');
  const files = site.log.filter((r) => !r.url.startsWith('/v1/')).map((r) => r.url);
  assert.ok(files.includes('/pkg/index.js') && files.includes('/msgpack/index.mjs'), files.join(' '));
  assert.ok(files.every((f) => f === '/' || f === '/favicon.ico' || f.startsWith('/pkg/') || f.startsWith('/msgpack/')), files.join(' '));
  assert.deepEqual(problems, []);
});

for (const protocol of ['json', 'msgpack']) {
  test(`ops over ${protocol} with the native WebSocket and a ticket`, async () => {
    const before = site.log.length;
    const result = await page.evaluate(async ({ key, protocol }) => {
      const { Client } = window.trove;
      const p = `${protocol}-`;
      const game = await Client.connect({ url: location.origin, key, protocol });
      try {
        const ack = await game.events([
          { player: `${p}a`, hunt: 'hb', type: 'clue_found', clue: 'c1' },
          { player: `${p}a`, hunt: 'hb', type: 'checkin', location: 'gate' },
        ]);
        const claim = await game.claim({ claim_id: `${p}claim-1`, player: `${p}a`, hunt: 'hb', sku: 'mug', customs: { country: 'NL' } });
        const player = await game.player('hb', `${p}a`);
        // The feed starts at the journal's beginning: read until this run's claim.
        const feed = game.feed();
        let pushed;
        for await (const item of feed) {
          if (item.claim_id === `${p}claim-1`) { pushed = item; break; }
        }
        return { ack, claim, player, pushed, stats: { ...game.stats } };
      } finally {
        await game.close();
      }
    }, { key: KEYS.game, protocol });

    assert.equal(result.ack.accepted, 2);
    assert.ok(result.ack.seq > 0);
    assert.equal(result.claim.status, 'granted');
    assert.equal(result.claim.duplicate, false);
    assert.equal(result.player.score, 10);
    assert.deepEqual(result.player.clues, ['c1']);
    assert.equal(result.player.claims[0].claim_id, `${protocol}-claim-1`);
    assert.equal(result.pushed.player, `${protocol}-a`);
    assert.equal(result.pushed.hunt, 'hb');
    assert.equal(result.pushed.sku, 'mug');
    assert.deepEqual(result.pushed.customs, { country: 'NL' });
    assert.equal(typeof result.pushed.cursor, 'number');

    // Auth went through a ticket: one POST /v1/ws/ticket with the key in
    // Authorization, then the upgrade with ?ticket= and no key anywhere in a URL.
    const log = site.log.slice(before);
    const tickets = log.filter((r) => r.kind === 'http' && r.url === '/v1/ws/ticket');
    const upgrades = log.filter((r) => r.kind === 'upgrade');
    assert.equal(tickets.length, 1, JSON.stringify(log));
    assert.equal(tickets[0].method, 'POST');
    assert.equal(tickets[0].authorization, `Bearer ${KEYS.game}`);
    assert.equal(upgrades.length, 1, JSON.stringify(log));
    assert.match(upgrades[0].url, /^\/v1\/ws\?ticket=[^&]+$/);
    assert.equal(upgrades[0].authorization, null);
    assert.equal(upgrades[0].subprotocol, protocol === 'msgpack' ? 'trove.v1.msgpack' : null);
    for (const r of log) assert.ok(!r.url.includes(KEYS.game) && !r.url.includes(encodeURIComponent(KEYS.game)), r.url);
    assert.deepEqual(problems, []);
  });
}

test('a wrong key rejects with one TroveError unauthorized, no retry', async () => {
  const before = site.log.length;
  const result = await page.evaluate(async () => {
    const { Client, TroveError } = window.trove;
    let rejections = 0;
    let connecting = 0;
    let error;
    try {
      await Client.connect({ url: location.origin, key: 'wrong-key-0000', on: { connecting: () => { connecting += 1; } } });
    } catch (e) {
      rejections += 1;
      error = { isTroveError: e instanceof TroveError, name: e.name, code: e.code, status: e.status };
    }
    await new Promise((resolve) => setTimeout(resolve, 1000)); // any retry would show up by now
    return { rejections, connecting, error };
  });
  assert.equal(result.rejections, 1);
  assert.deepEqual(result.error, { isTroveError: true, name: 'TroveError', code: 'unauthorized', status: 401 });
  assert.ok(result.connecting <= 1, `connect attempts: ${result.connecting}`);
  const log = site.log.slice(before);
  assert.equal(log.filter((r) => r.url === '/v1/ws/ticket').length, 1, JSON.stringify(log));
  assert.equal(log.filter((r) => r.kind === 'upgrade').length, 0, JSON.stringify(log));
  // The 401 of the ticket request is the only failure the page may report.
  const others = problems.filter((p) => !/401/.test(p));
  assert.deepEqual(others, []);
});
