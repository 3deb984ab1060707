/*
 * Faults: the service keeps serving through a Redis restart, fails fast while PostgreSQL is
 * down, and recovers from both by itself. The tests start and kill servers of their own
 * (the shared ones serve other suites).
 */
import type { ChildProcess } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { registryGet, registryPublish } from '../../tools/registry.js';
import { startTestApp, type TestApp } from '../helpers/backends.js';
import { POSTGRES_BIN_DIR, startPrivatePostgres, type PrivatePostgres } from '../helpers/private-postgres.js';
import { freePort, REDIS_SERVER_BIN, startRedis } from '../helpers/private-redis.js';
import { eventually } from '../helpers/timing.js';

const admin = { id: 'faults', scopes: ['*'] };



describe.skipIf(!REDIS_SERVER_BIN)(`a Redis restart${REDIS_SERVER_BIN ? '' : ' (skipped: set REDIS_SERVER_BIN to a redis-server binary)'}`, () => {
  let redis: ChildProcess | undefined;
  let test: TestApp | undefined;

  afterAll(async () => {
    await test?.close();
    redis?.kill('SIGKILL');
  });

  it('costs only cache misses while Redis is down, and the cache comes back by itself', async () => {
    const port = await freePort();
    redis = await startRedis(port);
    test = await startTestApp({ name: 'pglite + private redis', redisUrl: `redis://127.0.0.1:${port}` });
    const { app } = test;
    await app.invoke(registryPublish, { name: 'faults/a', version: '1.0.0', content: 'one', mediaType: 'text/plain' }, { principal: admin });
    expect((await app.readiness()).checks.cache).toMatchObject({ ok: true, backend: 'memory+redis' });

    redis.kill('SIGKILL');
    await new Promise((resolve) => redis!.once('exit', resolve));
    // Reads and writes go on against the database; the replica stays ready.
    await app.invoke(registryPublish, { name: 'faults/a', version: '1.0.1', content: 'two', mediaType: 'text/plain' }, { principal: admin });
    const got = await app.invoke(registryGet, { name: 'faults/a', alias: 'latest' }, { principal: admin });
    expect(got).toMatchObject({ version: '1.0.1', content: 'two' });
    const down = await app.readiness();
    expect(down.ready).toBe(true);
    expect(down.checks.cache.ok).toBe(false);

    redis = await startRedis(port);
    await eventually(async () => (await app.readiness()).checks.cache.ok, 'the cache reconnecting');
    expect(await app.invoke(registryGet, { name: 'faults/a', version: '1.0.0' }, { principal: admin })).toMatchObject({ content: 'one' });
  });
});

describe.skipIf(!POSTGRES_BIN_DIR)(`a PostgreSQL restart${POSTGRES_BIN_DIR ? '' : ' (skipped: set POSTGRES_BIN_DIR to the bin directory of a PostgreSQL with pgvector)'}`, () => {
  let postgres: PrivatePostgres | undefined;
  let test: TestApp | undefined;

  afterAll(async () => {
    await test?.close().catch(() => undefined);
    postgres?.destroy();
  });

  it('turns /ready false and fails requests fast with a clear error, then recovers without a restart', async () => {
    postgres = startPrivatePostgres(await freePort());
    test = await startTestApp({ name: 'private postgres', databaseUrl: postgres.url });
    const { app } = test;
    await app.invoke(registryPublish, { name: 'faults/b', version: '1.0.0', content: 'kept', mediaType: 'text/plain' }, { principal: admin });

    postgres.stop('immediate');
    const down = await app.readiness();
    expect(down.ready).toBe(false);
    expect(down.checks.database.ok).toBe(false);
    const failed = app.invoke(registryPublish, { name: 'faults/b', version: '1.0.1', content: 'lost?', mediaType: 'text/plain' }, { principal: admin });
    await expect(failed).rejects.toMatchObject({ code: 'UNAVAILABLE', message: expect.stringMatching(/database is not reachable right now.*retry/) });

    postgres.start();
    await eventually(async () => (await app.readiness()).ready, 'the database coming back');
    expect(await app.invoke(registryGet, { name: 'faults/b', alias: 'latest' }, { principal: admin })).toMatchObject({ version: '1.0.0', content: 'kept' });
  });
});
