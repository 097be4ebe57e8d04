// Browser tests of the Trove web console against a real `trove serve`.
//
//   cd api/console/tests && npm ci && node --test
//
// Env: TROVE_BIN (default <repo>/target/debug/trove), CHROMIUM (default
// /usr/bin/chromium), TROVE_CONSOLE_SCREENSHOTS=<dir> to also save a PNG of
// each view at 1440x900.

import assert from 'node:assert/strict';
import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  KEYS, call, claim, countOf, cspViolations, defineHunt, eventually, launchBrowser, openPage, pool,
  showView, signIn, sleep, startServer,
} from './support.mjs';

const XSS_IMG = '<img src=x onerror=window.__xss=1>';
const XSS_SCRIPT = '"><script>window.__xss=1</script>';
const XSS_HUNT = '<img src=x onerror=alert(1)>';

const ROLE_MATRIX = {
  admin: { views: ['overview', 'hunts', 'claims', 'leaderboard', 'audit'], design: true, trail: true },
  game: { views: ['hunts', 'claims', 'leaderboard'], design: false, trail: false },
  designer: { views: ['hunts', 'leaderboard'], design: true, trail: false },
  auditor: { views: ['hunts', 'claims', 'leaderboard', 'audit'], design: false, trail: true },
};
const ALL_VIEWS = ['overview', 'hunts', 'claims', 'leaderboard', 'audit'];

let server;
let browser;
const pages = [];

async function page(options) {
  const p = await openPage(browser, options);
  pages.push(p);
  return p;
}

function assertClean(p) {
  assert.deepEqual(p.problems, [], 'no dialogs, page errors or CSP reports');
}

// simple ids only (the hostile-ids test finds its card by text)
function productRow(p, hunt, sku) {
  return p.locator(`[data-testid="hunt-card"][data-hunt="${hunt}"] [data-testid="product-row"][data-sku="${sku}"]`);
}

async function remainingIs(p, hunt, sku, expected, timeout) {
  const row = productRow(p, hunt, sku);
  await eventually(async () => countOf(await row.getByTestId('remaining').textContent({ timeout: 200 })) === expected,
    { timeout, interval: 25, message: `${hunt}/${sku} remaining ${expected}` });
}

before(async () => {
  server = await startServer();
  browser = await launchBrowser();
  await defineHunt(server, {
    id: 'harbour',
    name: 'Harbour Lights',
    clues: [{ id: 'c1', points: 10 }, { id: 'c2', points: 20 }],
    products: [{ sku: 'mug', stock: 20, per_player_limit: 5 }, { sku: 'hoodie', stock: 3, min_score: 10 }],
  });
});

after(async () => {
  for (const p of pages) await p.context().close().catch(() => {});
  await browser?.close();
  await server?.destroy();
});

describe('console', () => {
  test('each role sees exactly the views and controls it may use', async () => {
    for (const [role, expected] of Object.entries(ROLE_MATRIX)) {
      const p = await page();
      await signIn(p, server, role);
      assert.equal(await p.getByTestId('role').textContent(), role);
      for (const view of ALL_VIEWS) {
        assert.equal(await p.getByTestId(`nav-${view}`).count(), expected.views.includes(view) ? 1 : 0, `${role}: nav ${view}`);
      }
      for (const view of ALL_VIEWS.filter((v) => !expected.views.includes(v))) {
        await p.evaluate((id) => { location.hash = id; }, view); // not even by URL
        await sleep(50);
        assert.equal(await p.getByTestId(`view-${view}`).count(), 0, `${role}: no ${view} view`);
      }
      await showView(p, 'leaderboard');
      await p.getByTestId('lb-status').filter({ hasText: 'As of journal seq' }).waitFor();
      await showView(p, 'hunts');
      await p.getByTestId('hunt-card').first().waitFor();
      assert.equal(await p.getByTestId('define-hunt-form').count(), expected.design ? 1 : 0, `${role}: define hunt`);
      assert.equal(await p.getByTestId('stock-add-button').count() > 0, expected.design, `${role}: add stock`);
      if (expected.views.includes('claims')) {
        await showView(p, 'claims');
        assert.equal(await p.getByTestId('audit-trail-button').count(), expected.trail ? 1 : 0, `${role}: audit trail`);
      }
      await p.getByTestId('sign-out').click();
      await p.getByTestId('signin-form').waitFor();
      assert.equal(await p.evaluate(() => sessionStorage.length), 0, 'sign-out clears the key');
      assertClean(p);
      await p.context().close();
    }
  });

  test('a designer defines a hunt in the form (errors at the field) and adds stock after confirming', async () => {
    const p = await page();
    await signIn(p, server, 'designer');
    await showView(p, 'hunts');
    await p.getByTestId('define-hunt-toggle').click();
    const json = p.getByTestId('hunt-json');
    const fieldError = p.getByTestId('hunt-field-error');

    await json.fill('{\n  "id": "lanterns",\n  "products": [\n    {"sku": "lamp" "stock": 5}\n  ]\n}');
    await p.getByTestId('hunt-define').click();
    await fieldError.filter({ hasText: /line 4, column \d+/ }).waitFor({ timeout: 2000 });

    const tooMuch = { id: 'lanterns', products: [{ sku: 'lamp', stock: 5 }, { sku: 'wick', stock: 2 ** 48 + 1 }] };
    await json.fill(JSON.stringify(tooMuch, null, 2));
    await p.getByTestId('hunt-define').click();
    await fieldError.filter({ hasText: 'products[1].stock: ' }).waitFor({ timeout: 2000 });
    assert.equal(await json.getAttribute('aria-invalid'), 'true');

    const hunt = { id: 'lanterns', name: 'Lantern Walk', products: [{ sku: 'lamp', stock: 5 }, { sku: 'wick', stock: 2 }] };
    await json.fill(JSON.stringify(hunt, null, 2));
    await p.getByTestId('hunt-define').click();
    await p.getByTestId('hunt-define-result').filter({ hasText: 'defined at seq' }).waitFor({ timeout: 2000 });
    assert.equal(await fieldError.isVisible(), false);
    await remainingIs(p, 'lanterns', 'lamp', 5, 3000);

    const lamp = productRow(p, 'lanterns', 'lamp');
    await lamp.getByTestId('stock-add-input').fill('7');
    await lamp.getByTestId('stock-add-button').click();
    const dialog = p.getByTestId('confirm-dialog');
    await dialog.waitFor({ state: 'visible' });
    assert.match(await p.getByTestId('confirm-text').textContent(), /Add 7 units .*lamp.*lanterns/);
    await p.getByTestId('confirm-cancel').click();
    await dialog.waitFor({ state: 'hidden' });
    await lamp.getByTestId('stock-result').filter({ hasText: 'Cancelled' }).waitFor();

    await lamp.getByTestId('stock-add-button').click();
    await p.getByTestId('confirm-ok').click();
    await lamp.getByTestId('stock-result').filter({ hasText: '12 remaining' }).waitFor({ timeout: 3000 });
    await remainingIs(p, 'lanterns', 'lamp', 12, 3000);
    const server_view = await call(server, 'designer', 'GET', '/v1/hunts/lanterns');
    assert.equal(server_view.body.products[0].remaining, 12);
    assertClean(p);
  });

  test('granted claims appear in the feed and the stock bar goes down within 1 s', async () => {
    await defineHunt(server, { id: 'drop', products: [{ sku: 'badge', stock: 10 }] });
    const feedPage = await page();
    await signIn(feedPage, server, 'game');
    await showView(feedPage, 'claims');
    await feedPage.getByTestId('feed-status').filter({ hasText: 'live' }).waitFor();
    const huntsPage = await page();
    await signIn(huntsPage, server, 'admin');
    await showView(huntsPage, 'hunts');
    await remainingIs(huntsPage, 'drop', 'badge', 10, 3000);
    const bar = productRow(huntsPage, 'drop', 'badge').locator('.bar-fill');

    for (let i = 1; i <= 5; i += 1) {
      const id = `drop-claim-${i}`;
      const answer = await claim(server, { claim_id: id, player: `runner-${i}`, hunt: 'drop', sku: 'badge', customs: { n: i } });
      assert.equal(answer.status, 'granted');
      await feedPage.getByTestId('feed-row').filter({ hasText: id }).first().waitFor({ timeout: 1000 });
      await remainingIs(huntsPage, 'drop', 'badge', 10 - i, 1000);
    }
    assert.equal(parseFloat(await bar.evaluate((el) => el.style.width)), 50);
    const newest = await feedPage.getByTestId('feed-row').first().textContent();
    assert.match(newest, /drop-claim-5/);
    assert.match(newest, /runner-5/);
    assertClean(feedPage);
    assertClean(huntsPage);
  });

  test('roles without pushes still follow live: the auditor\'s audit trail and the designer\'s leaderboard', async () => {
    await defineHunt(server, {
      id: 'trail', clues: [{ id: 'x', points: 5 }], products: [{ sku: 'pin', stock: 1 }],
    });
    const auditor = await page();
    await signIn(auditor, server, 'auditor');
    await showView(auditor, 'claims');
    await auditor.getByTestId('feed-status').filter({ hasText: 'live' }).waitFor({ timeout: 3000 });
    const designer = await page();
    await signIn(designer, server, 'designer');
    await showView(designer, 'leaderboard');
    await designer.getByTestId('lb-hunt').selectOption('trail');

    // Decided claims, granted and rejected, appear for the auditor after the push.
    const granted = await claim(server, { claim_id: 'trail-1', player: 'tr-1', hunt: 'trail', sku: 'pin' });
    const rejected = await claim(server, { claim_id: 'trail-2', player: 'tr-2', hunt: 'trail', sku: 'pin' });
    assert.deepEqual([granted.status, rejected.reason], ['granted', 'out_of_stock']);
    await auditor.getByTestId('feed-row').filter({ hasText: 'trail-1' }).filter({ hasText: 'granted' }).waitFor({ timeout: 3000 });
    await auditor.getByTestId('feed-row').filter({ hasText: 'trail-2' }).filter({ hasText: 'out_of_stock' }).waitFor({ timeout: 3000 });
    assert.match(await auditor.getByTestId('feed-row').first().textContent(), /trail-2/, 'newest first');

    // The designer's board is read again when the hunt's counts move.
    const { status } = await call(server, 'game', 'POST', '/v1/events',
      { events: [{ player: 'scorer', hunt: 'trail', type: 'clue_found', clue: 'x' }] });
    assert.equal(status, 200);
    await designer.getByTestId('lb-row').filter({ hasText: 'scorer' }).waitFor({ timeout: 3000 });
    assertClean(auditor);
    assertClean(designer);
  });

  test('the consistency check passes: pushed state and an explicit run', async () => {
    const p = await page();
    await signIn(p, server, 'admin');
    await showView(p, 'overview');
    await p.getByTestId('stat-connections').filter({ hasText: /^\d/ }).waitFor({ timeout: 3000 });
    // pushed state: the check the server ran at startup
    await p.getByTestId('fact-consistency').filter({ hasText: /^passed at seq/ }).waitFor({ timeout: 3000 });
    await p.getByTestId('consistency-verdict').filter({ hasText: /^ok/ }).waitFor();
    await p.getByTestId('fact-ready').filter({ hasText: /^ready/ }).waitFor();

    await p.getByTestId('consistency-run-button').click();
    const runStatus = p.getByTestId('consistency-run-status');
    await runStatus.filter({ hasText: /^Checked at journal seq [\d,]+: ok\.$/ }).waitFor({ timeout: 10000 });
    const seq = /seq ([\d,]+)/.exec(await runStatus.textContent())[1];
    const checks = await p.getByTestId('consistency-checks').locator('li').allTextContents();
    assert.ok(checks.length >= 5, 'each check is listed');
    assert.ok(checks.every((c) => c.startsWith('ok')), checks.join('\n'));
    assert.ok(checks.some((c) => c.includes('journal_replay')));
    // the next stats push carries that run
    await p.getByTestId('fact-consistency').filter({ hasText: `passed at seq ${seq},` }).waitFor({ timeout: 3000 });
    await p.getByTestId('consistency-verdict').filter({ hasText: `ok: every check passed at journal seq ${seq}` }).waitFor();
    assertClean(p);
  });

  test('a wrong key is refused on the form and stores nothing; a revoked key returns to sign-in', async () => {
    const p = await page();
    await p.goto(`${server.url}/console/`);
    await p.getByTestId('signin-key').fill('not-a-real-key-000');
    await p.getByTestId('signin-submit').click();
    await p.getByTestId('signin-error').filter({ hasText: 'not accepted' }).waitFor({ timeout: 3000 });
    assert.equal(await p.getByTestId('signin-form').isVisible(), true);
    assert.equal(await p.getByTestId('app').isVisible(), false);
    assert.equal(await p.evaluate(() => sessionStorage.length), 0);

    const own = await startServer();
    try {
      const q = await page();
      await signIn(q, own, 'admin');
      await q.getByTestId('ws-status').filter({ hasText: 'live' }).waitFor({ timeout: 5000 });
      assert.equal(await q.evaluate(() => Object.values(sessionStorage).length), 1);
      await own.stop();
      const restarted = await startServer({ dataDir: own.dataDir, port: own.port, keys: 'admin:another-admin-key-9' });
      try {
        await q.getByTestId('signin-notice').filter({ hasText: 'Your key is no longer valid; sign in again' })
          .waitFor({ timeout: 30000 });
        assert.equal(await q.getByTestId('app').isVisible(), false);
        assert.equal(await q.evaluate(() => sessionStorage.length), 0);
        assertClean(q);
      } finally {
        await restarted.destroy();
      }
    } finally {
      await own.destroy();
    }
    assertClean(p);
  });

  test('hostile ids, names and customs render as literal text everywhere', async () => {
    const p = await page();
    await defineHunt(server, {
      id: XSS_HUNT,
      name: XSS_SCRIPT,
      clues: [{ id: XSS_IMG, points: 5 }],
      products: [{ sku: XSS_IMG, stock: 10, per_player_limit: 3 }],
    });
    await call(server, 'game', 'POST', '/v1/events', { events: [{ player: XSS_IMG, hunt: XSS_HUNT, type: 'clue_found', clue: XSS_IMG }] });
    await claim(server, { claim_id: XSS_SCRIPT, player: XSS_IMG, hunt: XSS_HUNT, sku: XSS_IMG, customs: { note: XSS_IMG, [XSS_SCRIPT]: XSS_SCRIPT } });
    await claim(server, { claim_id: XSS_IMG, player: XSS_SCRIPT, hunt: XSS_HUNT, sku: XSS_IMG });

    await signIn(p, server, 'admin');
    await showView(p, 'hunts');
    const card = p.getByTestId('hunt-card').filter({ hasText: XSS_HUNT });
    await card.waitFor();
    assert.ok((await card.locator('h3').textContent()).includes(`${XSS_SCRIPT} (${XSS_HUNT})`));
    assert.equal(await card.getByTestId('product-row').locator('th').textContent(), XSS_IMG);

    await showView(p, 'claims');
    const row = p.getByTestId('feed-row').filter({ hasText: '"note"' }).first();
    await row.waitFor({ timeout: 3000 });
    const cells = await row.locator('.cell').allTextContents();
    assert.ok(cells.includes(XSS_HUNT) && cells.includes(XSS_IMG) && cells.includes(XSS_SCRIPT), cells.join(' | '));
    assert.ok(cells.some((c) => c.includes('"note":"<img src=x onerror=window.__xss=1>"')), cells.join(' | '));

    await p.getByTestId('lookup-hunt').fill(XSS_HUNT);
    await p.getByTestId('lookup-player').fill(XSS_IMG);
    await p.getByTestId('lookup-submit').click();
    const lookup = p.getByTestId('lookup-table');
    await lookup.locator('tbody tr').first().waitFor({ timeout: 3000 });
    assert.equal(await lookup.locator('tbody td').first().textContent(), XSS_SCRIPT);
    await p.getByTestId('audit-trail-button').click();
    const trail = p.getByTestId('audit-trail-table');
    await trail.locator('tbody tr').first().waitFor({ timeout: 3000 });
    const trailText = await trail.locator('tbody').textContent();
    assert.ok(trailText.includes(XSS_SCRIPT) && trailText.includes(`"note":"${XSS_IMG}"`), trailText);

    await showView(p, 'leaderboard');
    await p.getByTestId('lb-hunt').selectOption(XSS_HUNT);
    const top = p.getByTestId('lb-row').filter({ hasText: XSS_IMG });
    await top.waitFor({ timeout: 3000 });
    await p.getByTestId('lb-around-player').fill(XSS_IMG);
    await p.getByTestId('lb-around-submit').click();
    await p.getByTestId('lb-around-me').filter({ hasText: XSS_IMG }).waitFor({ timeout: 3000 });

    await showView(p, 'hunts');
    await p.getByTestId('hunts-filter').fill(XSS_HUNT);
    assert.equal(await p.locator('img').count(), 0, 'no <img> element anywhere');
    assert.equal(await p.locator('script').count(), 1, 'only the console module script');
    assert.equal(await p.evaluate(() => typeof window.__xss), 'undefined');
    assertClean(p);
  });

  test('security headers are set and the page runs with zero CSP violations', async () => {
    const response = await fetch(`${server.url}/console/`);
    assert.equal(response.status, 200);
    const csp = response.headers.get('content-security-policy') ?? '';
    assert.ok(csp.includes("frame-ancestors 'none'"), csp);
    const scriptSrc = csp.split(';').map((d) => d.trim()).find((d) => d.startsWith('script-src')) ?? '';
    assert.ok(scriptSrc && !scriptSrc.includes('unsafe-inline') && !scriptSrc.includes('unsafe-eval'), scriptSrc);
    assert.equal(response.headers.get('x-content-type-options'), 'nosniff');
    for (const file of ['console.js', 'console.css']) {
      const asset = await fetch(`${server.url}/console/${file}`);
      assert.equal(asset.status, 200, file);
      assert.equal(asset.headers.get('x-content-type-options'), 'nosniff');
    }

    const p = await page();
    await signIn(p, server, 'admin');
    for (const view of ALL_VIEWS) await showView(p, view);
    await sleep(1200); // a few pushes rendered in the last view
    assert.deepEqual(await cspViolations(p), []);
    assertClean(p);
  });

  test('works by keyboard and has no horizontal overflow from 768 to 1440 px wide', async () => {
    for (const [width, height] of [[768, 1024], [1440, 900]]) {
      const p = await page({ width, height });
      await signIn(p, server, 'admin');
      for (const view of ALL_VIEWS) {
        await showView(p, view);
        await sleep(150);
        const [scrollWidth, clientWidth] = await p.evaluate(() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]);
        assert.ok(scrollWidth <= clientWidth, `${view} at ${width}px: scrollWidth ${scrollWidth} > ${clientWidth}`);
      }
      assertClean(p);
    }

    const p = await page();
    await p.goto(`${server.url}/console/`);
    await p.getByTestId('signin-key').waitFor();
    assert.equal(await p.evaluate(() => document.activeElement?.dataset.testid), 'signin-key', 'the key field has focus');
    await p.keyboard.type(KEYS.designer);
    await p.keyboard.press('Tab');
    assert.equal(await p.evaluate(() => document.activeElement?.dataset.testid), 'signin-submit');
    await p.keyboard.press('Enter');
    await p.getByTestId('role').filter({ hasText: 'designer' }).waitFor();
    assert.equal(await p.evaluate(() => document.activeElement?.dataset.testid), 'nav-hunts');
    await p.keyboard.press('Tab');
    await p.keyboard.press('Enter');
    await p.getByTestId('view-leaderboard').waitFor({ state: 'visible' });
    await p.keyboard.press('Shift+Tab');
    await p.keyboard.press('Enter');
    await p.getByTestId('view-hunts').waitFor({ state: 'visible' });

    // add stock by keyboard: Enter in the input opens the dialog, Escape closes it
    const input = productRow(p, 'harbour', 'mug').getByTestId('stock-add-input');
    await input.focus();
    await p.keyboard.type('2');
    await p.keyboard.press('Enter');
    await p.getByTestId('confirm-dialog').waitFor({ state: 'visible' });
    assert.equal(await p.evaluate(() => document.activeElement?.dataset.testid), 'confirm-cancel');
    await p.keyboard.press('Escape');
    await p.getByTestId('confirm-dialog').waitFor({ state: 'hidden' });
    await input.press('Enter');
    await p.keyboard.press('Shift+Tab');
    assert.equal(await p.evaluate(() => document.activeElement?.dataset.testid), 'confirm-ok');
    await p.keyboard.press('Enter');
    await productRow(p, 'harbour', 'mug').getByTestId('stock-result').filter({ hasText: 'remaining' }).waitFor({ timeout: 3000 });
    assertClean(p);
  });

  test('the feed stays bounded and virtualised under 6,000 claims', async () => {
    await defineHunt(server, { id: 'flood', products: [{ sku: 'token', stock: 100000 }] });
    const p = await page();
    await signIn(p, server, 'admin');
    await showView(p, 'claims');
    await p.getByTestId('feed-status').filter({ hasText: 'live' }).waitFor();
    const total = 6000;
    const tasks = Array.from({ length: total }, (_, i) => () => claim(server, { claim_id: `f-${i}`, player: `flood-${i}`, hunt: 'flood', sku: 'token' }));
    const answers = await pool(tasks, 32);
    assert.ok(answers.every((a) => a.status === 'granted'));
    await eventually(async () => countOf(await p.getByTestId('feed-retained').textContent()) === 5000,
      { timeout: 30000, message: 'feed to keep 5,000 rows' });
    const last = answers.reduce((a, b) => (a.seq > b.seq ? a : b));
    await p.getByTestId('feed-row').first().filter({ hasText: last.claim_id }).waitFor({ timeout: 5000 });
    const domRows = await p.getByTestId('feed-row').count();
    assert.ok(domRows > 0 && domRows < 100, `${domRows} rows in the DOM`);

    // paused: new rows wait (counted), resume shows them
    await p.getByTestId('feed-pause').click();
    await claim(server, { claim_id: 'after-pause', player: 'flood-late', hunt: 'flood', sku: 'token' });
    await eventually(async () => countOf(await p.getByTestId('feed-waiting').textContent()) === 1, { timeout: 3000, message: 'one waiting row' });
    assert.equal(await p.getByTestId('feed-row').filter({ hasText: 'after-pause' }).count(), 0);
    await p.getByTestId('feed-pause').click();
    await p.getByTestId('feed-row').first().filter({ hasText: 'after-pause' }).waitFor({ timeout: 2000 });
    assert.equal(countOf(await p.getByTestId('feed-retained').textContent()), 5000);
    assertClean(p);
  });

  test('an auditor reads the report, downloads the JSONL export and records the chain head', async () => {
    const p = await page();
    await p.context().grantPermissions(['clipboard-read', 'clipboard-write'], { origin: server.url });
    await signIn(p, server, 'auditor');
    await showView(p, 'audit');
    await p.getByTestId('audit-run').click();
    const claims = p.getByTestId('audit-claims-table');
    await claims.locator('tbody tr').first().waitFor();
    assert.match(await claims.textContent(), /drop\s*badge\s*granted\s*5/);

    // the head the console finds is the footer of a full export taken now
    const full = await call(server, 'auditor', 'GET', '/v1/audit/export?format=jsonl');
    const footer = JSON.parse(full.body.trim().split('\n').pop());
    const head = `${footer.last_seq}:${footer.last_hash}`;
    await p.getByTestId('chain-refresh').click();
    await eventually(async () => (await p.getByTestId('chain-head').inputValue()) === head, { message: `chain head ${head}` });
    await p.getByTestId('chain-copy').click();
    await p.getByTestId('chain-copy-status').filter({ hasText: 'Copied' }).waitFor();
    assert.equal(await p.evaluate(() => navigator.clipboard.readText()), head);

    const [download] = await Promise.all([p.waitForEvent('download'), p.getByTestId('export-jsonl').click()]);
    assert.match(download.suggestedFilename(), /^trove-export-.*\.jsonl$/);
    const lines = (await readFile(await download.path(), 'utf8')).trim().split('\n').map((l) => JSON.parse(l));
    assert.equal(lines[0].type, 'header');
    const last = lines[lines.length - 1];
    assert.equal(last.type, 'footer');
    assert.ok(lines.some((l) => l.record_type === 'claim' && l.claim_id === 'drop-claim-1'));
    await eventually(async () => (await p.getByTestId('chain-head').inputValue()) === `${last.last_seq}:${last.last_hash}`,
      { message: 'chain head from the export footer' });
    const [csv] = await Promise.all([p.waitForEvent('download'), p.getByTestId('export-csv').click()]);
    assert.match(await readFile(await csv.path(), 'utf8'), /^seq,committed_at,/);
    assertClean(p);
  });

  test('screenshots of every view (when TROVE_CONSOLE_SCREENSHOTS is set)', { skip: !process.env.TROVE_CONSOLE_SCREENSHOTS }, async () => {
    const dir = path.resolve(process.env.TROVE_CONSOLE_SCREENSHOTS);
    await mkdir(dir, { recursive: true });
    const own = await startServer();
    try {
      await screenshots(own, dir);
    } finally {
      await own.destroy();
    }
  });
});

// A small, plausible data set and some live traffic, then one PNG per view.
async function screenshots(own, dir) {
  await defineHunt(own, {
    id: 'harbour',
    name: 'Harbour Lights Treasure Hunt',
    opens_at: '2024-01-01T00:00:00Z',
    closes_at: '2099-12-31T23:59:59Z',
    clues: [{ id: 'lighthouse', points: 10 }, { id: 'old-anchor', points: 20 }, { id: 'clock-tower', points: 50 }],
    products: [
      { sku: 'mug', stock: 500, per_player_limit: 1 },
      { sku: 'hoodie', stock: 50, per_player_limit: 1, min_score: 50 },
      { sku: 'golden-compass', stock: 1, per_player_limit: 1, min_score: 80 },
    ],
  });
  await defineHunt(own, { id: 'night-market', name: 'Night Market', products: [{ sku: 'lantern', stock: 200, per_player_limit: 2 }] });
  const players = ['ana', 'ben', 'chloe', 'dev', 'eli', 'fay', 'gus', 'hana', 'ivo', 'jun', 'kai', 'lea'];
  const clues = ['lighthouse', 'old-anchor', 'clock-tower'];
  await call(own, 'game', 'POST', '/v1/events', {
    events: players.flatMap((player, i) => clues.slice(0, 1 + (i % 3)).map((clue) => ({ player, hunt: 'harbour', type: 'clue_found', clue }))),
  });
  let n = 0;
  const traffic = async (until) => {
    while (Date.now() < until) {
      const player = `visitor-${n}`;
      n += 1;
      await call(own, 'game', 'POST', '/v1/events', { events: [{ player, hunt: 'harbour', type: 'clue_found', clue: clues[n % 3] }] });
      await claim(own, { claim_id: `${player}-mug`, player, hunt: 'harbour', sku: 'mug', customs: { name: player, country: 'NL' } });
      await claim(own, { claim_id: `${player}-hoodie`, player, hunt: 'harbour', sku: 'hoodie' });
      await claim(own, { claim_id: `${player}-lantern`, player, hunt: 'night-market', sku: 'lantern' });
      await sleep(40);
    }
  };
  for (const player of players.slice(0, 6)) {
    await claim(own, { claim_id: `${player}-mug-1`, player, hunt: 'harbour', sku: 'mug', customs: { name: player, country: 'NL' } });
  }
  const p = await page();
  await p.goto(`${own.url}/console/`);
  await p.screenshot({ path: path.join(dir, 'signin.png') });
  await signIn(p, own, 'admin');
  await showView(p, 'overview');
  const blur = () => p.evaluate(() => document.activeElement?.blur());
  await blur();
  const running = traffic(Date.now() + 14000);
  await sleep(8000);
  await p.getByTestId('consistency-run-button').click();
  await p.getByTestId('consistency-run-status').filter({ hasText: 'Checked' }).waitFor();
  await sleep(1000); // the next push carries the run
  await blur();
  await p.screenshot({ path: path.join(dir, 'overview.png'), fullPage: true });
  await showView(p, 'hunts');
  await sleep(2500);
  await blur();
  await p.screenshot({ path: path.join(dir, 'hunts.png'), fullPage: true });
  await running;
  await showView(p, 'claims');
  await p.getByTestId('feed-row').first().waitFor();
  await p.getByTestId('lookup-hunt').fill('harbour');
  await p.getByTestId('lookup-player').fill('visitor-3');
  await p.getByTestId('lookup-submit').click();
  await p.getByTestId('lookup-table').locator('tbody tr').first().waitFor();
  await p.getByTestId('audit-trail-button').click();
  await p.getByTestId('audit-trail-table').locator('tbody tr').first().waitFor();
  await blur();
  await p.screenshot({ path: path.join(dir, 'claims.png'), fullPage: true });
  await showView(p, 'leaderboard');
  await p.getByTestId('lb-hunt').selectOption('harbour');
  await p.getByTestId('lb-row').first().waitFor();
  await p.getByTestId('lb-around-player').fill('chloe');
  await p.getByTestId('lb-around-submit').click();
  await p.getByTestId('lb-around-me').waitFor();
  await blur();
  await p.screenshot({ path: path.join(dir, 'leaderboard.png'), fullPage: true });
  await showView(p, 'audit');
  await p.getByTestId('audit-run').click();
  await p.getByTestId('audit-claims-table').locator('tbody tr').first().waitFor();
  await p.getByTestId('chain-head').inputValue();
  await blur();
  await p.screenshot({ path: path.join(dir, 'audit.png'), fullPage: true });
  assertClean(p);
}
