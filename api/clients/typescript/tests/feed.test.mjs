// The claims feed with a file cursor store across a server restart
// (SIGKILL) and the consumer's own restart: every granted claim is yielded,
// in journal order within a run, and none is yielded at or before a cursor
// the consumer had already stored.

import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { FileCursorStore } from '../dist/node.js';
import { Client } from '../dist/index.js';
import { KEYS, admin, auditClaims, eventually, startServer } from './support.mjs';

let server;
let dir;
before(async () => {
  server = await startServer();
  dir = await mkdtemp(path.join(tmpdir(), 'trove-feed-'));
  await admin(server, 'POST', '/v1/hunts', { id: 'f', products: [{ sku: 'mug', stock: 1000 }, { sku: 'rare', stock: 3 }] });
});
after(async () => {
  await server?.stop();
  await rm(dir, { recursive: true, force: true });
});

/** A FileCursorStore that remembers what it saved. */
class WatchedStore extends FileCursorStore {
  saved = [];
  async save(cursor) {
    await super.save(cursor);
    this.saved.push(cursor);
  }
}

async function claims(game, from, to) {
  for (let i = from; i < to; i++) {
    const sku = i % 5 === 0 ? 'rare' : 'mug';
    await game.claim({ claim_id: `k${i}`, player: `p${i}`, hunt: 'f', sku });
  }
}

/** Consumes a feed until `stop(seen)`; checks order and that nothing comes at or before a stored cursor. */
async function consume(feed, store, seen, stop) {
  let last = 0;
  for await (const item of feed) {
    const stored = store.saved.at(-1) ?? (await store.load()) ?? 0;
    assert.ok(item.cursor > stored, `cursor ${item.cursor} yielded after ${stored} was stored`);
    assert.ok(item.cursor > last, 'journal order');
    last = item.cursor;
    seen.push(item);
    if (stop(seen)) break;
  }
}

test('feed with a file cursor store survives a server restart and its own restart', async () => {
  const file = path.join(dir, 'cursor.json');
  const game = await Client.connect({ url: server.url, key: KEYS.game, backoff: { baseMs: 20, capMs: 300 } });
  await claims(game, 0, 40);
  const seen = [];

  // Run 1: a consumer that reads some, sees the server killed and restarted, reads on, then stops.
  const store1 = new WatchedStore(file);
  const c1 = await Client.connect({ url: server.url, key: KEYS.game, backoff: { baseMs: 20, capMs: 300 } });
  await consume(c1.feed({ store: store1, maxBuffer: 8 }), store1, seen, (s) => s.length === 10);
  const feed1 = c1.feed({ store: store1, maxBuffer: 8 });
  let killed = false;
  await consume(feed1, store1, seen, (s) => {
    if (s.length === 15 && !killed) {
      killed = true;
      server.kill('SIGKILL');
      void server.restart().then(() => claims(game, 40, 80));
    }
    return s.length === 45;
  });
  assert.ok(c1.stats.disconnects >= 1);
  c1.close();
  const storedAtStop = JSON.parse(await readFile(file, 'utf8')).cursor;
  assert.equal(storedAtStop, seen.at(-2).cursor, 'the last item was not acknowledged (no next() after it)');

  // Run 2: a new client and feed on the same file: continues after the stored cursor.
  const store2 = new WatchedStore(file);
  const c2 = await Client.connect({ url: server.url, key: KEYS.game });
  const granted = async () => (await auditClaims(server)).filter((c) => c.status === 'granted');
  const total = (await eventually(async () => {
    const g = await granted();
    return g.length === 64 + 3 && g; // 64 mug claims, 16 rare ones for 3 units
  }, { message: 'all claims decided' })).length;
  const run2 = [];
  await consume(c2.feed({ store: store2 }), store2, run2, (s) => new Set([...seen, ...s].map((x) => x.claim_id)).size === total);
  c2.close();
  game.close();

  const yielded = new Set([...seen, ...run2].map((x) => `${x.player}/${x.claim_id}`));
  for (const g of await granted()) assert.ok(yielded.has(`${g.player}/${g.claim_id}`), `granted claim ${g.claim_id} missing`);
  assert.ok(run2[0].cursor > storedAtStop, 'run 2 starts after the stored cursor');
  assert.equal(run2[0].cursor, seen.at(-1).cursor, 'the unacknowledged item comes again (at least once)');
});
