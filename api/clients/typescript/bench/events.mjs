// Events/s one Node process pushes through the SDK's EventBatcher to a real
// `trove serve`, in JSON and MessagePack: throughput, ack latency per event
// (send() to its batch's durable ack; p50/p99) and this process's CPU per
// event (process.cpuUsage()). Build first (npm run build).
//
//   node bench/events.mjs [--events 200000] [--batch 1000] [--inflight 4] [--url URL] [--server-pid PID] [--group G]
// --group 1 (default): one `send` (one promise) per event; --group G > 1:
// `sendAll` of G events at a time (a game server's tick), one promise each,
// the latency then per group.
// With --server-pid it also reports the server's CPU per event (/proc), to
// compare with the client's: a game server should not need more cores
// than Trove itself.
// Without --url it starts TROVE_BIN (default <repo>/target/debug/trove) on a
// free port with a temporary data folder.

import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { Client } from '../dist/index.js';
import { KEYS, admin, startServer } from '../tests/support.mjs';

const { values } = parseArgs({ options: {
  events: { type: 'string', default: '200000' },
  batch: { type: 'string', default: '1000' },
  inflight: { type: 'string', default: '4' },
  url: { type: 'string' },
  'server-pid': { type: 'string' },
  group: { type: 'string', default: '1' },
} });
const GROUP = Number(values.group);
const N = Number(values.events);

// CPU seconds (utime + stime) of process `pid`, or null.
function cpuOf(pid) {
  if (!pid) return null;
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / 100; // USER_HZ
}

function quantile(sorted, q) {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

async function run(url, protocol) {
  const client = await Client.connect({ url, key: KEYS.game, protocol });
  const batcher = client.batcher({ maxBatch: Number(values.batch), maxInFlight: Number(values.inflight), maxQueue: 4 * Number(values.batch), lingerMs: 2 });
  const latencies = new Float64Array(GROUP > 1 ? Math.ceil(N / GROUP) : N);
  const cpu0 = process.cpuUsage();
  const server0 = cpuOf(values['server-pid']);
  const t0 = performance.now();
  let i = 0;
  const inflight = new Set();
  const groups = []; // FIFO of group promises in flight
  while (GROUP > 1 && i < N) {
    const start = performance.now();
    const g = i / GROUP;
    const events = [];
    for (let j = 0; j < GROUP && i < N; j += 1, i += 1) {
      events.push({ player: `p${i % 5000}`, hunt: 'bench', type: 'checkin', location: 'gate' });
    }
    groups.push(batcher.sendAll(events).then(() => { latencies[g] = performance.now() - start; }));
    while (groups.length && batcher.queued + GROUP > 4 * Number(values.batch)) await groups.shift();
  }
  await Promise.all(groups);
  while (i < N) {
    const start = performance.now();
    const k = i++;
    const p = batcher.send({ player: `p${k % 5000}`, hunt: 'bench', type: 'checkin', location: 'gate' })
      .then(() => { latencies[k] = performance.now() - start; }); // overloaded cannot happen: the loop waits when the queue is full
    inflight.add(p);
    p.finally(() => inflight.delete(p));
    if (batcher.queued >= 4 * Number(values.batch) - 1) await Promise.race(inflight);
  }
  await batcher.flush();
  await Promise.all(inflight);
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const server1 = cpuOf(values['server-pid']);
  client.close();
  const sorted = Array.from(latencies).sort((a, b) => a - b);
  return {
    protocol, group: GROUP, events: N, seconds: +seconds.toFixed(3), events_per_s: Math.round(N / seconds),
    ack_p50_ms: +quantile(sorted, 0.5).toFixed(2), ack_p99_ms: +quantile(sorted, 0.99).toFixed(2),
    cpu_us_per_event: +((cpu.user + cpu.system) / N).toFixed(3),
    server_cpu_us_per_event: server0 == null ? null : +(((server1 - server0) * 1e6) / N).toFixed(3),
  };
}

const server = values.url ? null : await startServer();
const url = values.url ?? server.url;
try {
  await admin({ url }, 'POST', '/v1/hunts', { id: 'bench' }).catch(() => {});
  for (const protocol of ['json', 'msgpack']) {
    await run(url, protocol); // warm-up run, not reported
    console.log(JSON.stringify(await run(url, protocol)));
  }
} finally {
  await server?.stop();
}
