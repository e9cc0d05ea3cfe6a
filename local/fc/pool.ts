/**
 * Instances of one function: placement of invocations within instanceConcurrency × maxInstances, cold starts,
 * retirement of wedged (timed-out) instances and reaping of idle ones. FC rejects an invocation beyond the
 * limits at once with 429 ResourceExhausted, so `tryAcquire` never queues.
 */
import type { Logger } from '../../shared/log.ts';
import { errorToJson } from '../../shared/errors.ts';
import { callLifecycleHook, type Instance, type InstanceProvider } from './instances.ts';
import type { FunctionStats, LocalFunctionSpec } from './types.ts';

export interface Slot {
  readonly id: string;
  /** Resolves when the instance accepts connections; rejects with InstanceStartError. */
  readonly ready: Promise<Instance>;
  instance?: Instance;
  active: number;
  lastUsedMs: number;
  retired: boolean;
  /** POST /initialize done (only when the function has an initializer). */
  initialized: boolean;
  initializing?: Promise<void>;
}

export interface FunctionPool {
  readonly spec: LocalFunctionSpec;
  /** Live counters (the gateway increments invocation outcomes). */
  readonly stats: FunctionStats;
  snapshot(): FunctionStats;
  /** Reserves one concurrency unit, starting an instance if needed; undefined → throttle (429). */
  tryAcquire(): Slot | undefined;
  release(slot: Slot): void;
  /** No new invocations go to this instance; it stops when its last invocation ends. */
  retire(slot: Slot): void;
  close(): Promise<void>;
}

export function newStats(): FunctionStats {
  return {
    invocations: 0,
    asyncAccepted: 0,
    succeeded: 0,
    functionErrors: 0,
    throttled: 0,
    timeouts: 0,
    instancesStarted: 0,
    instancesStopped: 0,
    instancesReaped: 0,
    instancesRunning: 0,
    active: 0,
    peakActive: 0,
    startToReadyMs: [],
  };
}

export function createPool(spec: LocalFunctionSpec, provider: InstanceProvider, logger: Logger): FunctionPool {
  const name = `${spec.serviceName}/${spec.functionName}`;
  const stats = newStats();
  const slots: Slot[] = [];
  const stopping = new Set<Promise<void>>();
  const idleTimeoutMs = spec.idleTimeoutMs ?? 60_000;
  const limit = Math.min(spec.maxInstances, provider.capacity);
  let seq = 0;
  let closed = false;

  const remove = (slot: Slot) => {
    const i = slots.indexOf(slot);
    if (i >= 0) slots.splice(i, 1);
  };

  const stop = (slot: Slot, why: 'reaped' | 'retired' | 'closed') => {
    remove(slot);
    const p = slot.ready
      .then(async (inst) => {
        await inst.stop();
        stats.instancesStopped++;
        if (why === 'reaped') stats.instancesReaped++;
        logger.info('instance stopped', { function: name, instance: slot.id, why });
      })
      .catch(() => undefined)
      .finally(() => stopping.delete(p));
    stopping.add(p);
  };

  const startSlot = (): Slot => {
    const id = String(++seq);
    const slot: Slot = {
      id,
      ready: provider.start(id),
      active: 0,
      lastUsedMs: Date.now(),
      retired: false,
      initialized: false,
    };
    slots.push(slot);
    slot.ready.then(
      (inst) => {
        slot.instance = inst;
        stats.instancesStarted++;
        stats.startToReadyMs.push(Math.round(inst.startToReadyMs * 10) / 10);
        logger.info('instance ready', { function: name, instance: id, startToReadyMs: inst.startToReadyMs });
        void inst.exited.then(() => {
          // A crashed instance leaves the pool; its in-flight invocations fail on their own connection.
          if (slots.includes(slot)) {
            remove(slot);
            stats.instancesStopped++;
            logger.warn('instance exited', { function: name, instance: id });
          }
        });
      },
      (err: unknown) => {
        remove(slot);
        logger.error('instance failed to start', { function: name, instance: id, error: errorToJson(err) });
      },
    );
    return slot;
  };

  const reaper = setInterval(
    () => {
      const now = Date.now();
      for (const slot of [...slots]) {
        if (slot.instance !== undefined && slot.active === 0 && now - slot.lastUsedMs >= idleTimeoutMs) {
          stop(slot, 'reaped');
        }
      }
    },
    Math.max(20, Math.min(1000, Math.floor(idleTimeoutMs / 2))),
  );
  reaper.unref();

  return {
    spec,
    stats,
    snapshot() {
      return {
        ...stats,
        instancesRunning: slots.filter((s) => s.instance !== undefined).length,
        startToReadyMs: [...stats.startToReadyMs],
      };
    },
    tryAcquire() {
      if (closed) return undefined;
      let best: Slot | undefined;
      for (const s of slots) {
        if (s.retired || s.active >= spec.instanceConcurrency) continue;
        // Prefer ready instances, then the least busy: spreads work like FC's scheduler for concurrency 1.
        const score = (x: Slot) => (x.instance === undefined ? 1000 : 0) + x.active;
        if (best === undefined || score(s) < score(best)) best = s;
      }
      if (best === undefined && slots.length < limit) best = startSlot();
      if (best === undefined) return undefined;
      best.active++;
      stats.active++;
      stats.peakActive = Math.max(stats.peakActive, stats.active);
      return best;
    },
    release(slot) {
      slot.active--;
      stats.active--;
      slot.lastUsedMs = Date.now();
      // FC freezes an idle instance and calls GET /pre-freeze first, only when the function configures the hook.
      const preFreeze = spec.lifecycle?.preFreeze;
      if (preFreeze && slot.active === 0 && slot.instance && !slot.retired) {
        void callLifecycleHook(slot.instance.baseUrl, 'pre-freeze', preFreeze.timeoutSeconds * 1000);
      }
      if (slot.retired && slot.active === 0) stop(slot, 'retired');
    },
    retire(slot) {
      if (slot.retired) return;
      slot.retired = true;
      if (slot.active === 0) stop(slot, 'retired');
    },
    async close() {
      closed = true;
      clearInterval(reaper);
      for (const slot of [...slots]) stop(slot, 'closed');
      await Promise.allSettled([...stopping]);
    },
  };
}
