/*
 * A PostgreSQL cluster of a test's own, for fault tests that stop and start the server
 * (the shared one serves other suites). Uses the binaries of the CI PostgreSQL
 * (POSTGRES_BIN_DIR); as root, the server runs as the unprivileged user postgres.sh made.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const POSTGRES_BIN_DIR = process.env.POSTGRES_BIN_DIR;
const RUN_USER = process.env.PG_RUN_USER ?? 'pgrun';

export interface PrivatePostgres {
  url: string;
  stop(mode?: 'immediate' | 'fast'): void;
  start(): void;
  destroy(): void;
}

function run(command: string, args: string[]): void {
  const asRoot = process.getuid?.() === 0;
  const [file, argv] = asRoot ? ['runuser', ['-u', RUN_USER, '--', command, ...args]] : [command, args];
  const result = spawnSync(file, argv, { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} failed: ${result.stderr || result.stdout}`);
}

export function startPrivatePostgres(port: number): PrivatePostgres {
  const bin = (name: string) => join(POSTGRES_BIN_DIR!, name);
  const dir = mkdtempSync(join(tmpdir(), 'pg-fault-'));
  chmodSync(dir, 0o755);
  if (process.getuid?.() === 0) execFileSync('chown', [RUN_USER, dir]);
  const data = join(dir, 'data');
  run(bin('initdb'), ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--locale=C.UTF-8', '--no-sync']);
  const start = () =>
    run(bin('pg_ctl'), ['-D', data, '-l', join(dir, 'log'), '-s', '-w', '-t', '60', 'start', '-o', `-c listen_addresses=127.0.0.1 -c port=${port} -c unix_socket_directories=${dir} -c fsync=off`]);
  start();
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    stop: (mode = 'immediate') => run(bin('pg_ctl'), ['-D', data, '-s', '-w', '-m', mode, 'stop']),
    start,
    destroy() {
      try {
        run(bin('pg_ctl'), ['-D', data, '-s', '-w', '-m', 'immediate', 'stop']);
      } catch {
        // already stopped
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
