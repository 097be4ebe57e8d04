// Helpers for the console tests: a real `trove serve` per test file, an HTTP
// client for the API (Node's fetch), a chromium page that records what must
// never happen (dialogs, page errors, CSP violations), and polling waits.

import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { startAssetProxy } from './asset-proxy.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
export const REPO = path.resolve(here, '../../..');

export const KEYS = {
  admin: 'admin-key-0001',
  game: 'game-key-00001',
  designer: 'designer-key-01',
  auditor: 'auditor-key-001',
};
export const KEYS_ENV = Object.entries(KEYS).map(([role, key]) => `${role}:${key}`).join(',');

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// Polls fn until it returns a truthy value; throws the last error/message at the deadline.
export async function eventually(fn, { timeout = 5000, interval = 50, message = 'condition' } = {}) {
  const deadline = Date.now() + timeout;
  let last;
  for (;;) {
    try {
      const value = await fn();
      if (value) return value;
      last = null;
    } catch (error) {
      last = error;
    }
    if (Date.now() >= deadline) {
      throw new Error(`timed out after ${timeout} ms waiting for ${message}${last ? `: ${last.message}` : ''}`);
    }
    await sleep(interval);
  }
}

// Starts `trove serve` on a fresh (or given) data folder; resolves once /readyz is 200.
export async function startServer({ keys = KEYS_ENV, dataDir, port = 0 } = {}) {
  const bin = process.env.TROVE_BIN || path.join(REPO, 'target/debug/trove');
  const data = dataDir ?? await mkdtemp(path.join(tmpdir(), 'trove-console-'));
  const child = spawn(bin, ['serve', '--listen', `127.0.0.1:${port}`, '--data', data], {
    env: { ...process.env, TROVE_KEYS: keys, TROVE_LOG: 'warn' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk) => { stderr = (stderr + chunk).slice(-4000); });
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const url = await new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stdout });
    const timer = setTimeout(() => reject(new Error(`trove did not start within 60 s: ${stderr}`)), 60000);
    lines.on('line', (line) => {
      const m = /trove listening on (http:\/\/\S+)/.exec(line);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    exited.then(({ code }) => {
      clearTimeout(timer);
      reject(new Error(`trove exited (${code}) before listening: ${stderr}`));
    });
  });
  child.stdout.resume();
  await eventually(async () => (await fetch(`${url}/readyz`)).status === 200, { timeout: 60000, interval: 100, message: '/readyz' });
  const proxy = process.env.TROVE_CONSOLE_ASSETS ? await startAssetProxy(url, path.resolve(process.env.TROVE_CONSOLE_ASSETS)) : null;
  const server = {
    url: proxy ? proxy.url : url,
    port: Number(new URL(url).port),
    dataDir: data,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 15000);
        await exited;
        clearTimeout(timer);
      }
    },
    async destroy() {
      await server.stop();
      await proxy?.close();
      if (!dataDir) await rm(data, { recursive: true, force: true });
    },
  };
  return server;
}

// One call to the API; resolves { status, body }.
export async function call(server, role, method, urlPath, body) {
  const response = await fetch(`${server.url}${urlPath}`, {
    method,
    headers: { Authorization: `Bearer ${KEYS[role] ?? role}`, 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  let parsed = null;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = text;
  }
  return { status: response.status, body: parsed, headers: response.headers };
}

export async function defineHunt(server, hunt) {
  const { status, body } = await call(server, 'admin', 'POST', '/v1/hunts', hunt);
  if (status !== 200 && status !== 201) throw new Error(`define ${hunt.id}: ${status} ${JSON.stringify(body)}`);
  return body;
}

export async function claim(server, fields) {
  const { status, body } = await call(server, 'game', 'POST', '/v1/claims', fields);
  if (status !== 200) throw new Error(`claim: ${status} ${JSON.stringify(body)}`);
  return body;
}

// Runs tasks (functions returning promises) with at most `limit` at a time.
export async function pool(tasks, limit) {
  const results = new Array(tasks.length);
  let next = 0;
  const worker = async () => {
    while (next < tasks.length) {
      const i = next;
      next += 1;
      results[i] = await tasks[i]();
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, tasks.length) }, worker));
  return results;
}

export async function launchBrowser() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox'],
  });
}

// A fresh context and page that record dialogs, page errors, console errors
// and CSP violations in `page.problems` (tests assert it stays empty).
export async function openPage(browser, { width = 1440, height = 900 } = {}) {
  const context = await browser.newContext({ viewport: { width, height } });
  await context.addInitScript(() => {
    window.__cspViolations = [];
    document.addEventListener('securitypolicyviolation', (event) => {
      window.__cspViolations.push(`${event.violatedDirective} ${event.blockedURI}`);
    });
  });
  const page = await context.newPage();
  page.setDefaultTimeout(10000);
  page.problems = [];
  page.on('dialog', async (dialog) => {
    page.problems.push(`dialog fired: ${dialog.type()} ${dialog.message()}`);
    await dialog.dismiss().catch(() => {});
  });
  page.on('pageerror', (error) => page.problems.push(`page error: ${error.message}`));
  page.on('console', (message) => {
    if (/Content.Security.Policy|Refused to/i.test(message.text())) page.problems.push(`console: ${message.text()}`);
  });
  return page;
}

// roleOrKey: a role of KEYS, or a key itself (then any role will do)
export async function signIn(page, server, roleOrKey) {
  await page.goto(`${server.url}/console/`);
  await page.getByTestId('signin-key').fill(KEYS[roleOrKey] ?? roleOrKey);
  await page.getByTestId('signin-key').press('Enter');
  await page.getByTestId('app').waitFor({ state: 'visible', timeout: 10000 });
  if (KEYS[roleOrKey]) await page.getByTestId('role').filter({ hasText: roleOrKey }).waitFor({ timeout: 5000 });
}

export async function showView(page, id) {
  await page.getByTestId(`nav-${id}`).click();
  await page.getByTestId(`view-${id}`).waitFor({ state: 'visible', timeout: 5000 });
}

export async function cspViolations(page) {
  return page.evaluate(() => window.__cspViolations);
}

export function countOf(text) {
  return Number(String(text).replace(/[^0-9]/g, ''));
}
