/*
 * One contract for the change-event bus (the SDK's ServerEventBus, which
 * `subscriptions/listen` streams and stdio connections hear), run against the in-process hub
 * and against hubs joined by Redis pub/sub. A deployment is two "replicas", A and B: with the
 * in-process hub there is one process, so both are the same hub; with Redis they are two
 * hubs on one channel, as two server processes are.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EventHub, type ServerEvent } from '../../src/platform/events/event-hub.js';
import { attachRedisEventRelay } from '../../src/platform/events/redis-event-relay.js';
import { REDIS_URL, silentLogger, title, uniqueId } from '../helpers/backends.js';
import { sleep } from '../helpers/timing.js';

interface Deployment {
  a: EventHub;
  b: EventHub;
  close(): Promise<void>;
}

const backends: { name: string; skip?: string; open(prefix: string): Promise<Deployment> }[] = [
  {
    name: 'in-process',
    open: async () => {
      const hub = new EventHub();
      return { a: hub, b: hub, close: async () => undefined };
    },
  },
  {
    name: 'redis pub/sub',
    skip: REDIS_URL ? undefined : 'set REDIS_URL to a Redis server',
    open: async (keyPrefix) => {
      const a = new EventHub();
      const b = new EventHub();
      await attachRedisEventRelay(a, REDIS_URL!, { keyPrefix, log: silentLogger });
      await attachRedisEventRelay(b, REDIS_URL!, { keyPrefix, log: silentLogger });
      return { a, b, close: async () => void (await Promise.all([a.detach(), b.detach()])) };
    },
  },
];


/** Collects what a listener hears; `until` waits for a count, `quiet` checks nothing more arrives. */
function recorder(hub: EventHub) {
  const heard: ServerEvent[] = [];
  const stop = hub.subscribe((event) => void heard.push(event));
  return {
    heard,
    stop,
    async until(count: number): Promise<ServerEvent[]> {
      for (let i = 0; i < 100 && heard.length < count; i++) await sleep(20);
      return heard;
    },
  };
}

const updated = (uri: string): ServerEvent => ({ kind: 'resource_updated', uri });

for (const backend of backends) {
  describe.skipIf(backend.skip)(`change-event bus contract on ${title(backend)}`, () => {
    let deployment: Deployment;

    beforeAll(async () => {
      deployment = await backend.open(`${uniqueId('events')}:`);
    });
    afterAll(async () => deployment?.close());

    it("delivers a publish to the publisher's own listeners at once, whatever the transport", async () => {
      const here = recorder(deployment.a);
      const there = recorder(deployment.b);
      deployment.a.publish(updated('dag://runs/at-once'));
      // Synchronously: no round trip is involved, and a Redis outage cannot delay it.
      expect(here.heard).toEqual([updated('dag://runs/at-once')]);
      expect(await there.until(1)).toEqual([updated('dag://runs/at-once')]);
      here.stop();
      there.stop();
    });

    it("delivers every event to listeners on both replicas exactly once, each publisher's in its order", async () => {
      const onA = recorder(deployment.a);
      const onB = recorder(deployment.b);
      const events: ServerEvent[] = [updated('dag://runs/1'), { kind: 'resources_list_changed' }, updated('dag://runs/2')];
      for (const event of events) deployment.a.publish(event);
      deployment.b.publish(updated('dag://runs/from-b'));
      const fromA = (heard: ServerEvent[]) => heard.filter((e) => !(e.kind === 'resource_updated' && e.uri === 'dag://runs/from-b'));
      for (const heard of [await onA.until(4), await onB.until(4)]) {
        expect(fromA(heard)).toEqual(events);
        expect(heard).toContainEqual(updated('dag://runs/from-b'));
      }
      await sleep(200);
      expect(onA.heard).toHaveLength(4);
      expect(onB.heard).toHaveLength(4);
      onA.stop();
      onB.stop();
    });

    it('stops delivering to a listener once it unsubscribed, and unsubscribing twice is harmless', async () => {
      const kept = recorder(deployment.b);
      const dropped = recorder(deployment.b);
      dropped.stop();
      dropped.stop();
      deployment.a.publish(updated('dag://runs/after-stop'));
      expect(await kept.until(1)).toEqual([updated('dag://runs/after-stop')]);
      await sleep(100);
      expect(dropped.heard).toEqual([]);
      kept.stop();
    });

    it('keeps delivering to the other listeners when one throws', async () => {
      const stopThrowing = deployment.b.subscribe(() => {
        throw new Error('listener bug');
      });
      const after = recorder(deployment.b);
      deployment.a.publish(updated('dag://runs/throwing'));
      expect(await after.until(1)).toEqual([updated('dag://runs/throwing')]);
      stopThrowing();
      after.stop();
    });

    it('keeps deployments with different prefixes apart', async () => {
      const other = await backend.open(`${uniqueId('events-other')}:`);
      try {
        const mine = recorder(deployment.b);
        const theirs = recorder(other.b);
        deployment.a.publish(updated('dag://runs/mine'));
        other.a.publish(updated('dag://runs/theirs'));
        expect(await mine.until(1)).toEqual([updated('dag://runs/mine')]);
        expect(await theirs.until(1)).toEqual([updated('dag://runs/theirs')]);
        await sleep(200);
        expect(mine.heard).toHaveLength(1);
        expect(theirs.heard).toHaveLength(1);
        mine.stop();
        theirs.stop();
      } finally {
        await other.close();
      }
    });
  });
}
