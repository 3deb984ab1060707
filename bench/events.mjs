/*
 * Change events between replicas: what the Redis relay adds
 * =========================================================
 * `node bench/events.mjs` (after `npm run build`; needs REDIS_URL). Two EventHubs joined by
 * Redis pub/sub, as two replicas are (dist/src/platform/events), against the baseline of one
 * hub in one process (a listener of the same replica):
 *   - latency: 2,000 events one after another, each published on A and awaited on B
 *     (p50/p95/p99 in ms);
 *   - throughput: a burst of 20,000 events published on A, time until B has them all.
 * Prints one JSON document with the load average at start and end (the machine is shared).
 */
import { loadavg } from 'node:os';
import { pino } from 'pino';
import { log, round, summarize } from './lib.mjs';

const url = process.env.REDIS_URL;
if (!url) {
  process.stderr.write('bench/events.mjs needs REDIS_URL (a Redis server)\n');
  process.exit(2);
}
const { EventHub } = await import('../dist/src/platform/events/event-hub.js');
const { attachRedisEventRelay } = await import('../dist/src/platform/events/redis-event-relay.js');
const silent = pino({ level: 'silent' });
const loadAtStart = loadavg().map((v) => round(v, 2));

function arrivals(hub) {
  let waiting;
  let count = 0;
  hub.subscribe(() => {
    count++;
    waiting?.();
  });
  return {
    get count() {
      return count;
    },
    until(n) {
      if (count >= n) return Promise.resolve();
      return new Promise((resolve) => {
        waiting = () => {
          if (count >= n) {
            waiting = undefined;
            resolve();
          }
        };
      });
    },
  };
}

async function measure(label, a, b) {
  const heard = arrivals(b);
  const latencies = [];
  for (let i = 0; i < 2000; i++) {
    const t0 = performance.now();
    a.publish({ kind: 'resource_updated', uri: `dag://runs/${i}` });
    await heard.until(i + 1);
    latencies.push(performance.now() - t0);
  }
  const burst = 20_000;
  const before = heard.count;
  const t0 = performance.now();
  for (let i = 0; i < burst; i++) a.publish({ kind: 'resource_updated', uri: `dag://runs/burst-${i}` });
  await heard.until(before + burst);
  const seconds = (performance.now() - t0) / 1000;
  log(`events: ${label} done`);
  return { latencyMs: summarize(latencies), burst: { events: burst, seconds: round(seconds, 3), eventsPerSecond: Math.round(burst / seconds) } };
}

const local = new EventHub();
const inProcess = await measure('in-process', local, local);

const prefix = `bench-events-${process.pid}:`;
const a = new EventHub();
const b = new EventHub();
await attachRedisEventRelay(a, url, { keyPrefix: prefix, log: silent });
await attachRedisEventRelay(b, url, { keyPrefix: prefix, log: silent });
const acrossRedis = await measure('across redis', a, b);
await a.detach();
await b.detach();

process.stdout.write(
  `${JSON.stringify({ benchmark: 'events', node: process.version, loadAverageAtStart: loadAtStart, loadAverageAtEnd: loadavg().map((v) => round(v, 2)), inProcess, acrossRedis }, null, 2)}\n`,
);
