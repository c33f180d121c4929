import * as tf from '@tensorflow/tfjs-core';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { ensureBackend } from './backend.js';
import { AbortError } from './errors.js';
import { resolveOptions } from './options.js';
import { createRandom } from './random.js';
import { defaultRegistry, type Registry } from './registry.js';
import { ModelTap } from './tap/tap.js';
import { resolveTarget, type Target } from './targets.js';
import type { AnyExplainer, Attribution, ExplainContext, Extra } from './types.js';

export interface ExplainRequest {
  /** The model, or a tap already built for it (reuse one tap across many calls). */
  model: LayersModel | ModelTap;
  /** A batch [N, H, W, C] (or one image [H, W, C]) of float32 values in the model's input range. */
  input: tf.Tensor;
  /** Default `top`: the predicted class of each image. */
  target?: Target;
  /** Explainer options; unknown names and out-of-range values are errors. */
  options?: Record<string, unknown>;
  /** Seed of the random stream. An explicit `seed` option wins; this seed wins over an explainer's default. */
  seed?: number;
  signal?: AbortSignal;
  onProgress?: (fraction: number) => void;
  /** Where to look up an explainer given by id (default: the default registry). */
  registry?: Registry;
}

/** Every tensor in the extras, also inside nested records and arrays. */
function tensorsOf(extras: Record<string, Extra> | unknown, seen = new Set<unknown>()): tf.Tensor[] {
  if (extras instanceof tf.Tensor) return [extras];
  if (extras === null || typeof extras !== 'object' || seen.has(extras) || ArrayBuffer.isView(extras)) return [];
  seen.add(extras);
  const values = Array.isArray(extras) ? extras : Object.values(extras as Record<string, unknown>);
  return values.flatMap((v) => tensorsOf(v, seen));
}

let queue: Promise<unknown> = Promise.resolve();

/**
 * Runs one explainer: checks the input and the options, resolves the target, builds the context
 * and returns the attribution. Tensors the explainer leaves behind are released, on success and
 * on error, so `tf.memory().numTensors` is what it was before (plus the returned tensors).
 *
 * Calls run one at a time, in the order they were made: each holds a tf.js engine scope across
 * its awaits (tf.js keeps a single global scope stack), and a backend runs one program at a time
 * anyway. A second call made while one runs waits for it.
 */
export function explain(explainer: AnyExplainer | string, req: ExplainRequest): Promise<Attribution> {
  const run = queue.then(() => explainNow(explainer, req));
  queue = run.catch(() => undefined);
  return run;
}

async function explainNow(explainer: AnyExplainer | string, req: ExplainRequest): Promise<Attribution> {
  await ensureBackend();
  const registry = req.registry ?? defaultRegistry;
  const ex = typeof explainer === 'string' ? registry.get(explainer) : explainer;
  const options = resolveOptions(ex.id, ex.options, req.options ?? {});
  const ownTap = !(req.model instanceof ModelTap);
  const tap = ModelTap.from(req.model);
  const engine = tf.engine();
  engine.startScope('cnn-xai.explain');
  let ended = false;
  try {
    const raw = req.input;
    const input = (raw.rank === tap.inputShape.length ? tf.expandDims(raw, 0) : raw) as tf.Tensor4D;
    const checker: ModelTap = tap;
    checker.checkInput(input);
    const throwIfAborted = (): void => {
      if (req.signal?.aborted) throw new AbortError(req.signal.reason);
    };
    throwIfAborted();
    const target = resolveTarget(req.target, tap, input);
    // An explicit `seed` option wins, then the call's seed, then the schema's default.
    const seedGiven = req.options?.['seed'];
    const seedOpt = (options as Record<string, unknown>)['seed'];
    const seed =
      seedGiven !== undefined && typeof seedOpt === 'number'
        ? seedOpt
        : (req.seed ?? (typeof seedOpt === 'number' ? seedOpt : 0));
    const ctx: ExplainContext = {
      tap,
      target,
      random: createRandom(seed),
      registry,
      signal: req.signal,
      progress: (f) => req.onProgress?.(Math.min(1, Math.max(0, f))),
      throwIfAborted,
    };
    const result = await ex.explain(input, ctx, options);
    const keep = [result.values, ...tensorsOf(result.extras)];
    engine.endScope(keep);
    ended = true;
    req.onProgress?.(1);
    return {
      ...result,
      explainer: ex.id,
      target: result.target !== undefined ? result.target : target.classes,
      dispose() {
        for (const t of keep) if (!t.isDisposed) t.dispose();
      },
    };
  } catch (e) {
    if (!ended) engine.endScope();
    throw e;
  } finally {
    if (ownTap) tap.dispose();
  }
}
