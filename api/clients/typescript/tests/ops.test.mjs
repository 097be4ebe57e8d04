// Every op and the error codes a client can reach, in both encodings, and
// a wrong key: one typed `unauthorized`, one connect attempt, no retry loop.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Client, TroveError } from '../dist/index.js';
import { KEYS, admin, eventually, rejectsWith, startServer } from './support.mjs';

let server;
before(async () => {
  server = await startServer();
  await admin(server, 'POST', '/v1/hunts', {
    id: 'h1', clues: [{ id: 'c1', points: 10 }, { id: 'c2', points: 50 }],
    products: [{ sku: 'mug', stock: 2 }, { sku: 'hoodie', stock: 5, min_score: 50 }],
  });
});
after(() => server?.stop());

const connect = (role, protocol) => Client.connect({ url: server.url, key: KEYS[role] ?? role, protocol });

for (const protocol of ['json', 'msgpack']) {
  describe(`ops over ${protocol}`, () => {
    let game;
    before(async () => { game = await connect('game', protocol); });
    after(() => game?.close());
    const p = `${protocol}-`;

    test('events, player, leaderboard', async () => {
      const ack = await game.events([
        { player: `${p}a`, hunt: 'h1', type: 'clue_found', clue: 'c2' },
        { player: `${p}a`, hunt: 'h1', type: 'checkin', location: 'gate' },
        { player: `${p}b`, hunt: 'h1', type: 'interaction', kind: 'photo' },
      ]);
      assert.equal(ack.accepted, 3);
      assert.ok(ack.seq > 0);
      const view = await game.player('h1', `${p}a`);
      assert.equal(view.score, 50);
      assert.deepEqual(view.clues, ['c2']);
      const board = await eventually(async () => {
        const b = await game.leaderboard('h1', { limit: 1000 });
        return b.entries.some((e) => e.player === `${p}a`) && b;
      });
      assert.equal(board.hunt, 'h1');
      const around = await game.leaderboard('h1', { limit: 3, around: `${p}a` });
      assert.ok(around.entries.some((e) => e.player === `${p}a`));
    });

    test('claim: granted, duplicate, rejected, customs', async () => {
      const first = await game.claim({ claim_id: `${p}c1`, player: `${p}a`, hunt: 'h1', sku: 'hoodie', customs: { country: 'NL', value: 12.5 } });
      assert.equal(first.status, 'granted');
      assert.equal(first.duplicate, false);
      const again = await game.claim({ claim_id: `${p}c1`, player: `${p}a`, hunt: 'h1', sku: 'hoodie' });
      assert.deepEqual({ ...again, duplicate: false }, first);
      assert.equal(again.duplicate, true);
      const poor = await game.claim({ claim_id: `${p}c2`, player: `${p}b`, hunt: 'h1', sku: 'hoodie' });
      assert.equal(poor.status, 'rejected');
      assert.equal(poor.reason, 'not_eligible');
      const nohunt = await game.claim({ claim_id: `${p}c3`, player: `${p}b`, hunt: 'nope', sku: 'x' });
      assert.equal(nohunt.reason, 'unknown_hunt');
      const view = await game.player('h1', `${p}a`);
      assert.equal(view.claims[0].claim_id, `${p}c1`);
    });

    test('subscriptions: leaderboard and claims feed', async () => {
      const sub = await game.subscribeLeaderboard('h1', 5);
      assert.ok(sub.id > 0);
      const { value } = await sub.next();
      assert.equal(value.push, 'leaderboard');
      await sub.unsubscribe();
      const feed = game.feed();
      const { value: claim } = await feed.next();
      assert.equal(typeof claim.cursor, 'number');
      assert.equal(claim.hunt, 'h1');
      await feed.return();
    });

    test('error codes over the WebSocket', async () => {
      const bad = await rejectsWith(game.events([
        { player: 'x', hunt: 'h1', type: 'checkin', location: 'a' },
        { player: 'x', hunt: 'h1', type: 'clue_found', clue: 'c9' },
      ]), 'invalid_event');
      assert.equal(bad.index, 1);
      assert.ok(bad instanceof TroveError);
      await rejectsWith(game.events(Array.from({ length: 10001 }, () => ({ player: 'x', hunt: 'h1', type: 'checkin', location: 'a' }))), 'batch_too_large');
      await rejectsWith(game.events([{ player: 'x', hunt: 'h1', type: 'checkin', location: 'x'.repeat(1100000) }]), 'message_too_large');
      await rejectsWith(game.request('events', {}), 'invalid_request');
      await rejectsWith(game.request('dance', {}), 'unknown_op');
      await rejectsWith(game.player('nope', 'p'), 'unknown_hunt');
      await rejectsWith(game.leaderboard('h1', { limit: 5000 }), 'invalid_request');
      await game.claim({ claim_id: `${p}k`, player: `${p}z`, hunt: 'h1', sku: 'mug' });
      await rejectsWith(game.claim({ claim_id: `${p}k`, player: `${p}z`, hunt: 'h1', sku: 'hoodie' }), 'claim_id_conflict');
      await rejectsWith(game.request('unsubscribe', { subscription: 999 }), 'unknown_subscription');
      await rejectsWith(game.subscribeLeaderboard('nope'), 'unknown_hunt');
    });

    test('too_many_subscriptions', async () => {
      const c = await connect('game', protocol);
      try {
        for (let i = 0; i < 16; i++) await c.subscribeLeaderboard('h1');
        await rejectsWith(c.subscribeLeaderboard('h1'), 'too_many_subscriptions');
      } finally {
        c.close();
      }
    });

    test('forbidden on the WebSocket', async () => {
      const designer = await connect('designer', protocol);
      try {
        await rejectsWith(designer.claim({ claim_id: 'f', player: 'f', hunt: 'h1', sku: 'mug' }), 'forbidden');
        await rejectsWith(designer.events([]), 'forbidden');
        assert.equal((await designer.player('h1', 'nobody')).score, 0);
      } finally {
        designer.close();
      }
    });
  });
}

describe('HTTP helpers', () => {
  test('designer: defineHunt, getHunt, listHunts, addStock and their errors', async () => {
    const designer = await connect('designer', 'json');
    const http = designer.http;
    try {
      const def = { id: 'h2', clues: [{ id: 'c1', points: 5 }], products: [{ sku: 'cap', stock: 3 }] };
      const created = await http.defineHunt(def);
      assert.equal(created.created, true);
      assert.equal((await http.defineHunt(def)).created, false);
      assert.ok((await http.listHunts()).includes('h2'));
      const stock = await http.addStock('h2', 'cap', 4);
      assert.equal(stock.remaining, 7);
      const hunt = await http.getHunt('h2');
      assert.equal(hunt.products[0].added, 4);
      const conflict = await rejectsWith(http.defineHunt({ ...def, name: 'other' }), 'hunt_conflict');
      assert.equal(conflict.status, 409);
      const invalid = await rejectsWith(http.defineHunt({ id: 'h3', products: [{ sku: 'a' }, { sku: 'a' }] }), 'invalid_hunt');
      assert.equal(invalid.field, 'products[1].sku');
      assert.equal((await rejectsWith(http.getHunt('nope'), 'unknown_hunt')).status, 404);
      await rejectsWith(http.addStock('h2', 'nope', 1), 'unknown_product');
      await rejectsWith(http.request('POST', '/v1/hunts', '{not json'), 'invalid_json');
      await rejectsWith(http.claim({ claim_id: 'x', player: 'x', hunt: 'h2', sku: 'cap' }), 'forbidden');
    } finally {
      designer.close();
    }
  });

  test('auditor: audit claims and the streamed export', async () => {
    const auditor = await connect('auditor', 'json');
    try {
      const claims = [];
      for await (const c of auditor.http.allAuditClaims(2)) claims.push(c);
      assert.ok(claims.some((c) => c.status === 'granted'));
      const lines = [];
      for await (const r of auditor.http.auditExport({ type: 'claims' })) lines.push(r);
      assert.equal(lines[0].type, 'header');
      assert.equal(lines.at(-1).type, 'footer');
      assert.ok(lines.some((r) => r.type === 'record' && r.record_type === 'claim'));
      const csv = [];
      for await (const l of auditor.http.auditExport({ format: 'csv', type: 'claims' })) csv.push(l);
      assert.ok(csv.length > 1);
      await rejectsWith(auditor.http.auditExport({ from: 'yesterday' }).next(), 'invalid_request');
    } finally {
      auditor.close();
    }
  });

  test('ticket auth (the browser mechanism)', async () => {
    const c = await Client.connect({ url: server.url, key: KEYS.game, auth: 'ticket' });
    try {
      assert.equal((await c.player('h1', 'nobody')).score, 0);
    } finally {
      c.close();
    }
  });
});

describe('wrong key', () => {
  for (const auth of ['header', 'ticket']) {
    test(`typed unauthorized, one connect attempt, no retry (${auth})`, async () => {
      let attempts = 0;
      const error = await rejectsWith(Client.connect({
        url: server.url, key: 'wrong-key-0000', auth, on: { connecting: () => { attempts += 1; } },
      }), 'unauthorized');
      assert.equal(error.status, 401);
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(attempts, 1);
    });
  }
});
