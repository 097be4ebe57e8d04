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

test('batcher.sendAll: one promise per group, all or nothing into the bounded queue, failures name the index', async () => {
  const client = await Client.connect({ url: server.url, key: KEYS.game });
  const batcher = client.batcher({ maxBatch: 7, maxQueue: 30, maxInFlight: 1, lingerMs: 1 });
  const ev = (p, clue = 'c') => ({ player: p, hunt: 'b', type: 'clue_found', clue });
  try {
    // 25 events over several batches of at most 7: one ack, every event applied.
    const players = Array.from({ length: 25 }, (_, i) => `g${i}`);
    const ack = await batcher.sendAll(players.map((p) => ev(p)));
    assert.ok(ack.seq > 0);
    for (const p of ['g0', 'g12', 'g24']) assert.equal((await client.player('b', p)).score, 1, p);
    // A group that does not fit the queue is refused whole, nothing queued.
    server.kill('SIGSTOP');
    const first = batcher.sendAll([ev('h0')]);
    await eventually(() => batcher.queued === 0, { message: 'the first group leaves' });
    const queued = batcher.sendAll(Array.from({ length: 25 }, (_, i) => ev(`h${i + 1}`)));
    await rejectsWith(batcher.sendAll(Array.from({ length: 6 }, (_, i) => ev(`x${i}`))), 'overloaded');
    assert.equal(batcher.queued, 25);
    server.kill('SIGCONT');
    await Promise.all([first, queued]);
    // An invalid event rejects its group with its index in the group; the others are applied.
    const bad = batcher.sendAll([ev('k0'), ev('k1'), ev('k2', 'nope'), ev('k3')]);
    const error = await bad.then(() => null, (e) => e);
    assert.equal(error?.code, 'invalid_event');
    assert.equal(error.index, 2);
    await batcher.flush();
    for (const p of ['k0', 'k1', 'k3']) assert.equal((await client.player('b', p)).score, 1, p);
    assert.equal(await batcher.sendAll([]), undefined);
  } finally {
    server.kill('SIGCONT');
    client.close();
  }
});
