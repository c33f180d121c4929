import * as tf from '@tensorflow/tfjs-core';
import {
  BlackBoxModel,
  CnnXaiError,
  defaultRegistry,
  explain,
  resolveOptions,
  type AnyExplainer,
  type Attribution,
  type Registry,
  type Target,
} from '@cnn-xai/core';
import { checkBatch, predictorOf, resolveClasses, type MetricModel } from './common.js';
import type { GroundTruth } from './ground-truth.js';
import { getMetric, METRICS } from './metrics.js';
import type { AnyMetric, MetricResult } from './types.js';

export interface EvaluateRequest {
  model: MetricModel;
  /** [N, H, W, C] float32 images. */
  input: tf.Tensor;
  /** Explainers (or ids) to evaluate. */
  methods: ReadonlyArray<AnyExplainer | string>;
  /** Metric ids (or aliases); default: every metric that applies (see `applicableMetrics`). */
  metrics?: readonly string[];
  /** Classes explained and scored: `top` (default, resolved once on the original images), an index, or one per image. */
  target?: Target;
  groundTruth?: GroundTruth;
  /** Explainer options per method id. */
  explainerOptions?: Readonly<Record<string, Record<string, unknown>>>;
  /** Metric options per metric id. */
  metricOptions?: Readonly<Record<string, Record<string, unknown>>>;
  /** Seed of every random stream (explainers and metrics). Default 0. */
  seed?: number;
  registry?: Registry;
  signal?: AbortSignal;
  /** Called as work proceeds: the method, the metric (null while explaining) and that step's fraction. */
  onProgress?: (e: { method: string; metric: string | null; fraction: number }) => void;
  /** Rethrow the first error instead of recording it in the report. */
  strict?: boolean;
  /** Free-form information copied into the report (model path, fixture, backend, ...). */
  meta?: Record<string, unknown>;
  /** Per-image values and details in the report (default true). */
  details?: boolean;
  /**
   * At most this many images (the first ones) for the metric with this id: a way to keep the
   * metrics that re-run the method (max-sensitivity, sanity checks) cheap in quick reports.
   */
  imageLimits?: Readonly<Record<string, number>>;
}

export interface MetricInfo {
  id: string;
  name: string;
  kind: string;
  better: 'higher' | 'lower';
  unit?: '%';
  description: string;
  reference: string;
  /** The options as given, defaults filled in (0 / -1 mean auto where an option says so). */
  options: Record<string, unknown>;
  /** The options as the first method that ran it resolved them (auto values made concrete: step, tolerance, ...). */
  resolved?: Record<string, unknown>;
}

/** One metric of one method: JSON-ready (NaN becomes null). */
export interface MetricEntry {
  value: number | null;
  /** Images the metric ran on, when fewer than the report's (see `imageLimits`). */
  images?: number;
  perImage?: Array<number | null>;
  ms: number;
  details?: Record<string, unknown>;
  /** Why the metric failed. */
  error?: string;
  /** Why the metric was not run (e.g. no ground truth). */
  skipped?: string;
}

export interface MethodEntry {
  id: string;
  name: string;
  kind: string;
  family: string;
  /** Explainer options used (defaults filled in). */
  options: Record<string, unknown>;
  /** Wall time of explaining the whole batch. */
  explainMs: number | null;
  error?: string;
  metrics: Record<string, MetricEntry>;
}

/** The report `evaluate()` returns and the CLI writes as JSON (the site's evaluation chapter reads it). */
export interface EvaluationReport {
  schema: 'cnn-xai/evaluation@1';
  created: string;
  images: number;
  inputShape: number[];
  /** The class explained and scored for each image. */
  classes: number[];
  seed: number;
  groundTruth: { masks: boolean; boxes: boolean };
  metrics: MetricInfo[];
  methods: MethodEntry[];
  meta: Record<string, unknown>;
}

/** The metrics that can run for this request: ground-truth metrics only with ground truth, sanity checks only on a LayersModel. */
export function applicableMetrics(opts: { groundTruth?: GroundTruth | undefined; model?: MetricModel | undefined }): AnyMetric[] {
  const gt = opts.groundTruth !== undefined && (opts.groundTruth.masks !== undefined || opts.groundTruth.boxes !== undefined);
  return METRICS.filter((m) => (!m.needs.groundTruth || gt) && (!m.needs.layersModel || !(opts.model instanceof BlackBoxModel)));
}

const clean = (v: number): number | null => (Number.isFinite(v) ? Number(v.toPrecision(6)) : null);

/** Numbers rounded to 6 significant digits, NaN/Infinity as null, typed arrays as arrays (for JSON). */
export function jsonSafe(v: unknown): unknown {
  if (typeof v === 'number') return clean(v);
  if (ArrayBuffer.isView(v)) return Array.from(v as unknown as ArrayLike<number>, clean);
  if (Array.isArray(v)) return v.map(jsonSafe);
  if (v instanceof tf.Tensor) return { shape: v.shape, dtype: v.dtype };
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, jsonSafe(x)]));
  return v;
}

function message(e: unknown): string {
  const m = e instanceof Error ? e.message : String(e);
  return (m.split('\n')[0] ?? m).trim();
}

/** The first `k` images of a batch, its attribution and ground truth (the caller disposes). */
function subset(x: tf.Tensor4D, attribution: Attribution, classes: number[], gt: GroundTruth | undefined, k: number) {
  const input = tf.slice(x, [0, 0, 0, 0], [k, -1, -1, -1]) as tf.Tensor4D;
  const v = attribution.values;
  const values = tf.slice(v, v.shape.map(() => 0), v.shape.map((_, i) => (i === 0 ? k : -1)));
  const sub: Attribution = { ...attribution, values, target: classes.slice(0, k), extras: {}, dispose: () => values.dispose() };
  let groundTruth: GroundTruth | undefined;
  let masks: tf.Tensor | null = null;
  if (gt) {
    groundTruth = {};
    if (gt.masks instanceof tf.Tensor) {
      masks = tf.slice(gt.masks, gt.masks.shape.map(() => 0), gt.masks.shape.map((_, i) => (i === 0 ? k : -1)));
      groundTruth.masks = masks;
    } else if (gt.masks) groundTruth.masks = gt.masks.slice(0, k);
    if (gt.boxes) groundTruth.boxes = gt.boxes.slice(0, k);
  }
  return {
    input,
    attribution: sub,
    groundTruth,
    dispose() {
      tf.dispose([input, values, ...(masks ? [masks] : [])]);
    },
  };
}

/** Keeps a report small: curves become their mean over images. */
function summariseDetails(r: MetricResult): Record<string, unknown> | undefined {
  if (!r.details) return undefined;
  const d = { ...r.details };
  const curves = d['curves'];
  if (Array.isArray(curves) && curves.length) {
    const len = (curves[0] as number[]).length;
    d['meanCurve'] = Array.from({ length: len }, (_, k) => (curves as number[][]).reduce((a, c) => a + (c[k] as number), 0) / curves.length);
    delete d['curves'];
  }
  return jsonSafe(d) as Record<string, unknown>;
}

/**
 * Runs every method on the batch, then every metric on each method's maps, and returns a
 * JSON-ready report. Targets are resolved once (default: each image's predicted class) so all
 * methods explain and are scored on the same classes. A method or metric that fails is recorded
 * with its error (unless `strict`), so one bad method does not lose the rest of a report.
 * Tensors are released as it goes.
 */
export async function evaluate(req: EvaluateRequest): Promise<EvaluationReport> {
  const registry = req.registry ?? defaultRegistry;
  const seed = req.seed ?? 0;
  const details = req.details !== false;
  const metrics = req.metrics ? [...new Set(req.metrics.map((id) => getMetric(id)))] : applicableMetrics(req);
  const metricOptions = new Map<string, Record<string, unknown>>();
  for (const m of metrics) metricOptions.set(m.id, resolveOptions(m.id, m.options, req.metricOptions?.[m.id] ?? {}) as Record<string, unknown>);
  for (const id of Object.keys(req.metricOptions ?? {})) {
    if (!metrics.some((m) => m.id === (getMetric(id).id))) {
      throw new CnnXaiError('UNKNOWN_OPTION', `Options were given for metric "${id}", which is not evaluated.`, `Evaluated: ${metrics.map((m) => m.id).join(', ')}.`);
    }
  }
  const explainers = req.methods.map((m) => (typeof m === 'string' ? registry.get(m) : m));
  const { predictor, release } = predictorOf(req.model);
  let classes: number[];
  let x: tf.Tensor4D;
  try {
    x = checkBatch(req.input, predictor, 'evaluation');
    classes = await resolveClasses(req.target, null, predictor, x);
  } finally {
    release();
  }
  const n = x.shape[0];
  const hasGt = { masks: req.groundTruth?.masks !== undefined, boxes: req.groundTruth?.boxes !== undefined };
  const report: EvaluationReport = {
    schema: 'cnn-xai/evaluation@1',
    created: new Date().toISOString(),
    images: n,
    inputShape: [...x.shape],
    classes,
    seed,
    groundTruth: hasGt,
    metrics: metrics.map((m) => ({
      id: m.id,
      name: m.name,
      kind: m.kind,
      better: m.better,
      ...(m.unit ? { unit: m.unit } : {}),
      description: m.description,
      reference: m.reference,
      options: jsonSafe(metricOptions.get(m.id)) as Record<string, unknown>,
    })),
    methods: [],
    meta: req.meta ?? {},
  };
  for (const ex of explainers) {
    const explainerOptions = { ...(req.explainerOptions?.[ex.id] ?? {}) };
    const entry: MethodEntry = {
      id: ex.id,
      name: ex.name,
      kind: ex.kind,
      family: ex.family,
      options: {},
      explainMs: null,
      metrics: {},
    };
    report.methods.push(entry);
    let attribution: Attribution | null = null;
    try {
      entry.options = jsonSafe(resolveOptions(ex.id, ex.options, explainerOptions)) as Record<string, unknown>;
      if (ex.kind === 'visualization') throw new CnnXaiError('UNSUPPORTED_MODEL', `${ex.id} is a visualizer: it makes images, not attribution maps to evaluate.`);
      const t0 = performance.now();
      attribution = await explain(ex, {
        model: req.model,
        input: x,
        target: classes,
        options: explainerOptions,
        seed,
        registry,
        ...(req.signal ? { signal: req.signal } : {}),
        onProgress: (f) => req.onProgress?.({ method: ex.id, metric: null, fraction: f }),
      });
      await attribution.values.data();
      entry.explainMs = Number((performance.now() - t0).toFixed(1));
    } catch (e) {
      if (req.strict) throw e;
      entry.error = message(e);
      continue;
    }
    try {
      for (const m of metrics) {
        const t0 = performance.now();
        if (m.needs.groundTruth && !hasGt.masks && !hasGt.boxes) {
          entry.metrics[m.id] = { value: null, ms: 0, skipped: 'no ground-truth masks or boxes' };
          continue;
        }
        if (m.needs.layersModel && req.model instanceof BlackBoxModel) {
          entry.metrics[m.id] = { value: null, ms: 0, skipped: 'needs a tf.LayersModel' };
          continue;
        }
        const limit = req.imageLimits?.[m.id];
        const sub = limit !== undefined && limit < n ? subset(x, attribution, classes, req.groundTruth, limit) : null;
        try {
          const gt = sub ? sub.groundTruth : req.groundTruth;
          const r = await m.run(
            {
              model: req.model,
              input: sub ? sub.input : x,
              attribution: sub ? sub.attribution : attribution,
              explainer: ex,
              explainerOptions,
              target: sub ? classes.slice(0, limit) : classes,
              ...(gt ? { groundTruth: gt } : {}),
              registry,
              seed,
              ...(req.signal ? { signal: req.signal } : {}),
              onProgress: (f) => req.onProgress?.({ method: ex.id, metric: m.id, fraction: f }),
            },
            metricOptions.get(m.id) as never,
          );
          const ms = Number((performance.now() - t0).toFixed(1));
          const info = report.metrics.find((i) => i.id === m.id);
          if (info && !info.resolved) info.resolved = jsonSafe(r.options) as Record<string, unknown>;
          const d = details ? summariseDetails(r) : undefined;
          entry.metrics[m.id] = {
            value: clean(r.value),
            ...(sub ? { images: limit as number } : {}),
            ...(details ? { perImage: r.perImage.map(clean) } : {}),
            ms,
            ...(d ? { details: d } : {}),
          };
          if (m.kind === 'sanity' && r.details) {
            // The verdict is small and useful even without details.
            const flagged = (r.details as { flagged?: boolean }).flagged;
            (entry.metrics[m.id] as MetricEntry).details = { ...(d ?? {}), flagged };
          }
        } catch (e) {
          if (req.strict) throw e;
          entry.metrics[m.id] = { value: null, ms: Number((performance.now() - t0).toFixed(1)), error: message(e) };
        } finally {
          sub?.dispose();
        }
      }
    } finally {
      attribution.dispose();
    }
  }
  return report;
}
