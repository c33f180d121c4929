import * as tf from '@tensorflow/tfjs-core';
import { CnnXaiError, type Attribution, type OptionsSchema } from '@cnn-xai/core';
import { attributionTarget } from './common.js';
import {
  averageDropIncrease,
  deletion,
  deletionOptions,
  dropIncreaseOptions,
  insertion,
  insertionOptions,
  type DropIncreaseResult,
} from './faithfulness.js';
import {
  bboxOptions,
  bboxScore,
  energyPointingGame,
  energyPointingGameOptions,
  meanIoU,
  miouOptions,
  pointingGame,
  pointingGameOptions,
} from './localisation.js';
import { infidelity, infidelityOptions, maxSensitivity, maxSensitivityOptions } from './robustness.js';
import { modelRandomisation, sanityOptions } from './sanity.js';
import type { AnyMetric, MetricDefinition, MetricRunContext } from './types.js';

/** Defines a metric (typed options); returns it unchanged. */
export function defineMetric<S extends OptionsSchema>(m: MetricDefinition<S>): MetricDefinition<S> {
  return m;
}

function needAttribution(ctx: MetricRunContext, id: string) {
  if (!ctx.attribution) throw new CnnXaiError('BAD_INPUT_SHAPE', `The ${id} metric scores an attribution map; none was given.`);
  return ctx.attribution;
}

function needExplainer(ctx: MetricRunContext, id: string) {
  if (ctx.explainer === undefined) throw new CnnXaiError('UNKNOWN_EXPLAINER', `The ${id} metric re-runs the explainer; none was given.`);
  return ctx.explainer;
}

function needGroundTruth(ctx: MetricRunContext, id: string) {
  if (!ctx.groundTruth) {
    throw new CnnXaiError('BAD_INPUT_SHAPE', `The ${id} metric needs ground-truth masks or boxes, one per image.`, 'Pass groundTruth (the CLI: --masks or --boxes).');
  }
  return ctx.groundTruth;
}

const common = (ctx: MetricRunContext) => ({
  model: ctx.model,
  input: ctx.input,
  ...(ctx.target !== undefined ? { target: ctx.target } : {}),
  ...(ctx.signal ? { signal: ctx.signal } : {}),
  ...(ctx.onProgress ? { onProgress: ctx.onProgress } : {}),
});

const dropCache = new WeakMap<object, Map<string, Promise<DropIncreaseResult>>>();

/** Average Drop and Increase come from the same two forward passes: computed once per map and options. */
function dropIncrease(ctx: MetricRunContext, options: Record<string, unknown>): Promise<DropIncreaseResult> {
  const attribution = needAttribution(ctx, 'average-drop');
  const key = JSON.stringify(options);
  let m = dropCache.get(attribution);
  if (!m) {
    m = new Map();
    dropCache.set(attribution, m);
  }
  let p = m.get(key);
  if (!p) {
    p = averageDropIncrease({ ...common(ctx), attribution, options });
    m.set(key, p);
  }
  return p;
}

export const deletionMetric = defineMetric({
  id: 'deletion',
  name: 'Deletion AUC',
  kind: 'faithfulness',
  better: 'lower',
  description: 'Area under the class-probability curve as the most salient pixels are removed first (set to zeros), step by step.',
  reference: 'Petsiuk et al., RISE (BMVC 2018), eclique/RISE evaluation.py',
  needs: { attribution: true },
  options: deletionOptions,
  run: (ctx, options) => deletion({ ...common(ctx), attribution: needAttribution(ctx, 'deletion'), options }),
});

export const insertionMetric = defineMetric({
  id: 'insertion',
  name: 'Insertion AUC',
  kind: 'faithfulness',
  better: 'higher',
  description: 'Area under the class-probability curve as the most salient pixels are copied first into a blurred image.',
  reference: 'Petsiuk et al., RISE (BMVC 2018), eclique/RISE evaluation.py',
  needs: { attribution: true },
  options: insertionOptions,
  run: (ctx, options) => insertion({ ...common(ctx), attribution: needAttribution(ctx, 'insertion'), options }),
});

export const averageDropMetric = defineMetric({
  id: 'average-drop',
  name: 'Average Drop',
  kind: 'faithfulness',
  better: 'lower',
  unit: '%',
  description: 'Mean relative confidence drop, 100 · max(0, Y − O) / Y, when only the top 15% pixels of the map are kept.',
  reference: 'Chattopadhay et al., Grad-CAM++ (WACV 2018); SISE variant (Sattarzadeh et al., AAAI 2021)',
  needs: { attribution: true },
  options: dropIncreaseOptions,
  run: async (ctx, options) => (await dropIncrease(ctx, options)).averageDrop,
});

export const increaseMetric = defineMetric({
  id: 'increase-in-confidence',
  name: 'Increase in Confidence',
  kind: 'faithfulness',
  better: 'higher',
  unit: '%',
  description: 'Share of images whose confidence rises (O > Y) when only the top 15% pixels of the map are kept.',
  reference: 'Chattopadhay et al., Grad-CAM++ (WACV 2018); SISE variant (Sattarzadeh et al., AAAI 2021)',
  needs: { attribution: true },
  options: dropIncreaseOptions,
  run: async (ctx, options) => (await dropIncrease(ctx, options)).increase,
});

const classesOf = (ctx: MetricRunContext): number[] | null =>
  Array.isArray(ctx.target) ? [...ctx.target] : ctx.attribution ? attributionTarget(ctx.attribution) : null;

export const pointingGameMetric = defineMetric({
  id: 'pointing-game',
  name: 'Pointing game',
  kind: 'localisation',
  better: 'higher',
  description: 'Hit when the map\'s maximum lies within the tolerance (15 px at 224 px, scaled) of the object mask; accuracy per class, averaged.',
  reference: 'Zhang et al., Excitation Backprop (ECCV 2016); TorchRay pointing_game.py',
  needs: { attribution: true, groundTruth: true },
  options: pointingGameOptions,
  run: async (ctx, options) => {
    const classes = classesOf(ctx);
    return pointingGame({ attribution: needAttribution(ctx, 'pointing-game'), groundTruth: needGroundTruth(ctx, 'pointing-game'), options, ...(classes ? { classes } : {}) });
  },
});

export const energyPointingGameMetric = defineMetric({
  id: 'energy-pointing-game',
  name: 'Energy-based pointing game',
  kind: 'localisation',
  better: 'higher',
  description: 'Share of the map\'s positive energy inside the object box (or mask).',
  reference: 'Wang et al., Score-CAM (CVPR-W 2020), utils/energyPointGame.py',
  needs: { attribution: true, groundTruth: true },
  options: energyPointingGameOptions,
  run: async (ctx, options) =>
    energyPointingGame({ attribution: needAttribution(ctx, 'energy-pointing-game'), groundTruth: needGroundTruth(ctx, 'energy-pointing-game'), options }),
});

export const bboxMetric = defineMetric({
  id: 'bbox',
  name: 'Bbox',
  kind: 'localisation',
  better: 'higher',
  description: 'Share of the map\'s top-N pixels inside the box, N = the box\'s area.',
  reference: 'Schulz et al., IBA (ICLR 2020), eval_bounding_boxes.py; as reported by SISE',
  needs: { attribution: true, groundTruth: true },
  options: bboxOptions,
  run: async (ctx, options) => bboxScore({ attribution: needAttribution(ctx, 'bbox'), groundTruth: needGroundTruth(ctx, 'bbox'), options }),
});

export const miouMetric = defineMetric({
  id: 'miou',
  name: 'mIoU',
  kind: 'localisation',
  better: 'higher',
  description: 'Intersection over union of the map\'s top 20% pixels with the object mask, averaged over images.',
  reference: 'Sattarzadeh et al., SISE (AAAI 2021) and Integrated Grad-CAM (ICASSP 2021)',
  needs: { attribution: true, groundTruth: true },
  options: miouOptions,
  run: async (ctx, options) => meanIoU({ attribution: needAttribution(ctx, 'miou'), groundTruth: needGroundTruth(ctx, 'miou'), options }),
});

export const infidelityMetric = defineMetric({
  id: 'infidelity',
  name: 'Infidelity',
  kind: 'robustness',
  better: 'lower',
  description: 'E[(Iᵀφ − (f(x) − f(x − I)))²] for Gaussian perturbations I (std 0.003), on the target logit.',
  reference: 'Yeh et al., On the (In)fidelity and Sensitivity of Explanations (NeurIPS 2019); Captum metrics.infidelity',
  needs: { attribution: true },
  options: infidelityOptions,
  run: (ctx, options) => {
    const attribution = needAttribution(ctx, 'infidelity');
    const id = typeof ctx.explainer === 'string' ? ctx.explainer : ctx.explainer?.id;
    return infidelity({
      ...common(ctx),
      attribution,
      options,
      ...(id ? { explainer: id } : {}),
      ...(ctx.seed !== undefined ? { seed: ctx.seed } : {}),
    });
  },
});

export const maxSensitivityMetric = defineMetric({
  id: 'max-sensitivity',
  name: 'Max-sensitivity',
  kind: 'robustness',
  better: 'lower',
  description: 'Largest relative change ‖φ(x + δ) − φ(x)‖ / ‖φ(x)‖ of the map over uniform perturbations |δ| ≤ 0.02 (10 samples).',
  reference: 'Yeh et al. (NeurIPS 2019); Captum metrics.sensitivity_max',
  needs: { explainer: true },
  options: maxSensitivityOptions,
  run: (ctx, options) =>
    maxSensitivity({
      ...common(ctx),
      explainer: needExplainer(ctx, 'max-sensitivity'),
      options,
      ...(ctx.explainerOptions ? { explainerOptions: ctx.explainerOptions } : {}),
      ...(ctx.attribution && !(ctx.attribution instanceof tf.Tensor) ? { attribution: ctx.attribution as Attribution } : {}),
      ...(ctx.registry ? { registry: ctx.registry } : {}),
      ...(ctx.seed !== undefined ? { seed: ctx.seed } : {}),
    }),
});

const { mode: _mode, ...sanityOwnOptions } = sanityOptions;

const sanityMetric = (mode: 'cascading' | 'independent') =>
  defineMetric({
    id: `sanity-${mode}`,
    name: mode === 'cascading' ? 'Sanity check (cascading randomisation)' : 'Sanity check (independent randomisation)',
    kind: 'sanity',
    better: 'lower',
    description:
      mode === 'cascading'
        ? 'Spearman rank correlation (|·|-normalised) between the maps of the trained model and of the model re-initialised layer by layer from the top down, cumulatively, averaged over the steps (flagged at ≥ 0.5); also signed Spearman and SSIM per layer.'
        : 'Spearman rank correlation (|·|-normalised) between the maps of the trained model and of models with one layer re-initialised, averaged over layers (flagged at ≥ 0.5); also signed Spearman and SSIM per layer.',
    reference: 'Adebayo et al., Sanity Checks for Saliency Maps (NeurIPS 2018), adebayoj/sanity_checks_saliency',
    needs: { explainer: true, layersModel: true },
    options: sanityOwnOptions,
    run: (ctx, options) =>
      modelRandomisation({
        ...common(ctx),
        explainer: needExplainer(ctx, `sanity-${mode}`),
        options: { ...options, mode },
        ...(ctx.explainerOptions ? { explainerOptions: ctx.explainerOptions } : {}),
        ...(ctx.attribution && !(ctx.attribution instanceof tf.Tensor) ? { attribution: ctx.attribution as Attribution } : {}),
        ...(ctx.registry ? { registry: ctx.registry } : {}),
        ...(ctx.seed !== undefined ? { seed: ctx.seed } : {}),
      }),
  });

export const sanityCascadingMetric = sanityMetric('cascading');
export const sanityIndependentMetric = sanityMetric('independent');

/** Every metric, in the order reports list them. */
export const METRICS: readonly AnyMetric[] = [
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
];

/** Short names accepted for metric ids. */
export const METRIC_ALIASES: Readonly<Record<string, string>> = {
  ebpg: 'energy-pointing-game',
  'energy-based-pointing-game': 'energy-pointing-game',
  drop: 'average-drop',
  increase: 'increase-in-confidence',
  mprt: 'sanity-cascading',
  sanity: 'sanity-cascading',
  sensitivity: 'max-sensitivity',
  'sensitivity-max': 'max-sensitivity',
  iou: 'miou',
};

/** A metric by id (or alias); an error lists the ids. */
export function getMetric(id: string): AnyMetric {
  const real = METRIC_ALIASES[id] ?? id;
  const m = METRICS.find((x) => x.id === real);
  if (!m) {
    throw new CnnXaiError('BAD_OPTION_VALUE', `No metric "${id}".`, `Metrics: ${METRICS.map((x) => x.id).join(', ')} (aliases: ${Object.keys(METRIC_ALIASES).join(', ')}).`);
  }
  return m;
}
