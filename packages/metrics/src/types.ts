import type * as tf from '@tensorflow/tfjs-core';
import type { AnyExplainer, OptionsOf, OptionsSchema, Registry, Target } from '@cnn-xai/core';
import type { AttributionLike, MetricModel } from './common.js';
import type { GroundTruth } from './ground-truth.js';

export type MetricKind = 'faithfulness' | 'localisation' | 'sanity' | 'robustness';

/** One metric's outcome on a batch. `value` aggregates `perImage` (see each metric). */
export interface MetricResult {
  metric: string;
  /** The reported number (NaN when undefined for every image). */
  value: number;
  /** One value per image (NaN where undefined), in input order. */
  perImage: number[];
  /** Secondary numbers (e.g. overall vs per-class accuracy, per-layer sanity tables, curves). */
  details?: Record<string, unknown>;
  /** The options used, defaults filled in (and `auto` values resolved). */
  options: Record<string, unknown>;
}

/** What a metric definition gets from `evaluate()` or from a direct call. */
export interface MetricRunContext {
  model: MetricModel;
  /** [N, H, W, C] float32 images. */
  input: tf.Tensor4D;
  /** The explanation to score (for metrics that score a given map). */
  attribution?: AttributionLike;
  /** The explainer that made it (for metrics that re-run it: sanity checks, max-sensitivity). */
  explainer?: AnyExplainer | string;
  explainerOptions?: Record<string, unknown>;
  target?: Target;
  groundTruth?: GroundTruth;
  registry?: Registry;
  seed?: number;
  signal?: AbortSignal;
  onProgress?: (fraction: number) => void;
}

export interface MetricNeeds {
  /** The attribution map of the method (every metric but the re-running ones). */
  attribution?: boolean;
  /** The explainer itself, to run again on changed inputs or models. */
  explainer?: boolean;
  /** Ground-truth masks or boxes. */
  groundTruth?: boolean;
  /** A tf.LayersModel (weights to randomise), not a black box. */
  layersModel?: boolean;
}

/** A metric as `evaluate()`, the CLI and the site see it. */
export interface MetricDefinition<S extends OptionsSchema = OptionsSchema> {
  /** Kebab-case, stable: used in `--metric`, in report JSON keys and in URLs. */
  readonly id: string;
  readonly name: string;
  readonly kind: MetricKind;
  /** Which direction is better, for tables and the site's arrows. */
  readonly better: 'higher' | 'lower';
  /** `%` for percentages, else unitless. */
  readonly unit?: '%';
  /** One line: what it measures and how. */
  readonly description: string;
  /** Paper or code the definition follows. */
  readonly reference: string;
  readonly needs: MetricNeeds;
  readonly options: S;
  run(ctx: MetricRunContext, options: OptionsOf<S>): Promise<MetricResult>;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyMetric = MetricDefinition<any>;
