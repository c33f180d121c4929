import * as tf from '@tensorflow/tfjs-core';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { isNode } from '../backend.js';
import type { Predictor } from '../black-box.js';
import { CnnXaiError } from '../errors.js';
import type { ModelTap, ScoreFn } from '../tap/tap.js';
import { namedRule, type NamedRule } from '../tap/relu-rules.js';
import { runOp, scoresOf } from './ops.js';
import { cpuCount, takeWorkers, WorkerFailure, type WorkerHandle } from './pool.js';
import type { ModelPayload, Op, Part } from './protocol.js';

/**
 * How many worker threads share a call's many-pass work: a count (0: this thread only) or
 * `auto`: in Node on the wasm or cpu backend, one per logical CPU beyond the first (at most 7);
 * elsewhere 0 (tfjs-node is multi-threaded already; WebGL / WebGPU run on the GPU).
 */
export type Workers = number | 'auto';

let defaultWorkers: Workers | null = null;

/** Sets the `workers` used when a call does not give one (default: `CNN_XAI_WORKERS`, else `auto`). */
export function setDefaultWorkers(workers: Workers): void {
  checkWorkers(workers);
  defaultWorkers = workers;
}

function checkWorkers(w: unknown): asserts w is Workers {
  if (w === 'auto') return;
  if (typeof w !== 'number' || !Number.isInteger(w) || w < 0 || w > 64) {
    throw new CnnXaiError('BAD_OPTION_VALUE', `workers must be "auto" or an integer from 0 to 64; got ${JSON.stringify(w)}.`, 'Use e.g. workers: 1, or 0 for this thread only.');
  }
}

function envWorkers(): Workers | null {
  const env = isNode() ? (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env?.['CNN_XAI_WORKERS'] : undefined;
  if (env === undefined || env === '') return null;
  const w = env === 'auto' ? 'auto' : Number(env);
  checkWorkers(w);
  return w;
}

/** The backends worker threads can run: each thread starts its own instance of it. */
function workerBackend(): 'wasm' | 'cpu' | null {
  const b = tf.getBackend();
  return b === 'wasm' || b === 'cpu' ? b : null;
}

/**
 * The number of worker threads a call with this `workers` value uses on the active backend
 * (0 where threads cannot help or run: outside Node, or on tensorflow / webgl / webgpu).
 */
export async function resolveWorkers(workers?: Workers): Promise<number> {
  const w = workers ?? defaultWorkers ?? envWorkers() ?? 'auto';
  checkWorkers(w);
  if (!isNode() || workerBackend() === null || disabledReason !== null) return 0;
  if (w === 'auto') return Math.max(0, Math.min(7, (await cpuCount()) - 1));
  return w;
}

/** Set when worker threads failed to start under `auto`: later calls stay on this thread. */
let disabledReason: string | null = null;
let warned = false;

interface ModelEntry {
  key: number;
  dataIds: unknown[];
  artifacts: Promise<ModelPayload> | null;
  /** Why the workers cannot load this model (auto mode then computes on this thread). */
  broken: string | null;
}
let nextKey = 1;
const entries = new WeakMap<LayersModel, Map<string, ModelEntry>>();

/**
 * The key the workers know this model (with these tap options) by. New weights (setWeights,
 * a sanity check's randomisation) make a new key, so workers never run stale weights.
 */
function entryOf(tap: ModelTap): ModelEntry {
  const ids = tap.model.weights.map((w) => (w.read() as unknown as { dataId: unknown }).dataId);
  let byOptions = entries.get(tap.model);
  if (!byOptions) entries.set(tap.model, (byOptions = new Map()));
  const opts = JSON.stringify(tap.options);
  let e = byOptions.get(opts);
  if (!e || e.dataIds.length !== ids.length || e.dataIds.some((d, i) => d !== ids[i])) {
    e = { key: nextKey++, dataIds: ids, artifacts: null, broken: null };
    byOptions.set(opts, e);
  }
  return e;
}

async function serialize(model: LayersModel): Promise<ModelPayload> {
  let got: tf.io.ModelArtifacts | null = null;
  await model.save(
    tf.io.withSaveHandler(async (a) => {
      got = a;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  const a = got as tf.io.ModelArtifacts | null;
  if (!a?.modelTopology || !a.weightSpecs || a.weightData === undefined) throw new Error('the model did not serialize');
  return { modelTopology: a.modelTopology, weightSpecs: a.weightSpecs, weightData: a.weightData as ArrayBuffer | ArrayBuffer[] };
}

/**
 * A float32 tensor's values as a view of the wasm backend's memory (no copy), or null on other
 * backends. Valid only until the next tf.js call (the memory may grow and move): copy out at once.
 */
function wasmView(x: tf.Tensor): Float32Array | null {
  if (tf.getBackend() !== 'wasm' || x.dtype !== 'float32') return null;
  const b = tf.backend() as unknown as {
    dataIdMap?: { get(id: unknown): { memoryOffset?: number } | undefined };
    wasm?: { HEAPU8?: Uint8Array };
  };
  const offset = b.dataIdMap?.get(x.dataId)?.memoryOffset;
  const heap = b.wasm?.HEAPU8;
  if (typeof offset !== 'number' || !heap || offset + x.size * 4 > heap.byteLength) return null;
  return new Float32Array(heap.buffer, heap.byteOffset + offset, x.size);
}

/** Splits n rows into `parts` consecutive ranges whose sizes differ by at most one. */
export function splitRows(n: number, parts: number): Array<[number, number]> {
  const p = Math.max(1, Math.min(parts, n));
  const out: Array<[number, number]> = [];
  let s = 0;
  for (let i = 0; i < p; i++) {
    const size = Math.floor(n / p) + (i < n % p ? 1 : 0);
    out.push([s, s + size]);
    s += size;
  }
  return out;
}

/**
 * A model tap whose batched forward passes and input gradients are split between this thread
 * and worker threads, each running the same tap code on its own backend instance. Rows are
 * independent, so the result is what the tap alone gives (the tests compare them). With no
 * workers (or a model the workers cannot load under `auto`) everything runs on this thread.
 */
export class ParallelTap implements Predictor {
  constructor(
    readonly tap: ModelTap,
    /** Worker threads to use (0: this thread only). */
    readonly workers: number,
    /** True when the count was asked for explicitly: failures are errors, not fallbacks. */
    readonly explicit = false,
  ) {}

  get inputShape(): readonly (number | null)[] {
    return this.tap.inputShape;
  }

  /** Threads that share a batch: this one plus the workers. */
  get threads(): number {
    return this.workers + 1;
  }

  checkInput(x: tf.Tensor): asserts x is tf.Tensor4D {
    this.tap.checkInput(x);
  }

  /** The tap's output (logits by default) for a batch, rows split between threads. */
  async predict(x: tf.Tensor): Promise<tf.Tensor> {
    return (await this.split(x, 'predict', null, null, null))[0] as tf.Tensor;
  }

  /**
   * d(sum of rows' scores)/dx. With `classes`, row r's score is its logit for `classes[r]` (as
   * `classScores` computes it) and the rows are split between threads; a score function cannot
   * travel to a worker, so with one this thread computes it all.
   */
  async inputGradient(x: tf.Tensor, target: readonly number[] | ScoreFn, opts: { rule?: NamedRule } = {}): Promise<tf.Tensor> {
    if (opts.rule !== undefined) namedRule(opts.rule);
    if (typeof target === 'function') return runOp(this.tap, x, 'gradient', target, null, opts.rule ?? null)[0] as tf.Tensor;
    this.checkClasses(x, target);
    return (await this.split(x, 'gradient', target, null, opts.rule ?? null))[0] as tf.Tensor;
  }

  /**
   * The same scores' gradient at a layer's activation, and the activation (Grad-CAM's pair, for
   * many path points at once), rows split between threads when the target is classes.
   */
  async layerGradient(
    x: tf.Tensor,
    target: readonly number[] | ScoreFn,
    layer: string,
  ): Promise<{ gradient: tf.Tensor; activation: tf.Tensor }> {
    this.tap.layer(layer); // UNKNOWN_LAYER before anything runs
    let parts: tf.Tensor[];
    if (typeof target === 'function') parts = runOp(this.tap, x, 'layerGradient', target, layer, null);
    else {
      this.checkClasses(x, target);
      parts = await this.split(x, 'layerGradient', target, layer, null);
    }
    const [gradient, activation] = parts as [tf.Tensor, tf.Tensor];
    return { gradient, activation };
  }

  private checkClasses(x: tf.Tensor, classes: readonly number[]): void {
    if (classes.length !== x.shape[0]) {
      throw new CnnXaiError('BAD_TARGET', `Got ${classes.length} classes for ${x.shape[0]} rows.`, 'Give one class per row.');
    }
  }

  private async split(
    x: tf.Tensor,
    op: Op,
    classes: readonly number[] | null,
    layer: string | null,
    rule: string | null,
  ): Promise<tf.Tensor[]> {
    this.checkInput(x);
    const n = x.shape[0];
    const entry = this.workers > 0 ? entryOf(this.tap) : null;
    const ranges = splitRows(n, this.threads);
    if (!entry || entry.broken !== null || ranges.length < 2) return runOp(this.tap, x, op, scoresOf(classes), layer, rule);
    let handles: WorkerHandle[];
    try {
      handles = await takeWorkers(workerBackend() as 'wasm' | 'cpu', ranges.length - 1);
      entry.artifacts ??= serialize(this.tap.model);
      const artifacts = await entry.artifacts;
      handles.forEach((h) => h.load(entry.key, artifacts, this.tap.options));
    } catch (e) {
      this.cannotStart(e, entry);
      return runOp(this.tap, x, op, scoresOf(classes), layer, rule);
    }
    const row = x.size / n;
    const rest = x.shape.slice(1);
    const [s0, e0] = ranges[0] as [number, number];
    // On wasm, read the rows straight from the backend's memory: a download of the whole batch
    // and tf.slice both copy every element (slowly), and this thread needs only its own rows.
    const view = wasmView(x);
    const data = view ?? ((await x.data()) as Float32Array);
    const ownRows = view ? view.slice(s0 * row, e0 * row) : null;
    const remote = ranges.slice(1).map(([s, e], i) =>
      (handles[i] as WorkerHandle).run(
        entry.key,
        op,
        [e - s, ...rest],
        data.slice(s * row, e * row),
        classes ? Int32Array.from(classes.slice(s, e)) : null,
        layer,
        rule,
      ),
    );
    // This thread's share runs while the workers run theirs.
    let own: tf.Tensor[] | null = null;
    try {
      own = tf.tidy(() => {
        const mine = ownRows ? tf.tensor(ownRows, [e0 - s0, ...rest]) : tf.slice(x, [s0, ...rest.map(() => 0)], [e0 - s0, ...rest]);
        return runOp(this.tap, mine, op, scoresOf(classes ? classes.slice(s0, e0) : null), layer, rule);
      });
    } finally {
      if (!own) await Promise.allSettled(remote);
    }
    const settled = await Promise.allSettled(remote);
    const failed = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) {
      tf.dispose(own);
      if (failed.reason instanceof WorkerFailure && failed.reason.name === 'WorkerModelError') {
        this.cannotLoad(failed.reason, entry);
        return runOp(this.tap, x, op, scoresOf(classes), layer, rule);
      }
      throw rebuild(failed.reason);
    }
    const remoteParts = settled.map((r) => (r as PromiseFulfilledResult<Part[]>).value);
    const mine = own;
    return mine.map((t, j) => {
      const theirs = remoteParts.map((parts) => tf.tensor((parts[j] as Part).data, (parts[j] as Part).shape));
      const all = tf.concat([t, ...theirs], 0);
      tf.dispose([t, ...theirs]);
      return all;
    });
  }

  private cannotStart(e: unknown, entry: ModelEntry): void {
    const why = e instanceof Error ? e.message : String(e);
    if (this.explicit) {
      throw new CnnXaiError('BACKEND_UNAVAILABLE', `cnn-xai's worker threads could not start: ${why}.`, 'Run with workers: 0 (this thread only).');
    }
    if (e instanceof Error && /serialize|save|getConfig|class/i.test(why)) entry.broken = why;
    else disabledReason = why;
    warnOnce(`cnn-xai: worker threads unavailable (${why}); running on one thread.`);
  }

  private cannotLoad(e: WorkerFailure, entry: ModelEntry): void {
    entry.broken = e.message;
    if (this.explicit) {
      throw new CnnXaiError(
        'UNSUPPORTED_MODEL',
        `A worker thread could not load this model: ${e.message}.`,
        'Models with custom layers run on this thread only: use workers: 0.',
      );
    }
    warnOnce(`cnn-xai: worker threads could not load this model (${e.message}); running it on one thread.`);
  }
}

function warnOnce(msg: string): void {
  if (warned) return;
  warned = true;
  console.warn(msg);
}

function rebuild(e: unknown): Error {
  if (e instanceof WorkerFailure && e.detail.code) {
    return new CnnXaiError(e.detail.code as ConstructorParameters<typeof CnnXaiError>[0], e.detail.message);
  }
  return e instanceof Error ? e : new Error(String(e));
}
