// Backpressure against a slow server (SIGSTOP): the batcher's bounded queue
// and the connection's bounded pending requests refuse with `overloaded`
// instead of buffering without end; after SIGCONT everything accepted is
// answered.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Client } from '../dist/index.js';
import { KEYS, admin, eventually, rejectsWith, startServer } from './support.mjs';

let server;
before(async () => {
  server = await startServer();
  await admin(server, 'POST', '/v1/hunts', { id: 'b', clues: [{ id: 'c', points: 1 }], products: [{ sku: 'mug', stock: 100 }] });
});
after(() => server?.stop());

test('batcher: bounded queue rejects with overloaded while the server is stopped', async () => {
  const client = await Client.connect({ url: server.url, key: KEYS.game });
  const batcher = client.batcher({ maxBatch: 10, maxQueue: 20, maxInFlight: 1, lingerMs: 1 });
  const ev = (i) => ({ player: `p${i}`, hunt: 'b', type: 'checkin', location: 'x' });
  server.kill('SIGSTOP');
  try {
    const first = batcher.send(ev(0));
    await eventually(() => batcher.queued === 0, { message: 'the first batch leaves' });
    const accepted = [first];
    for (let i = 1; i <= 20; i++) accepted.push(batcher.send(ev(i)));
    assert.equal(batcher.queued, 20);
    await rejectsWith(batcher.send(ev(99)), 'overloaded');
    server.kill('SIGCONT');
    const acks = await Promise.all(accepted);
    assert.ok(acks.every((a) => a.seq > 0));
    assert.ok(acks.every((a) => a.accepted <= 10), 'batches respect maxBatch');
  } finally {
    server.kill('SIGCONT');
    client.close();
  }
});

test('connection: bounded pending requests reject with overloaded; claims resolve after SIGCONT', async () => {
  const client = await Client.connect({ url: server.url, key: KEYS.game, maxPending: 5 });
  server.kill('SIGSTOP');
  try {
    const claims = Array.from({ length: 5 }, (_, i) => client.claim({ claim_id: `q${i}`, player: `q${i}`, hunt: 'b', sku: 'mug' }));
    await rejectsWith(client.claim({ claim_id: 'q9', player: 'q9', hunt: 'b', sku: 'mug' }), 'overloaded');
    await rejectsWith(client.player('b', 'q0'), 'overloaded');
    server.kill('SIGCONT');
    const results = await Promise.all(claims);
    assert.ok(results.every((r) => r.status === 'granted'));
    assert.equal((await client.player('b', 'q9')).claims.length, 0, 'the refused claim was never sent');
  } finally {
    server.kill('SIGCONT');
    client.close();
  }
});

test('batcher splits to the server limits (10 000 events per request)', async () => {
  const client = await Client.connect({ url: server.url, key: KEYS.game });
  const batcher = client.batcher({ maxBatch: 50000, maxQueue: 25000, lingerMs: 50 });
  const sends = Array.from({ length: 25000 }, (_, i) => batcher.send({ player: `s${i % 100}`, hunt: 'b', type: 'checkin', location: 'y' }));
  const acks = await Promise.all(sends);
  assert.ok(acks.every((a) => a.accepted <= 10000 && a.accepted > 0));
  assert.ok(new Set(acks.map((a) => a.seq)).size >= 3);
  client.close();
});

test('batcher: an invalid event fails alone, the rest of its batch is applied', async () => {
  const client = await Client.connect({ url: server.url, key: KEYS.game });
  const batcher = client.batcher({ maxBatch: 10, lingerMs: 20 });
  const good = [0, 1, 2].map((i) => batcher.send({ player: `v${i}`, hunt: 'b', type: 'clue_found', clue: 'c' }));
  const bad = batcher.send({ player: 'v9', hunt: 'b', type: 'clue_found', clue: 'nope' });
  await rejectsWith(bad, 'invalid_event');
  await Promise.all(good);
  assert.equal((await client.player('b', 'v1')).score, 1);
  client.close();
});
