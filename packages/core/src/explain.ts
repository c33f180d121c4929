import * as tf from '@tensorflow/tfjs-core';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { ensureBackend } from './backend.js';
import { BlackBoxModel, type Predictor } from './black-box.js';
import { AbortError, CnnXaiError } from './errors.js';
import { resolveOptions } from './options.js';
import { createRandom } from './random.js';
import { defaultRegistry, type Registry } from './registry.js';
import { ParallelTap, resolveWorkers, type Workers } from './parallel/runner.js';
import type { NamedRule } from './tap/relu-rules.js';
import { ModelTap, type ScoreFn } from './tap/tap.js';
import { resolveTarget, resolveTargetWith, type ResolvedTarget, type Target } from './targets.js';
import type { AnyExplainer, Attribution, ExplainContext, Extra } from './types.js';

export interface ExplainRequest {
  /**
   * The model, a tap already built for it (reuse one tap across many calls), or a black box
   * made with `blackBox(fn, { inputShape })` (black-box explainers only).
   */
  model: LayersModel | ModelTap | BlackBoxModel;
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
  /**
   * Worker threads that share the forward passes and input gradients of many-pass methods
   * (IG, SmoothGrad, GradientSHAP, Score-CAM, SISE, occlusion, RISE, LIME, KernelSHAP), each with
   * its own tf.js instance: a count (0: this thread only) or `auto` (default: one per CPU beyond
   * the first, in Node on wasm or cpu). The results are the same as on one thread.
   * Default: `setDefaultWorkers()`, else the `CNN_XAI_WORKERS` environment variable, else `auto`.
   */
  workers?: Workers;
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

/** Explainers that need more than scores refuse a black box before they start. */
function checkAccess(ex: AnyExplainer, registry: Registry): void {
  const { gradients, layer, graph } = ex.requires;
  if (!gradients && !layer && !graph) return;
  const usable = registry
    .list()
    .filter((e) => !e.requires.gradients && !e.requires.layer && !e.requires.graph)
    .map((e) => e.id);
  const needs = graph ? 'every layer of the model' : layer ? "a layer's activations" : 'gradients through the model';
  throw new CnnXaiError(
    'UNSUPPORTED_MODEL',
    `"${ex.id}" needs ${needs}, and a black-box scores function cannot give them.`,
    `Pass a tf.LayersModel, or use a black-box explainer${usable.length ? `: ${usable.join(', ')}` : ' (occlusion, rise, lime, kernel-shap)'}.`,
  );
}

async function blackBoxTarget(target: Target | undefined, model: BlackBoxModel, input: tf.Tensor4D): Promise<ResolvedTarget> {
  const n = input.shape[0];
  let top: number[] = [];
  if (target === undefined || target === 'top') {
    const out = await model.predict(input);
    top = tf.tidy(() => Array.from(tf.argMax(out, 1).dataSync()));
    out.dispose();
  }
  return resolveTargetWith(target, n, model.numClasses, () => top);
}

async function explainNow(explainer: AnyExplainer | string, req: ExplainRequest): Promise<Attribution> {
  await ensureBackend();
  const registry = req.registry ?? defaultRegistry;
  const ex = typeof explainer === 'string' ? registry.get(explainer) : explainer;
  const options = resolveOptions(ex.id, ex.options, req.options ?? {});
  const box = req.model instanceof BlackBoxModel ? req.model : null;
  if (box) checkAccess(ex, registry);
  const ownTap = !box && !(req.model instanceof ModelTap);
  const tap = box ? null : ModelTap.from(req.model as LayersModel | ModelTap);
  const resolved = await resolveWorkers(req.workers);
  const threads = tap ? resolved : 0;
  const parallel = tap ? new ParallelTap(tap, threads, typeof req.workers === 'number') : null;
  const model: Predictor = box ?? (parallel as ParallelTap);
  const engine = tf.engine();
  engine.startScope('cnn-xai.explain');
  let ended = false;
  try {
    const raw = req.input;
    const input = (raw.rank === model.inputShape.length ? tf.expandDims(raw, 0) : raw) as tf.Tensor4D;
    const checker: Predictor = model;
    checker.checkInput(input);
    const throwIfAborted = (): void => {
      if (req.signal?.aborted) throw new AbortError(req.signal.reason);
    };
    throwIfAborted();
    const target = tap ? resolveTarget(req.target, tap, input) : await blackBoxTarget(req.target, box as BlackBoxModel, input);
    // An explicit `seed` option wins, then the call's seed, then the schema's default.
    const seedGiven = req.options?.['seed'];
    const seedOpt = (options as Record<string, unknown>)['seed'];
    const seed =
      seedGiven !== undefined && typeof seedOpt === 'number'
        ? seedOpt
        : (req.seed ?? (typeof seedOpt === 'number' ? seedOpt : 0));
    /** Explainers that need the model's insides refuse a black box (`ctx.tap`, the gradients). */
    const refuseBlackBox = (): never => {
      checkAccess({ ...ex, requires: { gradients: true } }, registry);
      throw new Error('unreachable');
    };
    /**
     * What the rows' gradients are taken of: each row's class (the workers can split those), or
     * a custom target function (computed on this thread).
     */
    const rowTarget = (x: tf.Tensor, rows?: readonly number[]): readonly number[] | ScoreFn => {
      const classes = target.classes;
      if (classes === null) return (out) => target.score(out, rows);
      return (rows ?? [...Array(x.shape[0] as number).keys()]).map((r) => classes[r] as number);
    };
    const ctx = {
      model,
      inputGradient: async (x: tf.Tensor, rows?: readonly number[], opts: { rule?: NamedRule } = {}) =>
        (parallel ?? refuseBlackBox()).inputGradient(x, rowTarget(x, rows), opts),
      layerGradient: async (x: tf.Tensor, layer: string, rows?: readonly number[]) =>
        (parallel ?? refuseBlackBox()).layerGradient(x, rowTarget(x, rows), layer),
      threads: parallel?.threads ?? 1,
      target,
      random: createRandom(seed),
      registry,
      signal: req.signal,
      progress: (f: number) => req.onProgress?.(Math.min(1, Math.max(0, f))),
      throwIfAborted,
    } as Omit<ExplainContext, 'tap'> as ExplainContext;
    Object.defineProperty(ctx, 'tap', {
      enumerable: true,
      get: (): ModelTap => tap ?? refuseBlackBox(),
    });
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
    if (ownTap) tap?.dispose();
  }
}
