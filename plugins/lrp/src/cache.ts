import * as tf from '@tensorflow/tfjs-core';
import type { ModelTap } from '@cnn-xai/core';

interface Entry {
  /** The data of the tensors the value was derived from (a weight's data changes when it is assigned). */
  deps: readonly object[];
  value: tf.Tensor;
}

/**
 * Constants LRP derives from a model's weights (the rules' modified kernels and biases, e.g.
 * W+ = max(W, 0), and the flipped kernels of the convolutions' input gradients), kept with the
 * model tap so that later calls on the same tap reuse them (the tap's own flipped kernels live as
 * long as the tap too).
 *
 * Each value records the data of the tensors it came from and is recomputed when those change
 * (a weight assigned anew, a BatchNorm folded again), so it never goes stale; a value replaced so
 * is disposed at once. Everything is released when the tap is disposed (`tap.dispose()`
 * also releases this cache), or earlier with `releaseLrpCache(tap)`.
 */
export class DerivedCache {
  private readonly entries = new Map<string, Entry>();

  /** The value kept under `key` if it was derived from `from`, else `derive()` (kept from now on). */
  get(key: string, from: readonly tf.Tensor[], derive: () => tf.Tensor): tf.Tensor {
    const deps = from.map((t) => t.dataId as object);
    const hit = this.entries.get(key);
    if (hit && !hit.value.isDisposed && hit.deps.length === deps.length && hit.deps.every((d, i) => d === deps[i])) return hit.value;
    if (hit) {
      this.entries.delete(key);
      hit.value.dispose();
    }
    const value = tf.keep(tf.tidy(derive));
    if (from.includes(value)) return value; // an input handed back: not ours to keep.
    this.entries.set(key, { deps, value });
    return value;
  }

  get size(): number {
    return this.entries.size;
  }

  dispose(): void {
    for (const e of this.entries.values()) e.value.dispose();
    this.entries.clear();
  }
}

const caches = new WeakMap<ModelTap, DerivedCache>();

/** The tap's cache of LRP constants, created on first use; disposing the tap releases it. */
export function lrpCache(tap: ModelTap): DerivedCache {
  const known = caches.get(tap);
  if (known) return known;
  const cache = new DerivedCache();
  caches.set(tap, cache);
  tap.onDispose(() => cache.dispose());
  return cache;
}

/** Disposes the LRP constants kept with a tap (they are derived again when needed). */
export function releaseLrpCache(tap: ModelTap): void {
  caches.get(tap)?.dispose();
}
