import * as tf from '@tensorflow/tfjs-core';

/** Splits [0, total) into consecutive [start, end) ranges of at most `size`. */
export function batchRanges(total: number, size: number): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  const step = Math.max(1, Math.floor(size));
  for (let s = 0; s < total; s += step) out.push([s, Math.min(total, s + step)]);
  return out;
}

/**
 * Runs `fn` over batches of `total` items and concatenates the results along axis 0.
 * Between batches it checks `signal` and reports progress; intermediate tensors are freed
 * as it goes, including when it throws.
 */
export async function mapBatches(
  total: number,
  batchSize: number,
  fn: (start: number, end: number) => tf.Tensor,
  hooks: { throwIfAborted?: () => void; progress?: (f: number) => void } = {},
): Promise<tf.Tensor> {
  const parts: tf.Tensor[] = [];
  let result: tf.Tensor | undefined;
  try {
    for (const [s, e] of batchRanges(total, batchSize)) {
      hooks.throwIfAborted?.();
      parts.push(fn(s, e));
      hooks.progress?.(e / total);
      await yieldToEventLoop();
    }
    result = parts.length === 1 ? (parts[0] as tf.Tensor) : tf.concat(parts, 0);
    return result;
  } finally {
    parts.forEach((p) => p !== result && p.dispose());
  }
}

/** Lets timers, abort signals and UI updates through between batches. */
export function yieldToEventLoop(): Promise<void> {
  const g = globalThis as { setImmediate?: (cb: () => void) => void };
  return new Promise<void>((r) => (g.setImmediate ? g.setImmediate(r) : setTimeout(r, 0)));
}
