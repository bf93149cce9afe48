/** For tests of the table functions: a fresh, migrated database in a temp dir, removed when the test ends. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openDatabase, type Database } from './open.js';

export function openTempDatabase(t: { after(fn: () => void): void }, prefix = 'dctr-db-'): { db: Database; file: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  const file = path.join(dir, 'db.sqlite');
  const db = openDatabase(file);
  t.after(() => {
    db.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  return { db, file };
}
