import type * as tf from '@tensorflow/tfjs-core';
import type { ModelTap, Predictor } from '@cnn-xai/core';

/**
 * Counts the model passes an explainer makes, in images: a call on a batch of 8 counts 8.
 * Divided by the number of images explained, that is passes per image (IG with 50 steps: 50).
 */
export interface PassCounts {
  /**
   * Full forward passes: predict, forward, activations (also through `ctx.model`, the
   * black-box route), and the forward part of every gradient.
   */
  forward: number;
  /** Backward passes (gradient calls, at the input or at a layer; `gradients` at several layers). */
  backward: number;
  /** The part of `backward` that stops at a layer (Grad-CAM's gradient): cheaper than a full one. */
  layerBackward: number;
  /** Partial forward passes from a layer to the output (head runs: Ablation-CAM and the like). */
  head: number;
}

export const zeroCounts = (): PassCounts => ({ forward: 0, backward: 0, layerBackward: 0, head: 0 });

/**
 * The kinds of model call, as the raw cost floor prices them: a forward pass, a forward+backward
 * pass to the input, one to a layer, and a run of the head from a layer.
 */
export type PassKind = 'forward' | 'gradient' | 'layerGradient' | 'head';

/** How many calls of each kind were made with each batch size (rows -> calls). */
export type CallLog = Record<PassKind, Map<number, number>>;

export const emptyCallLog = (): CallLog => ({ forward: new Map(), gradient: new Map(), layerGradient: new Map(), head: new Map() });

const logCall = (calls: CallLog, kind: PassKind, n: number): void => {
  calls[kind].set(n, (calls[kind].get(n) ?? 0) + 1);
};

const rows = (x: unknown): number => {
  const shape = (x as tf.Tensor | undefined)?.shape;
  return Array.isArray(shape) && typeof shape[0] === 'number' ? shape[0] : 1;
};

/**
 * A proxy of a ModelTap that counts passes. It is still a ModelTap (`instanceof` holds), so it
 * can be given to `explain({ model })`, and black-box explainers, which run the model through
 * `ctx.model.predict`, get the same proxy there: their forward passes are counted too. Calls go
 * to the real tap, so the tap's internal calls (predict calls forward) are not counted twice.
 */
export function countingTap(tap: ModelTap): { tap: ModelTap; counts: PassCounts; calls: CallLog; reset(): void } {
  const counts = zeroCounts();
  const calls = emptyCallLog();
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
            const n = rows(args[0]);
            counts.forward += n;
            logCall(calls, 'forward', n);
            return fn.apply(target, args);
          };
        case 'gradient':
          return (...args: unknown[]) => {
            const n = rows(args[0]);
            counts.forward += n;
            counts.backward += n;
            const toLayer = (args[2] as { layer?: string } | undefined)?.layer !== undefined;
            if (toLayer) counts.layerBackward += n;
            logCall(calls, toLayer ? 'layerGradient' : 'gradient', n);
            return fn.apply(target, args);
          };
        case 'gradients':
          // Several layers at once (SISE): counted as a full backward pass (an upper bound).
          return (...args: unknown[]) => {
            const n = rows(args[0]);
            counts.forward += n;
            counts.backward += n;
            logCall(calls, 'gradient', n);
            return fn.apply(target, args);
          };
        case 'runFrom':
          return (...args: unknown[]) => {
            const n = rows(args[1]);
            counts.head += n;
            logCall(calls, 'head', n);
            return fn.apply(target, args);
          };
        case 'head':
          return (...args: unknown[]) => {
            const h = fn.apply(target, args) as { run(a: tf.Tensor, ...rest: unknown[]): tf.Tensor; dispose(): void };
            return {
              run: (a: tf.Tensor, ...rest: unknown[]) => {
                counts.head += rows(a);
                logCall(calls, 'head', rows(a));
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
    calls,
    reset() {
      Object.assign(counts, zeroCounts());
      Object.values(calls).forEach((m) => m.clear());
    },
  };
}

/**
 * A proxy of any Predictor (a `BlackBoxModel` from `blackBox(fn)`) that counts the images it is
 * asked to score as forward passes. `instanceof` still holds, so `explain` treats it as the
 * original (a black box stays a black box).
 */
export function countingPredictor<P extends Predictor>(model: P): { model: P; counts: PassCounts; calls: CallLog; reset(): void } {
  const counts = zeroCounts();
  const calls = emptyCallLog();
  const proxy = new Proxy(model, {
    get(target, prop) {
      const value = Reflect.get(target, prop, target) as unknown;
      if (typeof value !== 'function') return value;
      const fn = value as (...args: unknown[]) => unknown;
      if (prop === 'predict') {
        return (...args: unknown[]) => {
          const n = rows(args[0]);
          counts.forward += n;
          logCall(calls, 'forward', n);
          return fn.apply(target, args);
        };
      }
      return fn.bind(target);
    },
  });
  return {
    model: proxy,
    counts,
    calls,
    reset() {
      Object.assign(counts, zeroCounts());
      Object.values(calls).forEach((m) => m.clear());
    },
  };
}
