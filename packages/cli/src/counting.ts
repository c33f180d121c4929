import type * as tf from '@tensorflow/tfjs-core';
import type { ModelTap } from '@cnn-xai/core';

/**
 * Counts the model passes an explainer makes, in images: a call on a batch of 8 counts 8.
 * Divided by the number of images explained, that is passes per image (IG with 50 steps: 50).
 */
export interface PassCounts {
  /** Full forward passes (predict, forward, activations, and the forward part of gradient). */
  forward: number;
  /** Backward passes (gradient calls, at the input or at a layer). */
  backward: number;
  /** Partial forward passes from a layer to the output (head runs: Score-CAM and the like). */
  head: number;
}

const rows = (x: unknown): number => {
  const shape = (x as tf.Tensor | undefined)?.shape;
  return Array.isArray(shape) && typeof shape[0] === 'number' ? shape[0] : 1;
};

/**
 * A proxy of a ModelTap that counts passes. It is still a ModelTap (`instanceof` holds), so it
 * can be given to `explain({ model })`; calls go to the real tap, so the tap's internal calls
 * (predict calls forward) are not counted twice.
 */
export function countingTap(tap: ModelTap): { tap: ModelTap; counts: PassCounts; reset(): void } {
  const counts: PassCounts = { forward: 0, backward: 0, head: 0 };
  type Fn = (...args: unknown[]) => unknown;
  const proxy = new Proxy(tap, {
    get(target, prop) {
      const value = Reflect.get(target, prop, target) as unknown;
      if (typeof value !== 'function') return value;
      const fn = value as Fn;
      switch (prop) {
        case 'predict':
        case 'forward':
        case 'activations':
          return (...args: unknown[]) => {
            counts.forward += rows(args[0]);
            return fn.apply(target, args);
          };
        case 'gradient':
          return (...args: unknown[]) => {
            counts.forward += rows(args[0]);
            counts.backward += rows(args[0]);
            return fn.apply(target, args);
          };
        case 'runFrom':
          return (...args: unknown[]) => {
            counts.head += rows(args[1]);
            return fn.apply(target, args);
          };
        case 'head':
          return (...args: unknown[]) => {
            const h = fn.apply(target, args) as { run(a: tf.Tensor, ...rest: unknown[]): tf.Tensor; dispose(): void };
            return {
              run: (a: tf.Tensor, ...rest: unknown[]) => {
                counts.head += rows(a);
                return h.run(a, ...rest);
              },
              dispose: () => h.dispose(),
            };
          };
        default:
          return fn.bind(target);
      }
    },
  });
  return {
    tap: proxy,
    counts,
    reset() {
      counts.forward = 0;
      counts.backward = 0;
      counts.head = 0;
    },
  };
}
