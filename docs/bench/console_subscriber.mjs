// What the console asks of the server, without a browser: one WebSocket
// (opened with a ticket, as the console does) subscribed to the `stats`,
// `hunts` and `claims` (tail 0) topics and to the leaderboard of the first
// hunt, reading every push and counting them. docs/bench/console.sh runs it
// in one phase so the server's CPU per event is measured with the console's
// subscriptions but without chromium competing for the cores.
//
// Usage: node --experimental-websocket console_subscriber.mjs BASE_URL KEY SECS [TOPICS]
// TOPICS: comma-separated, default stats,hunts,claims,leaderboard.

const [base, key, secsArg, topicsArg] = process.argv.slice(2);
const topics = new Set((topicsArg ?? 'stats,hunts,claims,leaderboard').split(','));
const secs = Number(secsArg ?? 30);
const auth = { Authorization: `Bearer ${key}` };
const ticket = (await (await fetch(`${base}/v1/ws/ticket`, { method: 'POST', headers: auth })).json()).ticket;
const hunts = (await (await fetch(`${base}/v1/hunts`, { headers: auth })).json()).hunts;
const ws = new WebSocket(`${base.replace(/^http/, 'ws')}/v1/ws?ticket=${encodeURIComponent(ticket)}`);
const counts = {};
let errors = 0;
ws.onmessage = (event) => {
  const m = JSON.parse(event.data);
  if (m.push) counts[m.push] = (counts[m.push] ?? 0) + 1;
  else if (m.ok === false) errors += 1;
};
await new Promise((resolve, reject) => {
  ws.onopen = resolve;
  ws.onerror = () => reject(new Error('the WebSocket did not open'));
});
const subscribe = (id, fields) => ws.send(JSON.stringify({ id, op: 'subscribe', ...fields }));
if (topics.has('stats')) subscribe(1, { topic: 'stats' });
if (topics.has('hunts')) subscribe(2, { topic: 'hunts' });
if (topics.has('claims')) subscribe(3, { topic: 'claims', tail: 0 });
if (topics.has('leaderboard') && hunts.length) {
  subscribe(4, { topic: 'leaderboard', hunt: hunts[hunts.length - 1], limit: 10 });
}
await new Promise((resolve) => setTimeout(resolve, secs * 1000));
ws.close();
console.log(JSON.stringify({ pushes: counts, errors }));
