/*
 * Data directory lock
 * ===================
 * The embedded database is a set of files that one process may open at a time. The lock is
 * held by the operating system, not by a file's existence: `mcp-level3.lock` in the data
 * directory is opened and locked exclusively (flock), and the kernel drops the lock when
 * the process exits, however it exits (kill -9 included). Nothing is ever checked and
 * then deleted, so processes racing for a directory whose last holder died leave exactly
 * one holder: the kernel decides, atomically. The file is never removed (removing it would
 * let a later process lock a new file while an old one still holds the unlinked one); it
 * holds the holder's pid, for the message a second process prints.
 *
 * How the lock is taken, without a native addon (the image installs with --ignore-scripts):
 *   - Linux and other systems with util-linux or busybox: the file is opened here and its
 *     descriptor handed to `flock -x -n 3` as the child's fd 3. flock(2)
 *     locks belong to the open file description, which the child shares with this process,
 *     so the lock stays held by this process after the short-lived child exits.
 *   - macOS and the BSDs: open(2) with O_EXLOCK | O_NONBLOCK, which locks atomically.
 *   - Windows: open with an exclusive sharing mode (libuv's UV_FS_O_EXLOCK).
 * Locking is per open file description, so a second lock in this process (the CLI takes it
 * before the app opens storage, and the app takes it again) shares the first: counted here.
 */
import { spawnSync } from 'node:child_process';
import { closeSync, constants, ftruncateSync, mkdirSync, openSync, readFileSync, realpathSync, writeSync } from 'node:fs';
import { join } from 'node:path';

export const LOCK_FILE = 'mcp-level3.lock';

/** open(2) flags the Node constants do not name. */
const O_EXLOCK_BSD = 0x20; // <fcntl.h> on macOS, FreeBSD, OpenBSD, NetBSD, DragonFly
const UV_FS_O_EXLOCK = 0x10000000; // libuv: exclusive sharing mode on Windows
const BSD = new Set<string>(['darwin', 'freebsd', 'openbsd', 'netbsd']);

/**
 * Another process holds the directory. `message` names neither the directory nor the
 * holder (it can reach HTTP responses); `detail` names both, for stderr and the log.
 */
export class DataDirLockedError extends Error {
  override readonly name = 'DataDirLockedError';
  constructor(readonly detail: string) {
    super('the data directory is in use by another mcp-level3 process; stop that process, or give this one its own --data-dir (or DATABASE_URL)');
  }
}

interface Held {
  fd: number;
  count: number;
}

const held = new Map<string, Held>();

/** An open descriptor of `path` that holds the exclusive lock, or undefined when another process holds it. */
function openLocked(path: string): number | undefined {
  const { O_RDWR, O_CREAT, O_NONBLOCK } = constants;
  if (process.platform === 'win32' || BSD.has(process.platform)) {
    const flags = O_RDWR | O_CREAT | (process.platform === 'win32' ? UV_FS_O_EXLOCK : O_EXLOCK_BSD | O_NONBLOCK);
    try {
      return openSync(path, flags, 0o644);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'EAGAIN' || code === 'EWOULDBLOCK' || code === 'EBUSY') return undefined;
      throw error;
    }
  }
  const fd = openSync(path, O_RDWR | O_CREAT, 0o644);
  // -x -n (not the long forms): busybox's flock takes only these.
  const result = spawnSync('flock', ['-x', '-n', '3'], { stdio: ['ignore', 'ignore', 'pipe', fd], encoding: 'utf8' });
  if (result.status === 0) return fd;
  closeSync(fd);
  if (result.error) {
    const missing = (result.error as NodeJS.ErrnoException).code === 'ENOENT';
    throw new Error(
      missing
        ? 'the data directory lock needs the `flock` command (util-linux or busybox); install it, or use PostgreSQL (DATABASE_URL)'
        : `the data directory could not be locked: ${result.error.message}`,
      { cause: result.error },
    );
  }
  // flock -n exits 1, silently, when another process holds the lock.
  if (result.status === 1 && !result.stderr.trim()) return undefined;
  throw new Error(`the data directory could not be locked: flock exited with ${result.status ?? result.signal}: ${result.stderr.trim()}`);
}

function holderOf(path: string): string {
  try {
    const pid = Number(readFileSync(path, 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? `process ${pid}` : 'another process';
  } catch {
    return 'another process';
  }
}

/**
 * Takes the directory for this process (creating it), or throws DataDirLockedError when a
 * live process holds it. Returns the release function; the lock also ends with the process.
 */
export function lockDataDir(dir: string): () => void {
  mkdirSync(dir, { recursive: true });
  const key = realpathSync(dir);
  const path = join(key, LOCK_FILE);
  let entry = held.get(key);
  if (entry) {
    entry.count++;
  } else {
    const fd = openLocked(path);
    if (fd === undefined) {
      throw new DataDirLockedError(`data dir ${key} is in use by ${holderOf(path)}; stop that process, or give this one its own --data-dir (or DATABASE_URL)`);
    }
    ftruncateSync(fd, 0);
    writeSync(fd, `${process.pid}\n`, 0);
    entry = { fd, count: 1 };
    held.set(key, entry);
  }
  const taken = entry;
  let released = false;
  return () => {
    if (released) return;
    released = true;
    if (--taken.count > 0) return;
    held.delete(key);
    try {
      ftruncateSync(taken.fd, 0);
    } catch {
      // the lock ends with the descriptor either way
    }
    closeSync(taken.fd);
  };
}
