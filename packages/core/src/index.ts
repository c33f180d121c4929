export { CnnXaiError, AbortError, isCnnXaiError, listNames, type ErrorCode } from './errors.js';
export {
  opt,
  resolveOptions,
  coerceOption,
  type OptionSpec,
  type OptionsSchema,
  type OptionsOf,
  type NumberSpec,
  type BooleanSpec,
  type ChoiceSpec,
  type StringSpec,
  type LayerSpec,
  type ChoiceOrValueSpec,
} from './options.js';
export type {
  Explainer,
  AnyExplainer,
  ExplainerKind,
  ModelAccess,
  PaperRef,
  Attribution,
  AttributionResult,
  ExplainContext,
  Extra,
} from './types.js';
export { defineExplainer } from './define-explainer.js';
export { createRegistry, defaultRegistry, type Registry } from './registry.js';
export { explain, type ExplainRequest } from './explain.js';
export { blackBox, BlackBoxModel, type BlackBoxOptions, type Predictor, type ScoresFunction } from './black-box.js';
export { resolveTarget, resolveTargetWith, classScores, type Target, type ResolvedTarget } from './targets.js';
export { createRandom, type RandomStream } from './random.js';
export {
  selectBackend,
  ensureBackend,
  defaultOrder,
  isNode,
  BACKENDS,
  type BackendName,
  type BackendChoice,
  type BackendAttempt,
} from './backend.js';
export {
  ModelTap,
  type TapOp,
  type TapOptions,
  type BackwardOverride,
  type LayerInfo,
  type ScoreFn,
  type GradientResult,
} from './tap/tap.js';
export {
  computePads,
  dilate,
  maxPoolGradFirstMax,
  conv2dInputGrad,
  depthwiseInputGrad,
  avgPoolInputGrad,
  flipConvKernel,
  flipDepthwiseKernel,
  spreadKernel,
  type Pads,
  type ConvParams,
  type PoolParams,
} from './tap/grad-ops.js';
export type { GradientMode } from './tap/kernels.js';
export { guidedReluRule, deconvReluRule, isRelu, NAMED_RULES, type NamedRule } from './tap/relu-rules.js';
export { resizeBilinear, resizeNearest } from './tensor/resize.js';
export { normalize, minMaxScale, sumChannels } from './tensor/normalize.js';
export { gaussianBlur, gaussianKernel1d } from './tensor/blur.js';
export { makeBaseline, BASELINES, type BaselineName, type BaselineOptions } from './tensor/baselines.js';
export { batchRanges, mapBatches, yieldToEventLoop } from './tensor/batch.js';
export { pearson } from './stats.js';
export { ParallelTap, resolveWorkers, setDefaultWorkers, splitRows, type Workers } from './parallel/runner.js';
export { closeWorkers, runningWorkers, workerStats } from './parallel/pool.js';
export { quadrature, gaussLegendre, RULES, type Rule, type Quadrature } from './quadrature.js';
export { parseNpy, encodeNpy, npyToFloat32, type NpyArray } from './io/npy.js';
export { loadLayersModelFromParts } from './io/model.js';
