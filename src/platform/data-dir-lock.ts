/*
 * Data directory lock
 * ===================
 * The embedded database is a set of files that one process may open at a time. A pid file
 * turns a second opener (say, Claude Desktop and `npm start` on the same ./data) into a
 * clear error instead of a corrupted database. A lock left by a dead process is taken over.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export function lockDataDir(dir: string): () => void {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, 'mcp-level3.pid');
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(path, String(process.pid), { flag: 'wx' });
      return () => rmSync(path, { force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const holder = Number(readFileSync(path, 'utf8').trim());
      if (Number.isInteger(holder) && holder > 0 && holder !== process.pid && isAlive(holder)) {
        throw new Error(`data dir ${dir} is in use by process ${holder}; stop that process, or give this one its own --data-dir (or DATABASE_URL)`, { cause: error });
      }
      rmSync(path, { force: true });
    }
  }
  throw new Error(`data dir ${dir}: cannot take the lock file ${path}`);
}
