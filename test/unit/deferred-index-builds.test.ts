import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { DeferredIndexBuilds } from '../../src/engines/rag/deferred-index-builds.js';
import { silentLogger } from '../helpers/backends.js';

/** Builds that finish when the test says so, recording what ran and what overlapped. */
function controlledBuilds() {
  const started: string[] = [];
  const finishers: (() => void)[] = [];
  let running = 0;
  let mostAtOnce = 0;
  const build = (collection: string) =>
    new Promise<void>((resolve) => {
      started.push(collection);
      running++;
      mostAtOnce = Math.max(mostAtOnce, running);
      finishers.push(() => {
        running--;
        resolve();
      });
    });
  return { build, started, finish: () => finishers.shift()!(), mostAtOnce: () => mostAtOnce };
}

describe('deferred vector index builds', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('builds a requested index only after ingestion into the collection has been quiet', async () => {
    const builds = controlledBuilds();
    const deferred = new DeferredIndexBuilds({ build: builds.build, quietMs: 1000, log: silentLogger });
    const first = deferred.ingestStarted('docs');
    deferred.request('docs');
    await vi.advanceTimersByTimeAsync(5000);
    expect(builds.started).toEqual([]); // an ingest is running
    first();
    await vi.advanceTimersByTimeAsync(600);
    const second = deferred.ingestStarted('docs'); // the next batch postpones it again
    second();
    await vi.advanceTimersByTimeAsync(600);
    expect(builds.started).toEqual([]);
    expect(deferred.pending('docs')).toBe(true);
    await vi.advanceTimersByTimeAsync(400);
    expect(builds.started).toEqual(['docs']);
    builds.finish();
    await deferred.idle();
    expect(deferred.pending('docs')).toBe(false);
  });

  it('starts a due build when asked, even if its timer has not fired (a busy loop of queries)', async () => {
    const builds = controlledBuilds();
    const deferred = new DeferredIndexBuilds({ build: builds.build, quietMs: 1000, log: silentLogger });
    deferred.request('docs');
    vi.setSystemTime(Date.now() + 999); // the clock moves, timers do not run
    expect(deferred.pending('docs')).toBe(true);
    await Promise.resolve();
    expect(builds.started).toEqual([]);
    vi.setSystemTime(Date.now() + 1);
    expect(deferred.pending('docs')).toBe(true);
    await vi.waitFor(() => expect(builds.started).toEqual(['docs']));
    builds.finish();
    await deferred.idle();
    await vi.advanceTimersByTimeAsync(5000);
    expect(builds.started).toEqual(['docs']); // its timer was cancelled
  });

  it('ingests into other collections do not hold a build back; builds run one at a time', async () => {
    const builds = controlledBuilds();
    const deferred = new DeferredIndexBuilds({ build: builds.build, quietMs: 100, log: silentLogger });
    deferred.request('a');
    deferred.request('b');
    deferred.ingestStarted('c');
    await vi.advanceTimersByTimeAsync(100);
    expect(builds.started).toEqual(['a']);
    builds.finish();
    await vi.advanceTimersByTimeAsync(0);
    expect(builds.started).toEqual(['a', 'b']);
    builds.finish();
    await deferred.idle();
    expect(builds.mostAtOnce()).toBe(1);
  });

  it('close waits for a running build and cancels waiting ones', async () => {
    const builds = controlledBuilds();
    const deferred = new DeferredIndexBuilds({ build: builds.build, quietMs: 100, log: silentLogger });
    deferred.request('a');
    await vi.advanceTimersByTimeAsync(100);
    deferred.request('b');
    let closed = false;
    const closing = deferred.close().then(() => (closed = true));
    await vi.advanceTimersByTimeAsync(1000);
    expect(closed).toBe(false);
    builds.finish();
    await closing;
    expect(builds.started).toEqual(['a']);
    deferred.request('c');
    await vi.advanceTimersByTimeAsync(1000);
    expect(builds.started).toEqual(['a']);
  });

  it('a failed build is logged and can be asked for again', async () => {
    const attempts: string[] = [];
    const deferred = new DeferredIndexBuilds({
      build: async (collection) => {
        attempts.push(collection);
        if (attempts.length === 1) throw new Error('out of memory');
      },
      quietMs: 10,
      log: silentLogger,
    });
    deferred.request('a');
    await vi.advanceTimersByTimeAsync(10);
    await deferred.idle();
    expect(deferred.pending('a')).toBe(false);
    deferred.request('a');
    await vi.advanceTimersByTimeAsync(10);
    await deferred.idle();
    expect(attempts).toEqual(['a', 'a']);
  });
});
