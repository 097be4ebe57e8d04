// Trove console: a single-page app served by the trove server at /console/.
//
// Plain ES module, no framework, no build step, nothing loaded from elsewhere.
// Layout of this file, top to bottom:
//   1. constants and small utilities (formatting, a bounded Ring buffer,
//      verbatim JSON members, JSON syntax-error positions)
//   2. DOM helpers. Everything that comes from the server (ids, names,
//      customs, error messages) reaches the DOM as text: textContent,
//      text nodes or input values, never as HTML.
//   3. session: the key lives in sessionStorage only
//   4. HTTP client: fetch with the bearer key; a 401 sends the user back to
//      sign-in
//   5. WebSocket client: one socket per page, opened with a single-use
//      ticket, reconnects with backoff and re-sends its subscriptions
//   6. shared topics fed by pushes (hunts, stats), ref-counted by the views
//      that show them, plus the grant-rate history behind sell-out estimates
//   7. canvas charts and the confirm dialog
//   8. views (overview, hunts, claims, leaderboard, audit): each builds its
//      DOM once per sign-in and acquires its subscriptions in show(),
//      releasing them in hide()
//   9. app shell: sign-in, role matrix, navigation

// ---------------------------------------------------------------------------
// 1. Constants and utilities

const KEY_STORAGE = 'trove.console.key';
const FEED_LIMIT = 5000;          // rows the claims feed keeps (and buffers while paused)
const FEED_TAIL = 100000;         // journal records to replay when the feed starts
const FEED_ROW_HEIGHT = 28;       // px; must match .feed-row in console.css
const FEED_OVERSCAN = 6;          // rows rendered above and below the visible ones
const FEED_RENDER_MS = 100;       // new feed rows are drawn at most this often
const CHART_POINTS = 1200;        // 10 minutes of stats pushes at 500 ms
const CHART_SPAN_MS = 10 * 60 * 1000;
const RATE_WINDOW_MS = 60 * 1000; // grant rate for sell-out estimates
const LEADERBOARD_MAX = 100;
const AUDIT_TRAIL_LINES = 1000;
const BACKOFF_MIN_MS = 500;
const BACKOFF_MAX_MS = 10000;
const KEY_INVALID_MESSAGE = 'Your key is no longer valid; sign in again';
const REJECT_REASONS = ['out_of_stock', 'not_eligible', 'limit_reached', 'hunt_closed', 'unknown_product'];

// What the define form starts with (docs/examples/hunt.json).
const EXAMPLE_HUNT = {
  id: 'harbour',
  name: 'Harbour Lights Treasure Hunt',
  opens_at: '2024-01-01T00:00:00Z',
  closes_at: '2099-12-31T23:59:59Z',
  clues: [{ id: 'lighthouse', points: 10 }, { id: 'old-anchor', points: 20 }, { id: 'fish-market', points: 20 }, { id: 'clock-tower', points: 50 }],
  products: [
    { sku: 'mug', stock: 500, per_player_limit: 1, min_score: 0 },
    { sku: 'hoodie', stock: 50, per_player_limit: 1, min_score: 50 },
    { sku: 'golden-compass', stock: 1, per_player_limit: 1, min_score: 100 },
  ],
};

const numberFormat = new Intl.NumberFormat('en');

function fmtInt(n) {
  return n == null ? '—' : numberFormat.format(n);
}

function fmtRate(n) {
  return n == null ? '—' : n.toFixed(n < 10 ? 1 : 0);
}

function fmtMs(n) {
  return n == null ? '—' : `${n.toFixed(n < 10 ? 2 : 1)} ms`;
}

function fmtTime(ms) {
  return ms == null ? '—' : new Date(ms).toLocaleString();
}

function fmtDuration(seconds) {
  if (!Number.isFinite(seconds)) return '—';
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
  return `${Math.floor(s / 86400)} d ${Math.floor((s % 86400) / 3600)} h`;
}

function chainHeadText(seq, hash) {
  return seq == null || !hash ? '' : `${seq}:${hash}`;
}

// A fixed-capacity ring: push is O(1), the oldest item is dropped when full.
class Ring {
  constructor(capacity) {
    this.capacity = capacity;
    this.clear();
  }

  clear() {
    this.items = new Array(this.capacity);
    this.start = 0;
    this.length = 0;
  }

  push(item) {
    if (this.length < this.capacity) {
      this.items[(this.start + this.length) % this.capacity] = item;
      this.length += 1;
    } else {
      this.items[this.start] = item;
      this.start = (this.start + 1) % this.capacity;
    }
  }

  // i = 0 is the oldest item
  at(i) {
    return this.items[(this.start + i) % this.capacity];
  }

  // i = 0 is the newest item
  newest(i) {
    return this.at(this.length - 1 - i);
  }

  drain() {
    const out = [];
    for (let i = 0; i < this.length; i += 1) out.push(this.at(i));
    this.clear();
    return out;
  }
}

// The verbatim text of a top-level member of a JSON object, e.g. the
// `customs` of a claim as the server sent it (key order and number spelling
// kept). Only objects whose other values are strings and numbers are given
// here, so the first `"name":` outside a string is the member itself.
function rawJsonMember(text, name) {
  const at = text.indexOf(`"${name}":`);
  if (at < 0) return null;
  const begin = at + name.length + 3;
  let depth = 0;
  let inString = false;
  for (let i = begin; i < text.length; i += 1) {
    const c = text[i];
    if (inString) {
      if (c === '\\') i += 1;
      else if (c === '"') inString = false;
    } else if (c === '"') {
      inString = true;
    } else if (c === '{' || c === '[') {
      depth += 1;
    } else if (c === '}' || c === ']') {
      if (depth === 0) return text.slice(begin, i);
      depth -= 1;
      if (depth === 0) return text.slice(begin, i + 1);
    } else if (c === ',' && depth === 0) {
      return text.slice(begin, i);
    }
  }
  return null;
}

function customsText(rawLine, value) {
  return rawJsonMember(rawLine, 'customs') ?? JSON.stringify(value ?? {});
}

// Line and column (1-based) of a JSON.parse error, from V8's message.
function jsonErrorPosition(text, error) {
  const lc = /line (\d+) column (\d+)/.exec(error.message);
  if (lc) return { line: Number(lc[1]), column: Number(lc[2]) };
  const pos = /position (\d+)/.exec(error.message);
  const offset = pos ? Number(pos[1]) : text.length;
  const before = text.slice(0, offset);
  const line = before.split('\n').length;
  return { line, column: offset - before.lastIndexOf('\n') };
}

function offsetOf(text, line, column) {
  let offset = 0;
  for (let l = 1; l < line; l += 1) {
    const nl = text.indexOf('\n', offset);
    if (nl < 0) break;
    offset = nl + 1;
  }
  return Math.min(text.length, offset + Math.max(0, column - 1));
}

// ---------------------------------------------------------------------------
// 2. DOM helpers: data is only ever inserted as text.

// h('div', { class: 'x', testid: 'y', onclick: fn }, child, 'text', ...)
function h(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(props)) {
    if (value == null || value === false) continue;
    if (name === 'class') node.className = value;
    else if (name === 'text') node.textContent = String(value);
    else if (name === 'testid') node.dataset.testid = value;
    else if (name === 'value') node.value = String(value);
    else if (name.startsWith('on')) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? '' : String(value));
  }
  appendAll(node, children);
  return node;
}

function appendAll(node, children) {
  for (const child of children.flat(Infinity)) {
    if (child == null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

function setText(node, value) {
  const text = value == null ? '' : String(value);
  if (node.textContent !== text) node.textContent = text;
}

function replaceChildren(node, ...children) {
  node.replaceChildren();
  appendAll(node, children);
}

function q(root, testid) {
  return root.querySelector(`[data-testid="${testid}"]`);
}

// A definition list from [label, valueNode] pairs.
function factList(pairs, testid) {
  return h('dl', { class: 'facts', testid }, pairs.map(([label, value]) => [h('dt', { text: label }), h('dd', {}, value)]));
}

function panel(title, ...children) {
  return h('section', { class: 'panel' }, h('h3', { text: title }), children);
}

function table(testid, headings, caption) {
  const tbody = h('tbody');
  const node = h('div', { class: 'table-wrap' },
    h('table', { testid },
      caption ? h('caption', { class: 'visually-hidden', text: caption }) : null,
      h('thead', {}, h('tr', {}, headings.map((t) => h('th', { scope: 'col', text: t })))),
      tbody));
  return { node, tbody };
}

function row(cells, props = {}) {
  return h('tr', props, cells.map((c) => h('td', {}, c)));
}

function status(testid) {
  return h('p', { class: 'status', testid, role: 'status', 'aria-live': 'polite' });
}

function showMessage(node, text, kind = 'info') {
  node.classList.toggle('error', kind === 'error');
  node.classList.toggle('ok', kind === 'ok');
  setText(node, text);
}

function errorText(error) {
  if (error instanceof ApiError && error.code && error.code !== 'network') return `${error.message} (${error.code})`;
  return error.message || String(error);
}

let fieldIds = 0;

function field(label, input) {
  input.id ||= `field-${(fieldIds += 1)}`;
  return h('div', { class: 'field' }, h('label', { for: input.id, text: label }), input);
}

// ---------------------------------------------------------------------------
// 3. Session: the key is kept in sessionStorage and nowhere else.

const session = {
  key() {
    try {
      return sessionStorage.getItem(KEY_STORAGE);
    } catch {
      return null;
    }
  },
  save(key) {
    sessionStorage.setItem(KEY_STORAGE, key);
  },
  clear() {
    try {
      sessionStorage.clear();
    } catch {
      // storage unavailable: nothing was stored
    }
  },
};

// ---------------------------------------------------------------------------
// 4. HTTP client

class ApiError extends Error {
  constructor(status, code, message, extra = {}) {
    super(message);
    this.status = status;
    this.code = code;
    this.field = extra.field ?? null;
  }
}

let onUnauthorized = () => {};

// fetch(path) with the bearer key. `key` overrides the stored one (sign-in);
// `stream` returns the Response of a successful call unread.
async function apiFetch(url, { method = 'GET', body, key, stream = false } = {}) {
  const usedKey = key ?? session.key();
  const headers = { Authorization: `Bearer ${usedKey ?? ''}` };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let response;
  try {
    response = await fetch(url, {
      method,
      headers,
      body: body === undefined ? undefined : (typeof body === 'string' ? body : JSON.stringify(body)),
      cache: 'no-store',
      credentials: 'omit',
    });
  } catch {
    throw new ApiError(0, 'network', 'The server could not be reached.');
  }
  if (response.ok && stream) return response;
  const data = await response.json().catch(() => null);
  if (response.ok) return data;
  const err = data && data.error ? data.error : {};
  const apiError = new ApiError(response.status, err.code || `http_${response.status}`,
    err.message || `HTTP ${response.status}`, err);
  if (response.status === 401 && key === undefined) onUnauthorized();
  throw apiError;
}

const api = {
  get: (url, options) => apiFetch(url, options),
  post: (url, body, options) => apiFetch(url, { ...options, method: 'POST', body }),
  stream: (url, options) => apiFetch(url, { ...options, stream: true }),
};

// apiPath('/v1/hunts/', hunt, '/players/', player): odd parts are encoded ids
function apiPath(...segments) {
  return segments.map((s, i) => (i % 2 === 0 ? s : encodeURIComponent(s))).join('');
}

// Reads a streamed text body line by line; `onLine` returns false to stop.
async function readLines(response, onLine) {
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let partial = '';
  for (;;) {
    const { value, done } = await reader.read();
    const lines = (partial + decoder.decode(value ?? new Uint8Array(), { stream: !done })).split('\n');
    partial = done ? '' : lines.pop();
    for (const line of lines) {
      if (line && onLine(line) === false) {
        await reader.cancel().catch(() => {});
        return false;
      }
    }
    if (done) return true;
  }
}

// ---------------------------------------------------------------------------
// 5. WebSocket client: one per page.

class LiveSocket {
  constructor(onStatus) {
    this.onStatus = onStatus;
    this.socket = null;
    this.nextId = 1;
    this.pending = new Map();       // request id -> { resolve, reject }
    this.subscriptions = new Set(); // local subscriptions, re-sent on reconnect
    this.byServerId = new Map();    // server subscription id -> local subscription
    this.attempt = 0;
    this.timer = 0;
    this.stopped = true;
  }

  start() {
    this.stopped = false;
    this.connect();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    const socket = this.socket;
    this.socket = null;
    if (socket) socket.close(1000, 'signed out');
    this.failPending('signed out');
    this.subscriptions.clear();
    this.byServerId.clear();
  }

  get open() {
    return this.socket != null && this.socket.readyState === WebSocket.OPEN;
  }

  async connect() {
    this.onStatus('connecting');
    let ticket;
    try {
      ticket = (await api.post('/v1/ws/ticket')).ticket;
    } catch (error) {
      if (error.status === 401) return; // apiFetch already went back to sign-in
      this.scheduleReconnect();
      return;
    }
    if (this.stopped) return;
    const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
    const socket = new WebSocket(`${scheme}//${location.host}/v1/ws?ticket=${encodeURIComponent(ticket)}`);
    this.socket = socket;
    let opened = false;
    socket.addEventListener('open', () => {
      opened = true;
      this.attempt = 0;
      this.onStatus('live');
      for (const sub of this.subscriptions) this.sendSubscribe(sub);
    });
    socket.addEventListener('message', (event) => this.receive(event.data));
    socket.addEventListener('close', () => this.closed(socket, opened));
  }

  async closed(socket, opened) {
    if (socket !== this.socket) return;
    this.socket = null;
    this.failPending('connection closed');
    this.byServerId.clear();
    for (const sub of this.subscriptions) sub.serverId = null;
    if (this.stopped) return;
    if (!opened) {
      // The handshake failed: is it the key? (a 401 here returns to sign-in)
      try {
        await api.get('/v1/whoami');
      } catch (error) {
        if (error.status === 401) return;
      }
    }
    this.scheduleReconnect();
  }

  scheduleReconnect() {
    if (this.stopped) return;
    const base = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** this.attempt);
    const delay = Math.round(base * (0.75 + Math.random() * 0.25));
    this.attempt += 1;
    this.onStatus(`reconnecting in ${Math.ceil(delay / 1000)} s`);
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.connect(), delay);
  }

  failPending(reason) {
    for (const { reject } of this.pending.values()) reject(new ApiError(0, 'disconnected', reason));
    this.pending.clear();
  }

  request(op, fields) {
    if (!this.open) return Promise.reject(new ApiError(0, 'disconnected', 'not connected'));
    const id = this.nextId;
    this.nextId += 1;
    this.socket.send(JSON.stringify({ id, op, ...fields }));
    return new Promise((resolve, reject) => this.pending.set(id, { resolve, reject }));
  }

  receive(text) {
    let message;
    try {
      message = JSON.parse(text);
    } catch {
      return;
    }
    if (message.push) {
      const sub = this.byServerId.get(message.subscription);
      if (sub) sub.onPush(message, text);
      return;
    }
    const waiter = this.pending.get(message.id);
    if (!waiter) return;
    this.pending.delete(message.id);
    if (message.ok) waiter.resolve(message);
    else {
      const e = message.error || {};
      waiter.reject(new ApiError(0, e.code || 'error', e.message || 'request failed', e));
    }
  }

  // build() gives the subscribe fields (called again on every reconnect);
  // onPush(message, rawText) gets each push. Returns a handle with close().
  subscribe(build, { onPush, onError = () => {}, onSubscribed = () => {} }) {
    const sub = { build, onPush, onError, onSubscribed, serverId: null, closed: false };
    this.subscriptions.add(sub);
    if (this.open) this.sendSubscribe(sub);
    return { close: () => this.unsubscribe(sub) };
  }

  sendSubscribe(sub) {
    const socket = this.socket;
    this.request('subscribe', sub.build()).then((reply) => {
      if (sub.closed || socket !== this.socket) {
        if (socket === this.socket) this.request('unsubscribe', { subscription: reply.subscription }).catch(() => {});
        return;
      }
      sub.serverId = reply.subscription;
      this.byServerId.set(sub.serverId, sub);
      sub.onSubscribed(reply);
    }, (error) => {
      if (!sub.closed && error.code !== 'disconnected') sub.onError(error);
    });
  }

  unsubscribe(sub) {
    if (sub.closed) return;
    sub.closed = true;
    this.subscriptions.delete(sub);
    if (sub.serverId != null) {
      this.byServerId.delete(sub.serverId);
      this.request('unsubscribe', { subscription: sub.serverId }).catch(() => {});
    }
  }
}

// ---------------------------------------------------------------------------
// 6. Shared topics: one subscription however many views show the data.

class SharedTopic {
  constructor(live, fields) {
    this.live = live;
    this.fields = fields;
    this.listeners = new Set();
    this.handle = null;
    this.latest = null;
  }

  // listener(message) is called with the latest push now and on every new one;
  // returns the release function.
  acquire(listener, onError = () => {}) {
    const entry = { listener, onError };
    this.listeners.add(entry);
    if (!this.handle) {
      this.handle = this.live.subscribe(() => this.fields, {
        onPush: (message) => this.publish(message),
        onError: (error) => this.fail(error),
      });
    }
    if (this.latest) listener(this.latest);
    return () => {
      this.listeners.delete(entry);
      if (this.listeners.size === 0 && this.handle) {
        this.handle.close();
        this.handle = null;
      }
    };
  }

  publish(message) {
    this.latest = message;
    this.onMessage?.(message);
    for (const { listener } of this.listeners) listener(message);
  }

  fail(error) {
    for (const { onError } of this.listeners) onError(error);
  }
}

// Grants per (hunt, sku) over the last minute of hunts pushes.
class GrantRates {
  constructor() {
    this.samples = new Map(); // key -> [{ t, granted }], oldest first
  }

  static key(hunt, sku) {
    return `${hunt}\u0000${sku}`;
  }

  record(huntsMessage, now = Date.now()) {
    const seen = new Set();
    for (const hunt of huntsMessage.hunts) {
      for (const product of hunt.products) {
        const key = GrantRates.key(hunt.id, product.sku);
        seen.add(key);
        const list = this.samples.get(key) ?? [];
        const last = list[list.length - 1];
        if (!last || last.granted !== product.granted) list.push({ t: now, granted: product.granted });
        this.prune(list, now);
        this.samples.set(key, list);
      }
    }
    for (const key of this.samples.keys()) if (!seen.has(key)) this.samples.delete(key);
  }

  // Keep the samples of the window plus the last one before it (the baseline).
  prune(list, now) {
    while (list.length > 1 && list[1].t <= now - RATE_WINDOW_MS) list.shift();
  }

  // Grants per second over the last minute (0 when nothing was granted).
  rate(hunt, sku, now = Date.now()) {
    const list = this.samples.get(GrantRates.key(hunt, sku));
    if (!list || list.length < 2) return 0;
    this.prune(list, now);
    const first = list[0];
    const last = list[list.length - 1];
    const since = Math.max(first.t, now - RATE_WINDOW_MS);
    const seconds = (now - since) / 1000;
    return seconds > 0 && last.granted > first.granted ? (last.granted - first.granted) / seconds : 0;
  }

  sellOut(hunt, product, now = Date.now()) {
    if (product.remaining === 0) return 'sold out';
    const rate = this.rate(hunt, product.sku, now);
    return rate > 0 ? `~${fmtDuration(product.remaining / rate)}` : '—';
  }
}

// ---------------------------------------------------------------------------
// 7. Charts and the confirm dialog

const CHART_COLORS = { blue: '#1f5fbf', green: '#1b7f3b', red: '#b42318', orange: '#b54708', grid: '#d0d5dd', text: '#344054' };

function prepareCanvas(canvas) {
  const ratio = window.devicePixelRatio || 1;
  const width = Math.max(1, canvas.clientWidth);
  const height = Math.max(1, canvas.clientHeight);
  if (canvas.width !== Math.round(width * ratio) || canvas.height !== Math.round(height * ratio)) {
    canvas.width = Math.round(width * ratio);
    canvas.height = Math.round(height * ratio);
  }
  const ctx = canvas.getContext('2d');
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  ctx.clearRect(0, 0, width, height);
  ctx.font = '11px system-ui, sans-serif';
  return { ctx, width, height };
}

// A round tick step of at least `value` (1, 2, 2.5 or 5 times a power of ten).
function niceStep(value) {
  if (!(value > 0)) return 0.25;
  const magnitude = 10 ** Math.floor(Math.log10(value));
  return [1, 2, 2.5, 5, 10].find((m) => m * magnitude >= value) * magnitude;
}

// Time-series lines over the last 10 minutes (or since the first point, at
// least 1 minute). points: Ring of { t, ... }; series: [{ value(point), color }].
function drawLineChart(canvas, points, series) {
  const { ctx, width, height } = prepareCanvas(canvas);
  const pad = { left: 44, right: 8, top: 8, bottom: 18 };
  const plotW = width - pad.left - pad.right;
  const plotH = height - pad.top - pad.bottom;
  const end = points.length ? points.newest(0).t : Date.now();
  const span = Math.min(CHART_SPAN_MS, Math.max(60000, points.length ? end - points.at(0).t : 0));
  const start = end - span;
  let top = 0;
  for (let i = 0; i < points.length; i += 1) {
    for (const s of series) top = Math.max(top, s.value(points.at(i)) ?? 0);
  }
  const max = 4 * niceStep(top / 4);
  ctx.strokeStyle = CHART_COLORS.grid;
  ctx.fillStyle = CHART_COLORS.text;
  ctx.lineWidth = 1;
  for (let g = 0; g <= 4; g += 1) {
    const y = pad.top + plotH - (plotH * g) / 4;
    ctx.beginPath();
    ctx.moveTo(pad.left, y);
    ctx.lineTo(pad.left + plotW, y);
    ctx.stroke();
    ctx.fillText(String(Number(((max * g) / 4).toPrecision(3))), 2, y + 4);
  }
  ctx.fillText(`−${Math.round(span / 60000)} min`, pad.left, height - 4);
  ctx.fillText('now', pad.left + plotW - 22, height - 4);
  const x = (t) => pad.left + ((t - start) / span) * plotW;
  const y = (v) => pad.top + plotH - (Math.min(v, max) / max) * plotH;
  for (const s of series) drawSeries(ctx, points, s, x, y, start);
}

function drawSeries(ctx, points, s, x, y, start) {
  ctx.strokeStyle = s.color;
  ctx.lineWidth = 1.5;
  ctx.beginPath();
  let previous = null;
  for (let i = 0; i < points.length; i += 1) {
    const p = points.at(i);
    const v = s.value(p);
    if (p.t < start || v == null) {
      previous = null;
      continue;
    }
    // a gap of more than 2 s (view hidden, disconnected) breaks the line
    if (previous && p.t - previous.t <= 2000) ctx.lineTo(x(p.t), y(v));
    else ctx.moveTo(x(p.t), y(v));
    previous = p;
  }
  ctx.stroke();
}

// Horizontal bars: items [{ label, value, color }].
function drawBarChart(canvas, items) {
  const { ctx, width, height } = prepareCanvas(canvas);
  if (!items.length) {
    ctx.fillStyle = CHART_COLORS.text;
    ctx.fillText('Nothing in this window.', 8, 20);
    return;
  }
  const labelW = Math.min(260, width * 0.45);
  const barH = Math.max(8, Math.min(22, (height - 8) / items.length - 4));
  const max = Math.max(...items.map((i) => i.value), 1);
  items.forEach((item, n) => {
    const top = 4 + n * (barH + 4);
    ctx.fillStyle = CHART_COLORS.text;
    ctx.fillText(ellipsize(ctx, item.label, labelW - 8), 4, top + barH - 4);
    const w = ((width - labelW - 70) * item.value) / max;
    ctx.fillStyle = item.color;
    ctx.fillRect(labelW, top, Math.max(1, w), barH);
    ctx.fillStyle = CHART_COLORS.text;
    ctx.fillText(fmtInt(item.value), labelW + w + 4, top + barH - 4);
  });
}

function ellipsize(ctx, text, maxWidth) {
  if (ctx.measureText(text).width <= maxWidth) return text;
  let cut = text;
  while (cut.length > 1 && ctx.measureText(`${cut}…`).width > maxWidth) cut = cut.slice(0, -1);
  return `${cut}…`;
}

// An in-page confirmation (<dialog>, modal: focus stays inside, Escape cancels).
function confirmAction(text, confirmLabel = 'Confirm') {
  const dialog = document.querySelector('[data-testid="confirm-dialog"]');
  const ok = q(dialog, 'confirm-ok');
  const cancel = q(dialog, 'confirm-cancel');
  setText(q(dialog, 'confirm-text'), text);
  setText(ok, confirmLabel);
  const opener = document.activeElement;
  return new Promise((resolve) => {
    const finish = (answer) => {
      ok.removeEventListener('click', onOk);
      cancel.removeEventListener('click', onCancel);
      dialog.removeEventListener('close', onClose);
      if (dialog.open) dialog.close();
      if (opener && opener.isConnected) opener.focus();
      resolve(answer);
    };
    const onOk = () => finish(true);
    const onCancel = () => finish(false);
    const onClose = () => finish(false); // Escape
    ok.addEventListener('click', onOk);
    cancel.addEventListener('click', onCancel);
    dialog.addEventListener('close', onClose);
    dialog.showModal();
    cancel.focus();
  });
}

// ---------------------------------------------------------------------------
// 8. Views. Each factory returns { root, show(), hide() }; ctx carries the
// session: { who, can, live, topics: { hunts, stats }, rates }.

function viewRoot(id, title, ...children) {
  return h('section', { class: 'view', testid: `view-${id}`, 'aria-labelledby': `view-title-${id}`, hidden: true },
    h('h2', { id: `view-title-${id}`, text: title }), children);
}

// --- Overview (admin) -------------------------------------------------------

function createOverview(ctx) {
  const tiles = {};
  const tile = (key, label) => {
    tiles[key] = h('span', { class: 'tile-value', testid: `stat-${key}`, text: '—' });
    return h('div', { class: 'tile' }, h('span', { class: 'tile-label', text: label }), tiles[key]);
  };
  const charts = {
    events: h('canvas', { class: 'chart', testid: 'chart-events', role: 'img', 'aria-label': 'Events per second, last 10 minutes' }),
    claims: h('canvas', { class: 'chart', testid: 'chart-claims', role: 'img', 'aria-label': 'Claims per second, granted and rejected, last 10 minutes' }),
    latency: h('canvas', { class: 'chart', testid: 'chart-latency', role: 'img', 'aria-label': 'Acknowledgement latency p99, last 10 minutes' }),
  };
  const facts = {};
  const fact = (key) => {
    facts[key] = h('span', { testid: `fact-${key}`, text: '—' });
    return facts[key];
  };
  const byOutcome = h('div', { class: 'table-wrap' });
  const checks = h('div', { testid: 'consistency' });
  const runStatus = status('consistency-run-status');
  const runButton = h('button', { type: 'button', class: 'button', testid: 'consistency-run-button', text: 'Run consistency check' });
  const points = new Ring(CHART_POINTS);

  const root = viewRoot('overview', 'Overview',
    h('div', { class: 'tiles' },
      tile('events', 'Events/s'), tile('granted', 'Claims granted/s'), tile('rejected', 'Claims rejected/s'),
      tile('p50', 'Ack latency p50'), tile('p99', 'Ack latency p99'),
      tile('connections', 'Connections'), tile('players', 'Players resident')),
    h('div', { class: 'charts' },
      chartFigure(charts.events, 'Events/s', [['blue', 'events']]),
      chartFigure(charts.claims, 'Claims/s', [['green', 'granted'], ['red', 'rejected']]),
      chartFigure(charts.latency, 'Ack latency p99 (ms)', [['orange', 'p99']])),
    h('div', { class: 'columns' },
      panel('Claims per second by outcome', byOutcome),
      panel('Journal',
        factList([
          ['Journal seq (durable / last)', fact('seq')],
          ['Chain head', fact('chain')],
          ['Durability', fact('durability')],
          ['Last snapshot', fact('snapshot')],
          ['Projection lag', fact('lag')],
        ], 'journal-facts')),
      readinessPanel(
        factList([['Ready', fact('ready')], ['Last check', fact('consistency')]], 'readiness-facts'),
        checks,
        h('div', { class: 'actions' }, runButton),
        runStatus)));

  let release = null;
  let visible = false;

  function onStats(message) {
    points.push(statsPoint(message));
    if (!visible) return;
    renderTiles(tiles, message);
    renderOutcomes(byOutcome, message.claims_per_s);
    renderJournal(facts, message);
    renderPushedConsistency(facts, checks, message);
    drawCharts();
  }

  function drawCharts() {
    drawLineChart(charts.events, points, [{ value: (p) => p.events, color: CHART_COLORS.blue }]);
    drawLineChart(charts.claims, points, [
      { value: (p) => p.granted, color: CHART_COLORS.green },
      { value: (p) => p.rejected, color: CHART_COLORS.red }]);
    drawLineChart(charts.latency, points, [{ value: (p) => p.p99, color: CHART_COLORS.orange }]);
  }

  runButton.addEventListener('click', async () => {
    runButton.disabled = true;
    showMessage(runStatus, 'Running the consistency check…');
    try {
      const report = await api.get('/v1/admin/consistency');
      showMessage(runStatus, `Checked at journal seq ${fmtInt(report.journal_seq)}: ${report.ok ? 'ok' : 'FAILED'}.`, report.ok ? 'ok' : 'error');
      renderChecks(checks, report);
    } catch (error) {
      showMessage(runStatus, errorText(error), 'error');
    } finally {
      runButton.disabled = false;
    }
  });

  return {
    root,
    show() {
      visible = true;
      release = ctx.topics.stats.acquire(onStats, (error) => showMessage(runStatus, errorText(error), 'error'));
      drawCharts();
    },
    hide() {
      visible = false;
      release?.();
      release = null;
    },
  };
}

// spans the whole width when the columns get narrow (console.css)
function readinessPanel(...children) {
  const node = panel('Readiness and consistency', ...children);
  node.classList.add('readiness');
  return node;
}

function chartFigure(canvas, title, legend) {
  return h('figure', { class: 'chart-figure' },
    h('figcaption', {}, title, ' ', legend.map(([color, label]) => h('span', { class: `legend legend-${color}`, text: label }))),
    canvas);
}

function statsPoint(message) {
  const perS = message.claims_per_s ?? {};
  let rejected = 0;
  for (const [outcome, value] of Object.entries(perS)) if (outcome !== 'granted') rejected += value;
  return { t: message.at ?? Date.now(), events: message.events_per_s ?? 0, granted: perS.granted ?? 0, rejected, p99: message.ack_p99_ms };
}

function renderTiles(tiles, m) {
  const point = statsPoint(m);
  setText(tiles.events, fmtRate(point.events));
  setText(tiles.granted, fmtRate(point.granted));
  setText(tiles.rejected, fmtRate(point.rejected));
  setText(tiles.p50, fmtMs(m.ack_p50_ms));
  setText(tiles.p99, fmtMs(m.ack_p99_ms));
  setText(tiles.connections, fmtInt(m.connections));
  setText(tiles.players, fmtInt(m.players_resident));
}

function renderOutcomes(container, perS = {}) {
  const { node, tbody } = table('outcomes-table', ['Outcome', 'Per second'], 'Claims per second by outcome');
  const outcomes = ['granted', ...REJECT_REASONS, ...Object.keys(perS).filter((k) => k !== 'granted' && !REJECT_REASONS.includes(k))];
  for (const outcome of outcomes) if (outcome in perS) tbody.append(row([outcome, fmtRate(perS[outcome])]));
  replaceChildren(container, node);
}

function renderJournal(facts, m) {
  const j = m.journal ?? {};
  setText(facts.seq, `${fmtInt(j.durable_seq)} / ${fmtInt(j.last_seq)}`);
  setText(facts.chain, j.chain_head ? chainHeadText(j.chain_head.seq, j.chain_head.hash) : '—');
  setText(facts.durability, j.durability ?? '—');
  setText(facts.snapshot, m.snapshot ? `seq ${fmtInt(m.snapshot.seq)}, ${fmtDuration(m.snapshot.age_s)} ago` : 'none yet');
  setText(facts.lag, m.projection_lag == null ? '—' : `${fmtInt(m.projection_lag)} records`);
}

function renderPushedConsistency(facts, container, m) {
  const ready = m.ready ?? {};
  setText(facts.ready, ready.ready ? 'ready' : `not ready${ready.reason ? `: ${ready.reason}` : ''}`);
  facts.ready.className = ready.ready ? 'ok' : 'error';
  const c = m.consistency;
  setText(facts.consistency, c ? `${c.ok ? 'passed' : 'FAILED'} at seq ${fmtInt(c.journal_seq)}, ${fmtTime(c.at)}` : 'not run yet');
  facts.consistency.className = c ? (c.ok ? 'ok' : 'error') : '';
  // the list shows the newest report: this push's, or a run's until the push has it
  const signature = c ? `${c.at}:${c.journal_seq}` : '';
  if (!c || container.dataset.signature === signature) return;
  container.dataset.signature = signature;
  renderChecks(container, c);
}

function renderChecks(container, report) {
  const verdict = h('p', { class: report.ok ? 'verdict ok' : 'verdict error', testid: 'consistency-verdict',
    text: report.ok ? `ok: every check passed at journal seq ${fmtInt(report.journal_seq)}` : `FAILED at journal seq ${fmtInt(report.journal_seq)}: see the checks below` });
  const list = h('ul', { class: 'checks', testid: 'consistency-checks' },
    report.checks.map((check) => h('li', { class: check.ok ? 'ok' : 'error' },
      h('span', { class: 'check-state', text: check.ok ? 'ok' : 'FAIL' }),
      h('span', { class: 'check-name', text: check.name }),
      h('span', { class: 'check-detail', text: check.detail }))));
  replaceChildren(container, verdict, list);
}

// --- Hunts (all roles; define and add stock: design) ------------------------

function createHunts(ctx) {
  const canDesign = ctx.can.design;
  const summary = status('hunts-summary');
  const filter = h('input', { type: 'search', testid: 'hunts-filter', placeholder: 'hunt id or name', autocomplete: 'off' });
  const list = h('div', { class: 'hunt-list', testid: 'hunts-list' });
  const cards = new Map(); // hunt id -> card (see huntCard)
  const root = viewRoot('hunts', 'Hunts',
    canDesign ? defineHuntForm() : null,
    h('div', { class: 'toolbar' }, field('Filter', filter), summary),
    list);

  let release = null;
  let latest = null;
  let refreshTimer = 0;

  function render(message) {
    latest = message;
    const now = Date.now();
    const hunts = message.hunts;
    setText(summary, `${fmtInt(hunts.length)} hunt${hunts.length === 1 ? '' : 's'}${message.truncated ? ' (only the first 1,000 are shown)' : ''}, as of journal seq ${fmtInt(message.as_of_seq)}`);
    const seen = new Set();
    let cursor = list.firstChild;
    for (const hunt of hunts) {
      seen.add(hunt.id);
      let card = cards.get(hunt.id);
      if (!card) {
        card = huntCard(hunt, canDesign);
        cards.set(hunt.id, card);
      }
      updateHuntCard(card, hunt, ctx.rates, now);
      if (card.root === cursor) cursor = cursor.nextSibling;
      else list.insertBefore(card.root, cursor);
    }
    for (const [id, card] of cards) {
      if (!seen.has(id)) {
        card.root.remove();
        cards.delete(id);
      }
    }
    applyFilter();
  }

  function applyFilter() {
    const needle = filter.value.trim().toLowerCase();
    for (const [id, card] of cards) {
      card.root.hidden = needle !== '' && !id.toLowerCase().includes(needle) && !card.name.toLowerCase().includes(needle);
    }
  }

  filter.addEventListener('input', applyFilter);

  return {
    root,
    show() {
      release = ctx.topics.hunts.acquire(render, (error) => showMessage(summary, errorText(error), 'error'));
      // sell-out estimates age even when no push arrives (local only, no network)
      refreshTimer = setInterval(() => latest && render(latest), 5000);
    },
    hide() {
      release?.();
      release = null;
      clearInterval(refreshTimer);
    },
  };
}

function huntCard(hunt, canDesign) {
  const title = h('h3', { class: 'hunt-title' });
  const when = h('p', { class: 'hunt-window', testid: 'hunt-window' });
  const headings = ['Product', 'Remaining', 'Granted', 'Rejected', 'Sells out in'];
  if (canDesign) headings.push('Add stock');
  const { node, tbody } = table('products-table', headings, 'Products');
  const products = new Map();
  for (const product of hunt.products) {
    const refs = productRow(hunt.id, product.sku, canDesign);
    products.set(product.sku, refs);
    tbody.append(refs.row);
  }
  const root = h('article', { class: 'hunt-card', testid: 'hunt-card' }, title, when, node);
  root.dataset.hunt = hunt.id;
  return { root, title, when, products, name: '' };
}

function productRow(huntId, sku, canDesign) {
  const fill = h('span', { class: 'bar-fill' });
  const bar = h('span', { class: 'bar', role: 'img' }, fill);
  const remaining = h('span', { class: 'num', testid: 'remaining' });
  const total = h('span', { class: 'muted' });
  const granted = h('td', { class: 'num', testid: 'granted' });
  const rejected = h('td', { testid: 'rejected' });
  const sellOut = h('td', { testid: 'sell-out' });
  const row = h('tr', { testid: 'product-row' },
    h('th', { scope: 'row', class: 'sku', text: sku }),
    h('td', { class: 'stock-cell' }, bar, h('span', { class: 'stock-numbers' }, remaining, total)),
    granted, rejected, sellOut,
    canDesign ? h('td', {}, addStockControl(huntId, sku)) : null);
  row.dataset.sku = sku;
  return { row, fill, bar, remaining, total, granted, rejected, sellOut };
}

function updateHuntCard(card, hunt, rates, now) {
  card.name = hunt.name ?? hunt.id;
  setText(card.title, card.name === hunt.id ? hunt.id : `${card.name} (${hunt.id})`);
  const plural = (n, word) => `${fmtInt(n)} ${word}${n === 1 ? '' : 's'}`;
  setText(card.when, [
    `Opens ${hunt.opens_at == null ? 'any time' : fmtTime(hunt.opens_at)}`,
    `closes ${hunt.closes_at == null ? 'never' : fmtTime(hunt.closes_at)}`,
    plural(hunt.products.length, 'product'),
    hunt.players == null ? null : plural(hunt.players, 'player'),
    hunt.events == null ? null : plural(hunt.events, 'event'),
    hunt.unknown_product ? `${fmtInt(hunt.unknown_product)} claims for unknown products` : null,
  ].filter(Boolean).join(' · '));
  for (const product of hunt.products) {
    const refs = card.products.get(product.sku);
    if (refs) updateProductRow(refs, hunt.id, product, rates, now);
  }
}

function updateProductRow(refs, huntId, product, rates, now) {
  const total = product.stock + product.added;
  const share = total > 0 ? product.remaining / total : 0;
  refs.fill.style.width = `${(share * 100).toFixed(1)}%`;
  refs.fill.classList.toggle('low', share < 0.1);
  refs.bar.setAttribute('aria-label', `${product.remaining} of ${total} remaining`);
  setText(refs.remaining, fmtInt(product.remaining));
  setText(refs.total, ` / ${fmtInt(total)}`);
  setText(refs.granted, fmtInt(product.granted));
  const rejected = Object.entries(product.rejected ?? {}).filter(([, n]) => n > 0);
  setText(refs.rejected, rejected.length ? rejected.map(([reason, n]) => `${reason} ${fmtInt(n)}`).join(' · ') : '0');
  setText(refs.sellOut, rates.sellOut(huntId, product, now));
}

function addStockControl(huntId, sku) {
  const input = h('input', { type: 'number', min: '1', step: '1', inputmode: 'numeric', class: 'narrow', testid: 'stock-add-input',
    'aria-label': `Units of ${sku} to add` });
  const button = h('button', { type: 'button', class: 'button small', testid: 'stock-add-button', text: 'Add…' });
  const result = h('span', { class: 'status', testid: 'stock-result', role: 'status' });
  button.addEventListener('click', () => addStock(huntId, sku, input, button, result));
  input.addEventListener('keydown', (event) => {
    if (event.key !== 'Enter') return;
    event.preventDefault(); // or the Enter would also press the dialog's focused button
    button.click();
  });
  return h('div', { class: 'inline-form' }, input, button, result);
}

async function addStock(huntId, sku, input, button, result) {
  const add = Number(input.value);
  if (!Number.isSafeInteger(add) || add < 1) {
    showMessage(result, 'Enter a whole number of at least 1.', 'error');
    input.focus();
    return;
  }
  if (!(await confirmAction(`Add ${fmtInt(add)} units of stock to “${sku}” in hunt “${huntId}”?`, 'Add stock'))) {
    showMessage(result, 'Cancelled.');
    return;
  }
  button.disabled = true;
  try {
    const answer = await api.post(apiPath('/v1/hunts/', huntId, '/products/', sku, '/stock'), { add });
    showMessage(result, `Added ${fmtInt(add)}: ${fmtInt(answer.remaining)} remaining (seq ${fmtInt(answer.seq)}).`, 'ok');
    input.value = '';
  } catch (error) {
    showMessage(result, errorText(error), 'error');
  } finally {
    button.disabled = false;
  }
}

function defineHuntForm() {
  const textarea = h('textarea', { id: 'hunt-json', class: 'code', rows: '16', spellcheck: 'false', testid: 'hunt-json',
    'aria-describedby': 'hunt-json-status hunt-field-error' });
  textarea.value = JSON.stringify(EXAMPLE_HUNT, null, 2);
  const syntax = h('p', { id: 'hunt-json-status', class: 'status', testid: 'hunt-json-status', role: 'status' });
  const fieldError = h('p', { id: 'hunt-field-error', class: 'field-error', testid: 'hunt-field-error', role: 'alert', hidden: true });
  const result = status('hunt-define-result');
  const submit = h('button', { type: 'submit', class: 'button', testid: 'hunt-define', text: 'Define hunt' });
  const form = h('form', { class: 'define-form', testid: 'define-hunt-form', novalidate: true },
    h('label', { for: 'hunt-json', text: 'Hunt definition (JSON)' }),
    h('div', { class: 'define-grid' }, textarea, h('div', { class: 'define-side' }, syntax, fieldError, result)),
    h('div', { class: 'actions' }, submit));

  const showFieldError = (text) => {
    fieldError.hidden = !text;
    setText(fieldError, text);
    textarea.setAttribute('aria-invalid', text ? 'true' : 'false');
  };
  const checkSyntax = () => {
    const parsed = parseHuntJson(textarea.value);
    showMessage(syntax, parsed.error ? `JSON syntax error at line ${parsed.line}, column ${parsed.column}: ${parsed.error}` : 'JSON syntax ok.',
      parsed.error ? 'error' : 'ok');
    return parsed;
  };
  let debounce = 0;
  textarea.addEventListener('input', () => {
    clearTimeout(debounce);
    debounce = setTimeout(checkSyntax, 250);
  });
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    showFieldError('');
    const parsed = checkSyntax();
    if (parsed.error) {
      showFieldError(`line ${parsed.line}, column ${parsed.column}: ${parsed.error}`);
      selectAt(textarea, parsed.line, parsed.column);
      return;
    }
    submit.disabled = true;
    showMessage(result, 'Sending…');
    try {
      // the text as typed: the server's line/column in errors then point into it
      const answer = await api.post('/v1/hunts', textarea.value);
      showMessage(result, answer.created ? `Hunt “${answer.id}” defined at seq ${fmtInt(answer.seq)}.`
        : `Hunt “${answer.id}” was already defined identically (seq ${fmtInt(answer.seq)}).`, 'ok');
    } catch (error) {
      showMessage(result, errorText(error), 'error');
      showServerFieldError(error, textarea, showFieldError);
    } finally {
      submit.disabled = false;
    }
  });
  checkSyntax();
  return h('details', { class: 'panel define' }, h('summary', { testid: 'define-hunt-toggle' }, h('h3', { text: 'Define hunt' })), form);
}

function parseHuntJson(text) {
  try {
    JSON.parse(text);
    return { error: null };
  } catch (error) {
    return { error: error.message, ...jsonErrorPosition(text, error) };
  }
}

function showServerFieldError(error, textarea, showFieldError) {
  if (error.field) {
    showFieldError(`${error.field}: ${error.message}`);
    return;
  }
  const at = /at line (\d+) column (\d+)/.exec(error.message);
  if (at) {
    showFieldError(`line ${at[1]}, column ${at[2]}: ${error.message}`);
    selectAt(textarea, Number(at[1]), Number(at[2]));
  } else if (error.code === 'invalid_hunt' || error.code === 'invalid_json') {
    showFieldError(error.message);
  }
}

function selectAt(textarea, line, column) {
  const offset = offsetOf(textarea.value, line, column);
  textarea.focus();
  textarea.setSelectionRange(Math.max(0, offset - 1), offset);
}

// --- Claims (feed: roles that may subscribe; look-up: all of them; audit
// trail: audit) ----------------------------------------------------------------

// The dispatch feed: a bounded ring of rows, newest first, virtualised (fixed
// row height; only the visible rows plus an overscan are in the DOM) and
// rendered at most once per animation frame however fast pushes arrive.
// The columns of the dispatch feed (granted claims from the `claims` topic).
const FEED_COLUMNS = [
  { name: 'time', title: 'Time', value: (item) => new Date(item.at).toLocaleTimeString() },
  { name: 'seq', title: 'Seq', value: (item) => item.cursor },
  { name: 'hunt', title: 'Hunt', value: (item) => item.hunt },
  { name: 'sku', title: 'SKU', value: (item) => item.sku },
  { name: 'player', title: 'Player', value: (item) => item.player },
  { name: 'claim', title: 'Claim id', value: (item) => item.claim_id },
  { name: 'customs', title: 'Customs', value: (item) => item.customs },
];

// The audit trail's columns: every decided claim, with its outcome.
const TRAIL_COLUMNS = [
  ...FEED_COLUMNS.slice(0, 6),
  { name: 'outcome', title: 'Outcome', value: (item) => item.outcome },
  FEED_COLUMNS[6],
];

class FeedList {
  constructor(onRender, columns = FEED_COLUMNS, label = 'Dispatch feed, newest first') {
    this.columns = columns;
    this.rows = new Ring(FEED_LIMIT);
    this.waiting = new Ring(FEED_LIMIT);
    this.paused = false;
    this.added = 0; // rows added since the last render, to keep a scrolled view still
    this.frame = 0;
    this.timer = 0;
    this.pool = [];
    this.onRender = onRender;
    this.spacer = h('div', { class: 'feed-spacer' });
    this.viewport = h('div', { class: 'feed-viewport', testid: 'feed', tabindex: '0', role: 'region',
      'aria-label': label }, this.spacer);
    this.viewport.addEventListener('scroll', () => this.schedule());
  }

  add(item) {
    if (this.paused) this.waiting.push(item);
    else {
      this.rows.push(item);
      this.added += 1;
    }
    this.scheduleSoon();
  }

  // New rows are drawn at most every FEED_RENDER_MS: a feed at 1,000
  // claims/s cannot be read row by row anyway, and redrawing every frame
  // costs the browser most of a core (docs/BENCHMARKS.md). Scrolling and
  // pausing still redraw at the next frame.
  scheduleSoon() {
    if (this.frame || this.timer) return;
    const wait = FEED_RENDER_MS - (performance.now() - (this.renderedAt ?? 0));
    if (wait <= 0) this.schedule();
    else this.timer = setTimeout(() => {
      this.timer = 0;
      this.schedule();
    }, wait);
  }

  setPaused(paused) {
    this.paused = paused;
    if (!paused) {
      for (const item of this.waiting.drain()) this.rows.push(item);
      this.added = 0;
      this.viewport.scrollTop = 0;
    }
    this.schedule();
  }

  schedule() {
    if (!this.frame) this.frame = requestAnimationFrame(() => this.render());
  }

  render() {
    this.frame = 0;
    this.renderedAt = performance.now();
    const total = this.rows.length;
    this.spacer.style.height = `${total * FEED_ROW_HEIGHT}px`;
    if (this.added && this.viewport.scrollTop > 0) {
      this.viewport.scrollTop += Math.min(this.added, total) * FEED_ROW_HEIGHT;
    }
    this.added = 0;
    const top = this.viewport.scrollTop;
    const height = this.viewport.clientHeight || 400;
    const first = Math.max(0, Math.floor(top / FEED_ROW_HEIGHT) - FEED_OVERSCAN);
    const last = Math.min(total, Math.ceil((top + height) / FEED_ROW_HEIGHT) + FEED_OVERSCAN);
    let used = 0;
    for (let index = first; index < last; index += 1, used += 1) {
      const node = this.pool[used] ?? this.newRow();
      this.fill(node, this.rows.newest(index), index);
      if (!node.isConnected) this.spacer.append(node);
    }
    for (let i = used; i < this.pool.length; i += 1) this.pool[i].remove();
    this.onRender();
  }

  // The header row of these columns.
  head() {
    return h('div', { class: 'feed-row feed-head', 'aria-hidden': 'true' },
      this.columns.map((c) => h('span', { class: 'cell', text: c.title })));
  }

  newRow() {
    const cells = this.columns.map((c) => h('span', { class: `cell cell-${c.name}` }));
    const node = h('div', { class: 'feed-row', testid: 'feed-row' }, cells);
    node.cells = cells;
    this.pool.push(node);
    return node;
  }

  fill(node, item, index) {
    node.style.transform = `translateY(${index * FEED_ROW_HEIGHT}px)`;
    if (node.item === item) return;
    node.item = item;
    this.columns.forEach((c, i) => {
      const value = String(c.value(item));
      node.cells[i].textContent = value;
      node.cells[i].title = value; // cells are cut with an ellipsis
    });
  }
}

function createClaims(ctx) {
  const retained = h('span', { testid: 'feed-retained', text: '0' });
  const waiting = h('span', { testid: 'feed-waiting', text: '0' });
  const waitingNote = h('span', { class: 'badge', hidden: true }, waiting, ' waiting');
  const pause = h('button', { type: 'button', class: 'button secondary', testid: 'feed-pause', 'aria-pressed': 'false', text: 'Pause' });
  const feedStatus = status('feed-status');
  const feed = new FeedList(() => {
    setText(retained, fmtInt(feed.rows.length));
    setText(waiting, fmtInt(feed.waiting.length));
    waitingNote.hidden = !feed.paused;
  }, ctx.can.feed ? FEED_COLUMNS : TRAIL_COLUMNS,
  ctx.can.feed ? 'Dispatch feed, newest first' : 'Decided claims, newest first');
  // Game and admin keys follow the dispatch feed (`claims` topic); an
  // auditor, who may not subscribe, follows the audit trail instead: every
  // decided claim, read after each `hunts` push (sent only when a count
  // changed), so it is live without a timer.
  const trail = !ctx.can.feed && ctx.can.audit;
  const lookup = claimLookup(ctx);
  const root = viewRoot('claims', 'Claims',
    ctx.can.feed || trail ? panel(trail ? 'Decided claims (audit trail, granted and rejected, newest first)'
      : 'Dispatch feed (granted claims, newest first)',
    h('div', { class: 'toolbar' }, pause, waitingNote,
      h('span', { class: 'muted' }, retained, ` kept (at most ${fmtInt(FEED_LIMIT)})`), feedStatus),
    h('div', { class: trail ? 'feed trail' : 'feed' }, feed.head(), feed.viewport)) : null,
    lookup.node);
  const follow = trail ? trailFollower(feed, feedStatus) : null;
  let releaseHunts = null;

  pause.addEventListener('click', () => {
    feed.setPaused(!feed.paused);
    pause.setAttribute('aria-pressed', String(feed.paused));
    setText(pause, feed.paused ? 'Resume' : 'Pause');
  });

  let handle = null;
  let lastCursor = null;
  let resuming = false; // after the first reply of this showing, reconnects resume from the cursor

  function onClaim(message, raw) {
    if (lastCursor != null && message.cursor <= lastCursor) return; // replayed by `tail`
    lastCursor = message.cursor;
    feed.add({
      cursor: message.cursor, at: message.at, hunt: message.hunt, sku: message.sku,
      player: message.player, claim_id: message.claim_id, customs: customsText(raw, message.customs),
    });
  }

  return {
    root,
    show() {
      resuming = false;
      if (ctx.can.feed) handle = ctx.live.subscribe(
        () => (resuming && lastCursor != null ? { topic: 'claims', from: lastCursor } : { topic: 'claims', tail: FEED_TAIL }),
        {
          onPush: onClaim,
          onError: (error) => showMessage(feedStatus, errorText(error), 'error'),
          onSubscribed: () => {
            resuming = true;
            showMessage(feedStatus, 'live', 'ok');
          },
        });
      if (follow) releaseHunts = ctx.topics.hunts.acquire((message) => follow(message.as_of_seq));
      lookup.show();
      feed.schedule();
    },
    hide() {
      handle?.close();
      handle = null;
      releaseHunts?.();
      releaseHunts = null;
      lookup.hide();
    },
  };
}

// Reads the audit trail (GET /v1/audit/claims) forward into `feed`; call it
// with the journal sequence of each `hunts` push. It starts FEED_TAIL records
// before that sequence, reads at most TRAIL_PAGES pages per call, and never
// runs twice at once (a call while one runs makes it read once more after).
const TRAIL_PAGES = 10;

function trailFollower(feed, statusNode) {
  let after = null;
  let busy = false;
  let again = false;
  async function pull(asOf) {
    if (busy) {
      again = true;
      return;
    }
    busy = true;
    try {
      if (after == null) after = Math.max(0, asOf - FEED_TAIL);
      for (let page = 0; page < TRAIL_PAGES; page += 1) {
        const answer = await api.get(`/v1/audit/claims?after=${after}&limit=1000`);
        for (const c of answer.claims) {
          feed.add({
            cursor: c.seq, at: c.at, hunt: c.hunt, sku: c.sku, player: c.player, claim_id: c.claim_id,
            outcome: c.status === 'granted' ? 'granted' : c.reason ?? c.status, customs: JSON.stringify(c.customs),
          });
        }
        const moved = answer.next_after > after;
        after = Math.max(after, answer.next_after);
        if (!moved) break;
      }
      showMessage(statusNode, 'live (audit trail, read at every change)', 'ok');
    } catch (error) {
      showMessage(statusNode, errorText(error), 'error');
    }
    busy = false;
    if (again) {
      again = false;
      pull(asOf);
    }
  }
  return pull;
}

function huntDatalist(ctx, id) {
  const list = h('datalist', { id });
  let signature = '';
  let release = null;
  const update = (message) => {
    const ids = message.hunts.map((hunt) => hunt.id);
    const next = ids.join('\u0000');
    if (next === signature) return;
    signature = next;
    replaceChildren(list, ids.map((value) => h('option', { value })));
  };
  return {
    node: list,
    show: () => { release = ctx.topics.hunts.acquire(update); },
    hide: () => { release?.(); release = null; },
  };
}

function claimLookup(ctx) {
  const canAudit = ctx.can.audit;
  const hunts = huntDatalist(ctx, 'lookup-hunts');
  const hunt = h('input', { type: 'text', list: 'lookup-hunts', required: true, autocomplete: 'off', testid: 'lookup-hunt' });
  const player = h('input', { type: 'text', required: true, autocomplete: 'off', testid: 'lookup-player' });
  const claim = h('input', { type: 'text', autocomplete: 'off', testid: 'lookup-claim' });
  const submit = h('button', { type: 'submit', class: 'button', testid: 'lookup-submit', text: 'Look up' });
  const trailButton = canAudit ? h('button', { type: 'button', class: 'button secondary', testid: 'audit-trail-button', text: 'Audit trail' }) : null;
  const lookupStatus = status('lookup-status');
  const results = h('div', { testid: 'lookup-result' });
  const trail = h('div', { testid: 'audit-trail-result' });
  const form = h('form', { class: 'lookup-form', testid: 'lookup-form', novalidate: true },
    field('Hunt', hunt), field('Player', player), field('Claim id (optional filter)', claim),
    h('div', { class: 'actions' }, submit, trailButton));

  const values = () => ({ hunt: hunt.value.trim(), player: player.value.trim(), claim: claim.value.trim() });
  const valid = (v) => {
    if (v.hunt && v.player) return true;
    showMessage(lookupStatus, 'Enter a hunt and a player.', 'error');
    return false;
  };

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const v = values();
    if (!valid(v)) return;
    showMessage(lookupStatus, 'Looking up…');
    try {
      const answer = await api.get(apiPath('/v1/hunts/', v.hunt, '/players/', v.player));
      renderPlayerClaims(results, answer, v.claim);
      showMessage(lookupStatus, '');
    } catch (error) {
      results.replaceChildren();
      showMessage(lookupStatus, errorText(error), 'error');
    }
  });

  trailButton?.addEventListener('click', async () => {
    const v = values();
    if (!valid(v)) return;
    showMessage(lookupStatus, 'Reading the audit trail…');
    try {
      const count = await loadAuditTrail(trail, v);
      showMessage(lookupStatus, `Audit trail: ${fmtInt(count)} claim record${count === 1 ? '' : 's'}.`);
    } catch (error) {
      showMessage(lookupStatus, errorText(error), 'error');
    }
  });

  return {
    node: panel('Look up a player’s claims', hunts.node, form, lookupStatus, results, trail),
    show: hunts.show,
    hide: hunts.hide,
  };
}

function renderPlayerClaims(container, answer, claimFilter) {
  const claims = answer.claims.filter((c) => !claimFilter || c.claim_id.includes(claimFilter));
  const summary = h('p', { testid: 'lookup-summary',
    text: `Player “${answer.player}” in hunt “${answer.hunt}”: score ${fmtInt(answer.score)}, ${fmtInt(answer.events)} event${answer.events === 1 ? '' : 's'}, clues: ${answer.clues.length ? answer.clues.join(', ') : 'none'}. ${claims.length} of ${answer.claims.length} claims shown.` });
  const { node, tbody } = table('lookup-table', ['Claim id', 'SKU', 'Status', 'Reason', 'Seq'], 'Claims of the player');
  for (const c of claims) {
    tbody.append(row([c.claim_id, c.sku, c.status, c.reason ?? '', c.seq == null ? '' : String(c.seq)], { class: `status-${c.status}` }));
  }
  replaceChildren(container, summary, node);
}

// The player's claim records from the streamed export, first 1000 lines.
async function loadAuditTrail(container, v) {
  const params = new URLSearchParams({ format: 'jsonl', hunt: v.hunt, player: v.player, type: 'claim', no_proof: 'true' });
  const response = await api.stream(`/v1/audit/export?${params}`);
  const { node, tbody } = table('audit-trail-table', ['Seq', 'Committed', 'Claim id', 'SKU', 'Status', 'Reason', 'Customs'], 'Audit trail');
  let lines = 0;
  let count = 0;
  let footer = null;
  const complete = await readLines(response, (line) => {
    lines += 1;
    const record = JSON.parse(line);
    if (record.type === 'footer') footer = record;
    if (record.type === 'record' && record.record_type === 'claim' && (!v.claim || record.claim_id.includes(v.claim))) {
      count += 1;
      tbody.append(row([String(record.seq), record.committed_at, record.claim_id, record.sku, record.status,
        record.reason ?? '', h('code', { text: customsText(line, record.customs) })]));
    }
    return lines < AUDIT_TRAIL_LINES;
  });
  const note = h('p', { class: 'muted', testid: 'audit-trail-note',
    text: complete ? `Export of journal seq ${fmtInt(footer?.first_seq)}–${fmtInt(footer?.last_seq)}.`
      : `Only the first ${fmtInt(AUDIT_TRAIL_LINES)} lines of the export are shown.` });
  replaceChildren(container, h('h4', { text: 'Audit trail' }), note, node);
  return count;
}

// --- Leaderboard (all roles) --------------------------------------------------

function createLeaderboard(ctx) {
  const select = h('select', { testid: 'lb-hunt' });
  const limit = h('input', { type: 'number', min: '1', max: String(LEADERBOARD_MAX), value: '10', class: 'narrow', testid: 'lb-limit' });
  const lbStatus = status('lb-status');
  const refresh = h('button', { type: 'button', class: 'button secondary', testid: 'lb-refresh', text: 'Refresh', hidden: true });
  const top = table('lb-table', ['Rank', 'Player', 'Score'], 'Top players');
  const aroundPlayer = h('input', { type: 'text', autocomplete: 'off', testid: 'lb-around-player' });
  const aroundStatus = status('lb-around-status');
  const around = table('lb-around-table', ['Rank', 'Player', 'Score'], 'Players around the chosen one');
  const aroundForm = h('form', { class: 'inline-form', novalidate: true },
    field('Player', aroundPlayer), h('button', { type: 'submit', class: 'button', testid: 'lb-around-submit', text: 'Show around player' }));
  const root = viewRoot('leaderboard', 'Leaderboard',
    h('div', { class: 'columns' },
      panel('Top players (live)',
        h('div', { class: 'toolbar' }, field('Hunt', select), field(`Top N (1–${LEADERBOARD_MAX})`, limit), refresh), lbStatus, top.node),
      panel('Around a player', aroundForm, aroundStatus, around.node)));

  let releaseHunts = null;
  let handle = null;
  let huntIds = '';

  let seenHunt = '';   // the chosen hunt's counts at the last reload (roles without pushes)
  let loading = false;
  let reloadAfter = false; // a change came while a reload ran: read once more

  function updateHunts(message) {
    const ids = message.hunts.map((hunt) => hunt.id);
    if (ids.join('\u0000') !== huntIds) {
      huntIds = ids.join('\u0000');
      const chosen = select.value;
      replaceChildren(select, ids.map((id) => h('option', { value: id, text: id })));
      if (ids.includes(chosen)) select.value = chosen;
      if (!ids.length) showMessage(lbStatus, 'No hunts yet.');
      if (select.value !== chosen || !handle) subscribe();
    }
    // A role that may read but not subscribe re-reads the board whenever the
    // chosen hunt's counts moved: the `hunts` push is the signal, no timer.
    if (!refresh.hidden) {
      const now = JSON.stringify(message.hunts.find((hunt) => hunt.id === select.value) ?? null);
      if (now !== seenHunt) {
        seenHunt = now;
        loadTop();
      }
    }
  }

  function chosenLimit() {
    const n = Math.round(Number(limit.value));
    const bounded = Number.isFinite(n) ? Math.min(LEADERBOARD_MAX, Math.max(1, n)) : 10;
    if (String(bounded) !== limit.value) limit.value = String(bounded);
    return bounded;
  }

  function subscribe() {
    handle?.close();
    handle = null;
    const hunt = select.value;
    if (!hunt) return;
    const fields = { topic: 'leaderboard', hunt, limit: chosenLimit() };
    top.tbody.replaceChildren();
    showMessage(lbStatus, 'Waiting for the leaderboard…');
    if (!refresh.hidden) {
      loadTop();
      return;
    }
    handle = ctx.live.subscribe(() => fields, {
      onPush: (message) => renderTop(message),
      onError: (error) => {
        if (error.code !== 'forbidden') {
          showMessage(lbStatus, errorText(error), 'error');
          return;
        }
        // this role may read leaderboards but not subscribe to their pushes
        handle?.close();
        handle = null;
        refresh.hidden = false;
        loadTop();
      },
    });
  }

  async function loadTop() {
    if (!select.value) return;
    if (loading) {
      reloadAfter = true;
      return;
    }
    loading = true;
    try {
      const answer = await api.get(`${apiPath('/v1/hunts/', select.value, '/leaderboard')}?limit=${chosenLimit()}`);
      renderTop(answer);
      showMessage(lbStatus, `As of journal seq ${fmtInt(answer.as_of_seq)} (read again whenever the hunt's counts change).`);
    } catch (error) {
      showMessage(lbStatus, errorText(error), 'error');
    } finally {
      loading = false;
    }
    if (reloadAfter) {
      reloadAfter = false;
      loadTop();
    }
  }

  function renderTop(message) {
    const entries = message.entries.slice(0, LEADERBOARD_MAX);
    top.tbody.replaceChildren(...entries.map((e) => row([String(e.rank), e.player, fmtInt(e.score)], { testid: 'lb-row' })));
    showMessage(lbStatus, `${entries.length ? '' : 'No players yet. '}As of journal seq ${fmtInt(message.as_of_seq)}.`);
  }

  refresh.addEventListener('click', loadTop);
  select.addEventListener('change', subscribe);
  limit.addEventListener('change', subscribe);
  aroundForm.addEventListener('submit', async (event) => {
    event.preventDefault();
    const player = aroundPlayer.value.trim();
    const hunt = select.value;
    if (!player || !hunt) {
      showMessage(aroundStatus, 'Choose a hunt and enter a player.', 'error');
      return;
    }
    try {
      const answer = await api.get(`${apiPath('/v1/hunts/', hunt, '/leaderboard')}?${new URLSearchParams({ limit: '11', around: player })}`);
      around.tbody.replaceChildren(...answer.entries.map((e) => {
        const me = e.player === player;
        return row([String(e.rank), e.player, fmtInt(e.score)],
          { testid: me ? 'lb-around-me' : 'lb-around-row', class: me ? 'highlight' : null, 'aria-current': me ? 'true' : null });
      }));
      showMessage(aroundStatus, answer.entries.length ? `As of journal seq ${fmtInt(answer.as_of_seq)}.`
        : `“${player}” has no events in hunt “${hunt}”.`);
    } catch (error) {
      around.tbody.replaceChildren();
      showMessage(aroundStatus, errorText(error), 'error');
    }
  });

  return {
    root,
    show() {
      releaseHunts = ctx.topics.hunts.acquire(updateHunts);
      if (!handle && select.value) subscribe();
      else if (!refresh.hidden) loadTop();
    },
    hide() {
      releaseHunts?.();
      releaseHunts = null;
      handle?.close();
      handle = null;
    },
  };
}

// --- Audit (auditor, admin) ---------------------------------------------------

function toLocalInput(ms) {
  const d = new Date(ms);
  const pad = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

function createAudit() {
  const from = h('input', { type: 'datetime-local', testid: 'audit-from' });
  const to = h('input', { type: 'datetime-local', testid: 'audit-to' });
  const reportStatus = status('audit-status');
  const chart = h('canvas', { class: 'chart bars', testid: 'audit-chart', role: 'img', 'aria-label': 'Claims and events in the window' });
  const totals = h('p', { testid: 'audit-totals' });
  const claims = table('audit-claims-table', ['Hunt', 'SKU', 'Outcome', 'Count'], 'Claims by hunt, product and outcome');
  const events = table('audit-events-table', ['Hunt', 'Type', 'Count'], 'Events by hunt and type');
  const exportStatus = status('export-status');
  const head = h('input', { type: 'text', readonly: true, class: 'code wide', testid: 'chain-head', 'aria-label': 'Chain head (seq:hash)' });
  const headSource = h('p', { class: 'muted', testid: 'chain-source' });
  const copyStatus = status('chain-copy-status');
  let edited = false;

  const form = h('form', { class: 'toolbar', novalidate: true },
    field('From', from), field('To', to),
    h('button', { type: 'submit', class: 'button', testid: 'audit-run', text: 'Show report' }),
    h('button', { type: 'button', class: 'button secondary', testid: 'audit-last-hour', text: 'Last hour', onclick: () => { edited = false; setLastHour(); } }));
  const root = viewRoot('audit', 'Audit',
    panel('Report for a time window', form, reportStatus, totals, chart,
      h('div', { class: 'columns' }, h('div', {}, h('h4', { text: 'Claims' }), claims.node), h('div', {}, h('h4', { text: 'Events' }), events.node))),
    panel('Export the window',
      h('p', { class: 'muted', text: 'Streams the journal records of the window from the server and saves them as a file; the JSONL export carries the hash-chain proofs (check it with trove audit verify).' }),
      h('div', { class: 'actions' },
        h('button', { type: 'button', class: 'button', testid: 'export-jsonl', text: 'Download JSONL', onclick: () => download('jsonl') }),
        h('button', { type: 'button', class: 'button secondary', testid: 'export-csv', text: 'Download CSV', onclick: () => download('csv') })),
      exportStatus),
    panel('Chain head to record',
      h('p', { class: 'muted', text: 'Keep this seq:hash; later exports can be checked against it with trove audit verify FILE --head SEQ:HASH.' }),
      h('div', { class: 'inline-form' }, head,
        h('button', { type: 'button', class: 'button', testid: 'chain-copy', text: 'Copy', onclick: () => copyHead(head, copyStatus) }),
        h('button', { type: 'button', class: 'button secondary', testid: 'chain-refresh', text: 'Get current head', onclick: () => refreshHead() })),
      headSource, copyStatus));

  from.addEventListener('input', () => { edited = true; });
  to.addEventListener('input', () => { edited = true; });

  function setLastHour() {
    const now = Date.now();
    from.value = toLocalInput(now - 3600 * 1000);
    to.value = toLocalInput(Math.ceil((now + 1) / 60000) * 60000); // the current minute included
  }

  function windowParams() {
    const f = new Date(from.value);
    const t = new Date(to.value);
    if (Number.isNaN(f.getTime()) || Number.isNaN(t.getTime()) || f >= t) return null;
    return { from: f.toISOString(), to: t.toISOString() };
  }

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const w = windowParams();
    if (!w) {
      showMessage(reportStatus, 'Choose a window whose start is before its end.', 'error');
      return;
    }
    showMessage(reportStatus, 'Loading…');
    try {
      const report = await api.get(`/v1/audit/report?${new URLSearchParams(w)}`);
      renderReport(report);
      showMessage(reportStatus, `Window ${fmtTime(report.from_ms)} – ${fmtTime(report.to_ms)}.`);
    } catch (error) {
      showMessage(reportStatus, errorText(error), 'error');
    }
  });

  function renderReport(report) {
    setText(totals, `${fmtInt(report.records)} journal records, ${fmtInt(report.hunts_defined)} hunts defined, ${fmtInt(report.stock_changes)} stock changes.`);
    claims.tbody.replaceChildren(...report.claims.map((c) => row([c.hunt, c.sku, c.outcome, fmtInt(c.count)])));
    events.tbody.replaceChildren(...report.events.map((e) => row([e.hunt, e.type, fmtInt(e.count)])));
    const bars = [
      ...report.claims.map((c) => ({ label: `${c.hunt} · ${c.sku} · ${c.outcome}`, value: c.count, color: c.outcome === 'granted' ? CHART_COLORS.green : CHART_COLORS.red })),
      ...report.events.map((e) => ({ label: `${e.hunt} · ${e.type}`, value: e.count, color: CHART_COLORS.blue })),
    ].sort((a, b) => b.value - a.value).slice(0, 24);
    chart.style.height = `${Math.max(60, bars.length * 26 + 8)}px`;
    drawBarChart(chart, bars);
  }

  async function download(format) {
    const w = windowParams();
    if (!w) {
      showMessage(exportStatus, 'Choose a window whose start is before its end.', 'error');
      return;
    }
    showMessage(exportStatus, 'Exporting…');
    try {
      const { blob, lastLine } = await streamToBlob(await api.stream(`/v1/audit/export?${new URLSearchParams({ format, ...w })}`));
      saveBlob(blob, `trove-export-${w.from}-${w.to}.${format}`.replace(/:/g, '-'));
      showMessage(exportStatus, `Saved ${fmtInt(blob.size)} bytes.`, 'ok');
      const footer = format === 'jsonl' ? parseFooter(lastLine) : null;
      if (footer?.last_seq != null) {
        head.value = chainHeadText(footer.last_seq, footer.last_hash);
        setText(headSource, `From the footer of the export just saved (its records through seq ${fmtInt(footer.last_seq)}).`);
      }
    } catch (error) {
      showMessage(exportStatus, errorText(error), 'error');
    }
  }

  // the last durable block, as `trove verify` prints it and an export reaching
  // the journal's end has in its footer
  async function refreshHead() {
    try {
      const answer = await api.get('/v1/audit/head');
      head.value = answer.head ?? chainHeadText(answer.seq, answer.hash);
      setText(headSource, head.value ? `The journal's head at ${new Date().toLocaleTimeString()}.` : 'The journal is empty: no chain head yet.');
    } catch (error) {
      setText(headSource, errorText(error));
    }
  }

  return {
    root,
    show() {
      if (!edited) setLastHour();
      if (!head.value) refreshHead();
    },
    hide() {},
  };
}

// Reads a streamed body into a Blob, keeping the last line (the JSONL footer).
async function streamToBlob(response) {
  const reader = response.body.getReader();
  const chunks = [];
  let tail = '';
  const decoder = new TextDecoder();
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    chunks.push(value);
    tail = (tail + decoder.decode(value, { stream: true })).slice(-16384);
  }
  const lines = tail.trimEnd().split('\n');
  return { blob: new Blob(chunks, { type: response.headers.get('Content-Type') || 'application/octet-stream' }), lastLine: lines[lines.length - 1] };
}

function parseFooter(line) {
  try {
    const footer = JSON.parse(line);
    return footer.type === 'footer' ? footer : null;
  } catch {
    return null;
  }
}

function saveBlob(blob, filename) {
  const url = URL.createObjectURL(blob);
  const link = h('a', { href: url, download: filename, class: 'visually-hidden' });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

async function copyHead(input, copyStatus) {
  if (!input.value) {
    showMessage(copyStatus, 'Nothing to copy yet.', 'error');
    return;
  }
  try {
    await navigator.clipboard.writeText(input.value);
    showMessage(copyStatus, 'Copied to the clipboard.', 'ok');
  } catch {
    input.focus();
    input.select();
    showMessage(copyStatus, 'Selected: press Ctrl+C (⌘C) to copy.');
  }
}

// ---------------------------------------------------------------------------
// 9. App shell: sign-in, role matrix, navigation.

const VIEWS = [
  { id: 'overview', title: 'Overview', allowed: (can) => can.admin, create: createOverview },
  { id: 'hunts', title: 'Hunts', allowed: (can) => can.read, create: createHunts },
  { id: 'claims', title: 'Claims', allowed: (can) => can.feed || can.audit, create: createClaims },
  { id: 'leaderboard', title: 'Leaderboard', allowed: (can) => can.read, create: createLeaderboard },
  { id: 'audit', title: 'Audit', allowed: (can) => can.audit, create: createAudit },
];

// What the console offers, from the action names of /v1/whoami's `may`.
// "subscribe" covers the dispatch feed and leaderboard pushes (game, admin).
function permissions(may) {
  return {
    admin: may.has('admin'),
    read: may.has('read'),
    design: may.has('design'),
    audit: may.has('audit'),
    feed: may.has('subscribe'),
  };
}

const dom = {
  signin: q(document, 'signin'),
  form: q(document, 'signin-form'),
  key: q(document, 'signin-key'),
  error: q(document, 'signin-error'),
  notice: q(document, 'signin-notice'),
  submit: q(document, 'signin-submit'),
  app: q(document, 'app'),
  nav: q(document, 'nav'),
  views: q(document, 'views'),
  session: q(document, 'session'),
  role: q(document, 'role'),
  wsStatus: q(document, 'ws-status'),
  signOut: q(document, 'sign-out'),
};

let current = null; // the signed-in session: { who, may, live, topics, views, shown }

function showSignIn(notice = '') {
  dom.app.hidden = true;
  dom.session.hidden = true;
  dom.signin.hidden = false;
  dom.notice.hidden = !notice;
  setText(dom.notice, notice);
  dom.error.hidden = true;
  dom.key.value = '';
  dom.submit.disabled = false;
  dom.key.focus();
}

async function signIn(event) {
  event.preventDefault();
  const key = dom.key.value.trim();
  dom.notice.hidden = true;
  if (!key) {
    showSignInError('Enter your key.');
    return;
  }
  dom.submit.disabled = true;
  try {
    const who = await api.get('/v1/whoami', { key });
    session.save(key);
    dom.key.value = '';
    start(who);
  } catch (error) {
    showSignInError(error.status === 401 ? 'This key was not accepted. Check it and try again.' : `Could not sign in: ${errorText(error)}`);
  } finally {
    dom.submit.disabled = false;
  }
}

function showSignInError(text) {
  dom.error.hidden = false;
  setText(dom.error, text);
  dom.key.setAttribute('aria-invalid', 'true');
  dom.key.focus();
}

function start(who) {
  const may = new Set(who.may ?? []);
  const can = permissions(may);
  const live = new LiveSocket((text) => setText(dom.wsStatus, text));
  const ctx = {
    who,
    can,
    live,
    topics: { hunts: new SharedTopic(live, { topic: 'hunts' }), stats: new SharedTopic(live, { topic: 'stats' }) },
    rates: new GrantRates(),
  };
  ctx.topics.hunts.onMessage = (message) => ctx.rates.record(message);
  const views = new Map();
  for (const spec of VIEWS.filter((v) => v.allowed(can))) {
    const view = spec.create(ctx);
    views.set(spec.id, { ...spec, ...view });
    dom.views.append(view.root);
  }
  current = { ...ctx, views, shown: null };
  dom.key.removeAttribute('aria-invalid');
  renderNav(views);
  setText(dom.role, who.role);
  dom.signin.hidden = true;
  dom.session.hidden = false;
  dom.app.hidden = false;
  live.start();
  route();
  dom.nav.querySelector('button[aria-current="page"]')?.focus();
}

function renderNav(views) {
  dom.nav.replaceChildren(...[...views.values()].map((view) => h('li', {},
    h('button', { type: 'button', class: 'nav-button', testid: `nav-${view.id}`, text: view.title,
      onclick: () => { location.hash = view.id; } }))));
}

function route() {
  if (!current) return;
  const wanted = location.hash.slice(1);
  const id = current.views.has(wanted) ? wanted : current.views.keys().next().value;
  if (current.shown === id) return;
  const previous = current.views.get(current.shown);
  if (previous) {
    previous.hide();
    previous.root.hidden = true;
  }
  const view = current.views.get(id);
  view.root.hidden = false;
  view.show();
  current.shown = id;
  for (const button of dom.nav.querySelectorAll('button')) {
    if (button.dataset.testid === `nav-${id}`) button.setAttribute('aria-current', 'page');
    else button.removeAttribute('aria-current');
  }
  document.title = `${view.title} · Trove console`;
}

function stop() {
  if (!current) return;
  current.views.get(current.shown)?.hide();
  current.live.stop();
  dom.views.replaceChildren();
  dom.nav.replaceChildren();
  current = null;
  document.title = 'Trove console';
}

function signOut(notice = '') {
  stop();
  session.clear();
  showSignIn(notice);
}

async function resume() {
  const key = session.key();
  if (!key) {
    showSignIn();
    return;
  }
  try {
    start(await api.get('/v1/whoami', { key }));
  } catch (error) {
    if (error.status === 401) signOut(KEY_INVALID_MESSAGE);
    else showSignIn(`Could not reach the server: ${errorText(error)}`);
  }
}

onUnauthorized = () => {
  if (current) signOut(KEY_INVALID_MESSAGE);
};
dom.form.addEventListener('submit', signIn);
dom.signOut.addEventListener('click', () => signOut());
window.addEventListener('hashchange', route);
resume();
