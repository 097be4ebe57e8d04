// SIGKILL under claims: the server is killed and restarted on the same port
// and data while claims are in flight. Every claim promise resolves exactly
// once, with the decision the audit trail holds; nothing is decided twice;
// stock is not oversold.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Client } from '../dist/index.js';
import { KEYS, admin, auditClaims, eventually, startServer } from './support.mjs';

const STOCK = 40;
const CLAIMS = 300;

let server;
before(async () => {
  server = await startServer();
  for (const id of ['h-json', 'h-msgpack']) await admin(server, 'POST', '/v1/hunts', { id, products: [{ sku: 'mug', stock: STOCK }] });
});
after(() => server?.stop());

for (const protocol of ['json', 'msgpack']) {
  test(`claims survive a SIGKILL and restart (${protocol})`, async () => {
    const client = await Client.connect({ url: server.url, key: KEYS.game, protocol, backoff: { baseMs: 20, capMs: 300 } });
    const outcomes = new Map();
    let settled = 0;
    const record = (id, kind, value) => {
      assert.ok(!outcomes.has(id), `claim ${id} settled twice`);
      outcomes.set(id, { kind, value });
      settled += 1;
    };
    const promises = [];
    // The restart finishes (ready) before the test does: claims may all be
    // answered before /readyz says 200, and a restart still polling when
    // the file's `after` stops the server would fail the file.
    let restarting = Promise.resolve();
    for (let i = 0; i < CLAIMS; i++) {
      const id = `${protocol}-c${i}`;
      promises.push(client.claim({ claim_id: id, player: `${protocol}-p${i}`, hunt: `h-${protocol}`, sku: 'mug', customs: { n: i } })
        .then((r) => record(id, 'ok', r), (e) => record(id, 'error', e)));
      if (i === 60) {
        await eventually(() => settled >= 10, { message: 'some answers before the kill' });
        await server.killed('SIGKILL');
        restarting = server.restart();
      }
      if (i % 10 === 0) await new Promise((r) => setImmediate(r));
    }
    await Promise.all(promises);
    await restarting;
    client.close();
    assert.equal(outcomes.size, CLAIMS);
    assert.ok(client.stats.disconnects >= 1, 'the kill was seen');
    assert.ok(client.stats.resentClaims >= 1, 'claims were re-sent after the reconnect');

    const audit = (await auditClaims(server)).filter((c) => c.claim_id.startsWith(`${protocol}-`));
    const keys = audit.map((c) => `${c.player}/${c.claim_id}`);
    assert.equal(new Set(keys).size, keys.length, 'no claim decided twice');
    const byId = new Map(audit.map((c) => [c.claim_id, c]));
    for (const [id, { kind, value }] of outcomes) {
      assert.equal(kind, 'ok', `claim ${id} failed: ${value?.code} ${value?.message}`);
      const recorded = byId.get(id);
      assert.ok(recorded, `claim ${id} answered but not in the audit trail`);
      assert.equal(value.status, recorded.status, id);
      assert.equal(value.seq, recorded.seq, id);
    }
    const hunt = await admin(server, 'GET', `/v1/hunts/h-${protocol}`);
    const granted = [...outcomes.values()].filter((o) => o.value.status === 'granted').length;
    assert.ok(hunt.products[0].granted <= STOCK, 'not oversold');
    assert.equal(hunt.products[0].granted, granted, 'every grant answered');
    assert.equal(audit.filter((c) => c.status === 'granted').length, granted);
  });
}
