import * as tf from '@tensorflow/tfjs-core';

/** The number of live tensors tf.js tracks (all backends). */
export function countTensors(): number {
  return tf.memory().numTensors;
}

export class LeakedTensorsError extends Error {
  readonly before: number;
  readonly after: number;
  constructor(before: number, after: number, what: string) {
    const diff = after - before;
    super(`${what}: ${Math.abs(diff)} tensor(s) ${diff > 0 ? 'leaked' : 'disposed that it did not create'} (tf.memory().numTensors ${before} -> ${after}).`);
    this.name = 'LeakedTensorsError';
    this.before = before;
    this.after = after;
  }
}

/**
 * Runs `fn` (sync or async) and throws `LeakedTensorsError` unless tf.memory().numTensors is the
 * same afterwards. An error thrown by `fn` is rethrown after the count is checked, unless
 * `allowThrow` is set, in which case it is swallowed (and returned) so that a test can check
 * "no leak when explain throws" in one call. Returns fn's value (or the swallowed error).
 */
export async function expectNoLeakedTensors<T>(fn: () => T | Promise<T>, opts?: { what?: string; allowThrow?: false }): Promise<T>;
export async function expectNoLeakedTensors<T>(fn: () => T | Promise<T>, opts: { what?: string; allowThrow: true }): Promise<T | unknown>;
export async function expectNoLeakedTensors<T>(
  fn: () => T | Promise<T>,
  opts: { what?: string; allowThrow?: boolean } = {},
): Promise<T | unknown> {
  const before = countTensors();
  let value: T | undefined;
  let error: unknown;
  let threw = false;
  try {
    value = await fn();
  } catch (e) {
    threw = true;
    error = e;
  }
  const after = countTensors();
  if (after !== before) throw new LeakedTensorsError(before, after, opts.what ?? 'expectNoLeakedTensors');
  if (threw) {
    if (opts.allowThrow) return error;
    throw error;
  }
  return value;
}
