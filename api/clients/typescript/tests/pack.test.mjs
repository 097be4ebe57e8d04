// `npm pack` gives a package that installs into a clean folder and imports
// (ESM, types present), with its dependencies from the npm cache or registry.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { PKG } from './support.mjs';

test('npm pack installs and imports in a clean folder', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'trove-pack-'));
  try {
    const out = execFileSync('npm', ['pack', '--silent', '--pack-destination', dir], { cwd: PKG, encoding: 'utf8' });
    const tarball = path.join(dir, out.trim().split('\n').at(-1));
    const app = path.join(dir, 'app');
    execFileSync('mkdir', ['-p', app]);
    await writeFile(path.join(app, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'module' }));
    execFileSync('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', tarball], { cwd: app, stdio: 'ignore' });
    assert.ok(existsSync(path.join(app, 'node_modules/@trove/client/dist/index.d.ts')), 'type declarations shipped');
    await writeFile(path.join(app, 'main.mjs'), [
      "import { Client, TroveError, MemoryCursorStore } from '@trove/client';",
      "import { FileCursorStore } from '@trove/client/node';",
      "const e = new TroveError('timeout', 'x');",
      "console.log(typeof Client.connect, e.code, typeof FileCursorStore, typeof MemoryCursorStore);",
    ].join('\n'));
    const printed = execFileSync('node', ['main.mjs'], { cwd: app, encoding: 'utf8' }).trim();
    assert.equal(printed, 'function timeout function function');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
