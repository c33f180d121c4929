import * as tf from '@tensorflow/tfjs-core';
import { expect } from 'vitest';
import { CnnXaiError } from '@cnn-xai/core';

type Data = tf.Tensor | ArrayLike<number> | number[][] | number[][][] | number[][][][];

function flat(x: Data): Float32Array {
  if (x instanceof tf.Tensor) return Float32Array.from(x.dataSync() as ArrayLike<number>);
  if (Array.isArray(x)) return Float32Array.from((x as unknown[]).flat(Infinity) as number[]);
  return Float32Array.from(x as ArrayLike<number>);
}

function shapeOf(x: Data): number[] | null {
  return x instanceof tf.Tensor ? x.shape : null;
}

/** Largest absolute elementwise difference (Infinity when sizes differ or a NaN appears). */
export function maxAbsDiff(a: Data, b: Data): number {
  const x = flat(a);
  const y = flat(b);
  if (x.length !== y.length) return Infinity;
  let m = 0;
  for (let i = 0; i < x.length; i++) {
    const d = Math.abs((x[i] as number) - (y[i] as number));
    if (!(d <= m)) m = Number.isNaN(d) ? Infinity : d;
  }
  return m;
}

/** Largest absolute value. */
export function maxAbs(a: Data): number {
  return flat(a).reduce((m, v) => Math.max(m, Math.abs(v)), 0);
}

/**
 * Expects equal shapes (for tensors) and |a - b| <= atol + rtol * max|b| everywhere; the message
 * names the worst element.
 */
export function expectClose(actual: Data, expected: Data, opts: { rtol?: number; atol?: number; what?: string } = {}): void {
  const { rtol = 1e-5, atol = 1e-6, what = 'values' } = opts;
  const sa = shapeOf(actual);
  const sb = shapeOf(expected);
  if (sa && sb) expect(sa, `${what}: shape`).toEqual(sb);
  const x = flat(actual);
  const y = flat(expected);
  expect(x.length, `${what}: size`).toBe(y.length);
  const bound = atol + rtol * maxAbs(y);
  let worst = 0;
  let at = -1;
  for (let i = 0; i < x.length; i++) {
    const d = Math.abs((x[i] as number) - (y[i] as number));
    if (!(d <= worst)) {
      worst = Number.isNaN(d) ? Infinity : d;
      at = i;
    }
  }
  expect(worst <= bound, `${what}: |difference| ${worst} at ${at} (${x[at]} vs ${y[at]}) exceeds ${bound.toExponential(3)}`).toBe(true);
}

/** Runs `fn`, expects it to throw a CnnXaiError, and returns the error for closer checks. */
export function errorOf(fn: () => unknown): CnnXaiError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(CnnXaiError);
    return e as CnnXaiError;
  }
  throw new Error('expected an error');
}
