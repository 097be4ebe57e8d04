// Test harness: a real `trove serve` on a free port and a temporary data
// folder (`startServer`), restartable on the same port and data
// (`server.restart()`), killable with any signal (`server.kill(sig)`).

import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
export const PKG = path.resolve(here, '..');
export const REPO = path.resolve(PKG, '../../..');
export const BIN = process.env.TROVE_BIN || path.join(REPO, 'target/debug/trove');

export const KEYS = {
  admin: 'admin-key-0001',
  game: 'game-key-00001',
  designer: 'designer-key-01',
  auditor: 'auditor-key-001',
};
const KEYS_ENV = Object.entries(KEYS).map(([role, key]) => `${role}:${key}`).join(',');

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

export async function eventually(fn, { timeout = 20000, interval = 50, message = 'condition' } = {}) {
  const deadline = Date.now() + timeout;
  let last;
  for (;;) {
    try {
      const value = await fn();
      if (value) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() >= deadline) throw new Error(`timed out waiting for ${message}${last ? `: ${last.message}` : ''}`);
    await sleep(interval);
  }
}

function spawnTrove(port, data) {
  const child = spawn(BIN, ['serve', '--listen', `127.0.0.1:${port}`, '--data', data], {
    env: { ...process.env, TROVE_KEYS: KEYS_ENV, TROVE_LOG: 'warn' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk) => { stderr = (stderr + chunk).slice(-4000); });
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const url = new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`trove did not start: ${stderr}`)), 60000);
    createInterface({ input: child.stdout }).on('line', (line) => {
      const m = /trove listening on (http:\/\/\S+)/.exec(line);
      if (m) { clearTimeout(timer); resolve(m[1]); }
    });
    exited.then(({ code, signal }) => { clearTimeout(timer); reject(new Error(`trove exited (${code ?? signal}): ${stderr}`)); });
  });
  return { child, exited, url };
}

async function ready(url) {
  await eventually(async () => (await fetch(`${url}/readyz`)).status === 200, { timeout: 60000, interval: 100, message: '/readyz' });
}

/** Starts trove; resolves once /readyz is 200. */
export async function startServer() {
  const data = await mkdtemp(path.join(tmpdir(), 'trove-sdk-'));
  let proc = spawnTrove(0, data);
  const url = await proc.url;
  await ready(url);
  const port = Number(new URL(url).port);
  const server = {
    url, port, data,
    get pid() { return proc.child.pid; },
    kill(signal = 'SIGKILL') { proc.child.kill(signal); },
    async killed(signal = 'SIGKILL') { proc.child.kill(signal); await proc.exited; },
    async restart() {
      await proc.exited;
      for (let i = 0; ; i++) {
        proc = spawnTrove(port, data);
        try { await proc.url; break; } catch (error) { if (i > 20) throw error; await sleep(200); }
      }
      await ready(url);
    },
    async stop() {
      if (proc.child.exitCode === null && proc.child.signalCode === null) {
        proc.child.kill('SIGCONT');
        proc.child.kill('SIGTERM');
        const timer = setTimeout(() => proc.child.kill('SIGKILL'), 15000);
        await proc.exited;
        clearTimeout(timer);
      }
      await rm(data, { recursive: true, force: true });
    },
  };
  return server;
}

/** Admin HTTP call (for setup and checks, independent of the SDK). */
export async function admin(server, method, urlPath, body) {
  const response = await fetch(`${server.url}${urlPath}`, {
    method,
    headers: { Authorization: `Bearer ${KEYS.admin}`, 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const parsed = await response.json().catch(() => null);
  if (!response.ok) throw new Error(`${method} ${urlPath}: ${response.status} ${JSON.stringify(parsed)}`);
  return parsed;
}

/** Every decided claim from the audit trail. */
export async function auditClaims(server) {
  const all = [];
  let after = 0;
  for (;;) {
    const page = await admin(server, 'GET', `/v1/audit/claims?after=${after}&limit=10000`);
    all.push(...page.claims);
    if (page.next_after <= after) return all;
    after = page.next_after;
  }
}

/** Asserts a promise rejects with a TroveError of `code`; returns the error. */
export async function rejectsWith(promise, code) {
  try {
    await promise;
  } catch (error) {
    if (error?.name !== 'TroveError' || error.code !== code) {
      throw new Error(`expected TroveError ${code}, got ${error?.name} ${error?.code}: ${error?.message}`);
    }
    return error;
  }
  throw new Error(`expected TroveError ${code}, but it resolved`);
}
