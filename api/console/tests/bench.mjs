// Console responsiveness benchmark (not a test: it measures, it asserts
// nothing). Opens the console in Debian's chromium against a RUNNING server,
// signs in with KEY, and for each view (overview, claims, hunts,
// leaderboard) measures over SECS seconds while the server is under load:
//
//   - switch_ms: from the nav click to the view visible;
//   - long tasks (>= 50 ms main-thread blocks): count, total and max ms;
//   - frame intervals from requestAnimationFrame: p50, p99, max ms;
//   - DOM nodes, and for the feed the rows in the DOM and rows retained;
//   - the browser's CPU (all chromium processes, from /proc) per second.
//
// Usage: node bench.mjs URL KEY [SECS=10]      (prints one JSON line)
// Run by docs/bench/console.sh, which puts the server under load first.

import { readFileSync, readdirSync } from 'node:fs';
import { launchBrowser, openPage, signIn, showView, sleep } from './support.mjs';

const [url, key, secsArg] = process.argv.slice(2);
if (!url || !key) {
  console.error('usage: node bench.mjs URL KEY [SECS]');
  process.exit(2);
}
const secs = Number(secsArg ?? 10);
const TICK = 100; // USER_HZ: clock ticks per second in /proc/PID/stat on Linux

// CPU seconds of every chromium process (utime + stime).
function browserCpu() {
  let ticks = 0;
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      if (!/chrom/i.test(comm)) continue;
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ticks += Number(fields[11]) + Number(fields[12]);
    } catch {
      // the process ended
    }
  }
  return ticks / TICK;
}

// Installed before any page script: long-task observer and a frame clock.
function instrument() {
  window.__bench = { long: [], frames: [] };
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) window.__bench.long.push(e.duration);
  }).observe({ type: 'longtask', buffered: true });
  let last = performance.now();
  const frame = (t) => {
    window.__bench.frames.push(t - last);
    last = t;
    requestAnimationFrame(frame);
  };
  requestAnimationFrame(frame);
}

const pct = (xs, q) => {
  if (!xs.length) return null;
  const s = [...xs].sort((a, b) => a - b);
  return Math.round(s[Math.min(s.length - 1, Math.floor(q * s.length))] * 10) / 10;
};

const browser = await launchBrowser();
const page = await openPage(browser, { width: 1440, height: 900 });
await page.addInitScript(instrument);
await signIn(page, { url }, key);
const result = { url, secs, views: {} };
for (const view of ['overview', 'claims', 'hunts', 'leaderboard']) {
  const started = performance.now();
  await showView(page, view);
  const switchMs = Math.round((performance.now() - started) * 10) / 10;
  await page.evaluate(() => { window.__bench.long = []; window.__bench.frames = []; });
  const cpu0 = browserCpu();
  await sleep(secs * 1000);
  const cpu1 = browserCpu();
  const m = await page.evaluate(() => ({
    long: window.__bench.long,
    frames: window.__bench.frames,
    dom: document.getElementsByTagName('*').length,
    feedDom: document.querySelectorAll('[data-testid="feed-row"]').length,
    retained: document.querySelector('[data-testid="feed-retained"]')?.textContent ?? null,
  }));
  result.views[view] = {
    switch_ms: switchMs,
    long_tasks: m.long.length,
    long_total_ms: Math.round(m.long.reduce((a, b) => a + b, 0)),
    long_max_ms: m.long.length ? Math.round(Math.max(...m.long)) : 0,
    frame_p50_ms: pct(m.frames, 0.5),
    frame_p99_ms: pct(m.frames, 0.99),
    frame_max_ms: m.frames.length ? Math.round(Math.max(...m.frames)) : null,
    dom_nodes: m.dom,
    feed_rows_in_dom: m.feedDom,
    feed_retained: m.retained,
    browser_cpu_share: Math.round(((cpu1 - cpu0) / secs) * 1000) / 1000,
  };
}
result.problems = page.problems;
console.log(JSON.stringify(result));
await browser.close();
