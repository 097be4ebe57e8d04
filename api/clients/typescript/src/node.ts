// Node-only helpers: `FileCursorStore`, a `CursorStore` in a file, written
// atomically (temp file, fsync, rename, fsync of the folder) so a consumer
// resumes after its own restart or a power cut.

import { open, readFile, rename } from 'node:fs/promises';
import path from 'node:path';
import type { CursorStore } from './feed.js';

export class FileCursorStore implements CursorStore {
  constructor(readonly file: string) {}

  async load(): Promise<number | null> {
    let text: string;
    try {
      text = await readFile(this.file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw error;
    }
    const cursor = Number(JSON.parse(text).cursor);
    if (!Number.isSafeInteger(cursor) || cursor < 0) throw new Error(`${this.file}: not a cursor file`);
    return cursor;
  }

  async save(cursor: number): Promise<void> {
    const tmp = `${this.file}.tmp-${process.pid}`;
    const handle = await open(tmp, 'w');
    try {
      await handle.writeFile(`${JSON.stringify({ cursor })}\n`);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(tmp, this.file);
    await syncDir(path.dirname(this.file));
  }
}

async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } catch {
    // Some platforms cannot fsync a folder; the rename is still atomic.
  } finally {
    await handle.close();
  }
}

export * from './index.js';
