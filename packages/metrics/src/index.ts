export {
  SCORE_MODES,
  orderByDecreasing,
  ranksOf,
  saliencyRows,
  type AttributionLike,
  type MetricModel,
  type ScoreMode,
} from './common.js';
export type { MetricResult, MetricDefinition, AnyMetric, MetricKind, MetricNeeds, MetricRunContext } from './types.js';
export {
  deletion,
  insertion,
  averageDropIncrease,
  trapezoidAuc,
  deletionOptions,
  insertionOptions,
  dropIncreaseOptions,
  SUBSTRATES,
  DEFAULT_CURVE_STEPS,
  type Substrate,
  type MapMetricRequest,
  type DropIncreaseResult,
} from './faithfulness.js';
export {
  pointingGame,
  energyPointingGame,
  bboxScore,
  meanIoU,
  pointingGameOptions,
  energyPointingGameOptions,
  bboxOptions,
  miouOptions,
  POINTING_TOLERANCE_224,
  type LocalisationRequest,
} from './localisation.js';
export { masksFrom, boxMasksFrom, regionMasks, boxOfMask, REGIONS, type GroundTruth, type Box, type Region } from './ground-truth.js';
export { rankData, pearson, spearman, percentile, absNorm, divergingNorm, norm01, ssim, type Map2d, type SsimOptions } from './stats.js';
export {
  modelRandomisation,
  weightedLayers,
  cloneModel,
  sanityOptions,
  RANDOMISATION_MODES,
  type RandomisationMode,
  type SanityRequest,
  type SanityResult,
  type SanityStep,
} from './sanity.js';
export {
  infidelity,
  maxSensitivity,
  infidelityOptions,
  maxSensitivityOptions,
  MULTIPLIES_BY_INPUTS,
  type InfidelityRequest,
  type MaxSensitivityRequest,
} from './robustness.js';
export {
  METRICS,
  METRIC_ALIASES,
  getMetric,
  defineMetric,
  deletionMetric,
  insertionMetric,
  averageDropMetric,
  increaseMetric,
  pointingGameMetric,
  energyPointingGameMetric,
  bboxMetric,
  miouMetric,
  infidelityMetric,
  maxSensitivityMetric,
  sanityCascadingMetric,
  sanityIndependentMetric,
} from './metrics.js';
export {
  evaluate,
  applicableMetrics,
  jsonSafe,
  type EvaluateRequest,
  type EvaluationReport,
  type MethodEntry,
  type MetricEntry,
  type MetricInfo,
} from './evaluate.js';
export { reportMarkdown, formatValue } from './markdown.js';
