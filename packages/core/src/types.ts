import type * as tf from '@tensorflow/tfjs-core';
import type { OptionsOf, OptionsSchema } from './options.js';
import type { RandomStream } from './random.js';
import type { Registry } from './registry.js';
import type { Predictor } from './black-box.js';
import type { NamedRule } from './tap/relu-rules.js';
import type { ModelTap } from './tap/tap.js';
import type { ResolvedTarget } from './targets.js';

export type ExplainerKind = 'gradient' | 'cam' | 'perturbation' | 'relevance' | 'visualization';

/** What an explainer needs from the model; the site greys out what a model cannot give. */
export interface ModelAccess {
  /** Needs gradients through the model (false: black box, scores only). */
  gradients: boolean;
  /** Needs a layer's activations (CAM family, SISE): `conv` means a layer with a 4-D output. */
  layer?: 'conv' | 'any';
  /** Walks every layer with per-layer rules (LRP). */
  graph?: boolean;
}

export interface PaperRef {
  title: string;
  authors: string;
  year: number;
  url: string;
}

/** The value a method-specific extra may take in an attribution result. */
export type Extra = number | string | boolean | number[] | string[] | tf.Tensor | Record<string, unknown>;

/**
 * What `explain()` returns. `values` is at input resolution: `[N, H, W, C]` for maps that keep
 * channels (gradients) or `[N, H, W]` for single-channel maps (CAMs). The caller owns the
 * tensors and releases them with `dispose()`.
 */
export interface Attribution {
  explainer: string;
  values: tf.Tensor;
  /** True when negative values carry meaning (gradients, IG); false for rectified maps. */
  signed: boolean;
  /** The class explained per image, or null for a custom target function. */
  target: number[] | null;
  /** Layer(s) whose activations the method used. */
  layer?: string | string[];
  /** Method-specific results: IG's completeness delta, Grad-CAM's layer-resolution map, ... */
  extras: Record<string, Extra>;
  dispose(): void;
}

/** What an explainer's `explain` returns; core adds `explainer` and `dispose`. */
export type AttributionResult = Omit<Attribution, 'explainer' | 'dispose' | 'target'> & {
  target?: number[] | null;
};

export interface ExplainContext {
  /**
   * The model, run layer by layer, with activations, gradients and backward-rule overrides.
   * Reading it when the model is a black box (`blackBox(fn)`) throws `UNSUPPORTED_MODEL`:
   * black-box explainers use `model` only.
   */
  tap: ModelTap;
  /**
   * The model as a scores function: the tap (its batches split between worker threads when the
   * call has workers), or the black box. `await ctx.model.predict(x)`.
   */
  model: Predictor;
  /**
   * d(target score)/d(input) for a batch, split between worker threads like `model.predict`.
   * `rows[r]` is the image row r belongs to (IG's path points, SmoothGrad's samples); default:
   * row r is image r. `rule` names a backward rule (`NAMED_RULES`: guided backprop's and the
   * deconvnet's ReLU rules), which worker threads apply too. Throws `UNSUPPORTED_MODEL` for a
   * black box.
   */
  inputGradient(x: tf.Tensor, rows?: readonly number[], opts?: { rule?: NamedRule }): Promise<tf.Tensor>;
  /**
   * The target score's gradient at a layer's activation, with the activation, split between
   * worker threads like `inputGradient` (Integrated Grad-CAM's path points).
   */
  layerGradient(x: tf.Tensor, layer: string, rows?: readonly number[]): Promise<{ gradient: tf.Tensor; activation: tf.Tensor }>;
  /** Threads that share `model.predict`, `inputGradient` and `layerGradient` batches (1: this thread only). */
  threads: number;
  /** What to explain: class indices (or a custom function) resolved for this batch. */
  target: ResolvedTarget;
  /** Seeded random stream (from the `seed` option or the call's seed). */
  random: RandomStream;
  /** The registry the explainer was found in, for compositions (guided Grad-CAM). */
  registry: Registry;
  signal: AbortSignal | undefined;
  /** Reports progress in [0, 1]; long methods call it between batches. */
  progress(fraction: number): void;
  /** Throws `AbortError` if the signal has fired. Call it between batches. */
  throwIfAborted(): void;
}

export interface Explainer<S extends OptionsSchema = OptionsSchema> {
  /** Kebab-case, unique and stable: used in CLI flags, URLs and slide anchors. */
  readonly id: string;
  readonly name: string;
  /** The technique family, e.g. `gradient`, `cam`; also the plugin package's name. */
  readonly family: string;
  readonly kind: ExplainerKind;
  readonly description: string;
  readonly paper?: PaperRef;
  readonly requires: ModelAccess;
  readonly options: S;
  explain(input: tf.Tensor4D, ctx: ExplainContext, options: OptionsOf<S>): Promise<AttributionResult>;
}

/** An explainer with its option types erased, as the registry stores it. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyExplainer = Explainer<any>;
