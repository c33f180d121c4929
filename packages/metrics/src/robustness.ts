import * as tf from '@tensorflow/tfjs-core';
import {
  AbortError,
  CnnXaiError,
  createRandom,
  explain,
  opt,
  resolveOptions,
  type AnyExplainer,
  type Attribution,
  type Registry,
  type Target,
} from '@cnn-xai/core';
import {
  attributionTarget,
  attributionValues,
  checkAttribution,
  checkBatch,
  classScoresOf,
  meanOf,
  predictorOf,
  resolveClasses,
  SCORE_MODES,
  tick,
  type AttributionLike,
  type MetricModel,
} from './common.js';
import type { MetricResult } from './types.js';

/**
 * Explainers whose maps are multiplied by the input ("global" attributions in Captum's words):
 * infidelity divides their perturbations by (input - baseline), as Captum's
 * `infidelity_perturb_func_decorator(multiply_by_inputs=True)` does.
 */
export const MULTIPLIES_BY_INPUTS: ReadonlySet<string> = new Set([
  'gradient-x-input',
  'integrated-gradients',
  'gradient-shap',
  'expected-gradients',
  'deeplift',
  'lrp',
  'lrp-epsilon',
  'lrp-epsilon-plus',
  'lrp-epsilon-plus-flat',
  'lrp-epsilon-gamma-box',
  'lrp-epsilon-alpha2-beta1',
]);

export const infidelityOptions = {
  samples: opt.integer({ default: 10, min: 1, max: 10000, description: 'Perturbations per image (Captum: n_perturb_samples = 10).' }),
  noise: opt.number({
    default: 0.003,
    min: 0,
    description: 'Standard deviation of the Gaussian perturbation I ~ N(0, noise²) per input value (Captum\'s documented example: 0.003).',
  }),
  multiplyByInputs: opt.choice({
    default: 'auto',
    choices: ['auto', 'true', 'false'],
    description: 'Whether the map is multiplied by the input (then I is divided by the input, Captum\'s multiply_by_inputs); auto: true for gradient-x-input, integrated-gradients, SHAP, DeepLIFT and LRP ids.',
  }),
  normalize: opt.boolean({ default: false, description: 'Scale the attribution term by the least-squares beta before the error (Captum\'s normalize).' }),
  score: opt.choice({ default: 'raw', choices: SCORE_MODES, description: 'raw (the output the explainer explains, logits; Captum uses the forward function as it is) or softmax.' }),
  batchSize: opt.integer({ default: 64, min: 1, max: 4096, description: 'Perturbed images per forward pass.' }),
};

export interface InfidelityRequest {
  model: MetricModel;
  input: tf.Tensor;
  attribution: AttributionLike;
  /** Default: the attribution's target, else the predicted class. */
  target?: Target;
  /** The explainer id, for `multiplyByInputs: auto` (default: the attribution's `explainer`). */
  explainer?: string;
  seed?: number;
  options?: Record<string, unknown>;
  signal?: AbortSignal;
  onProgress?: (fraction: number) => void;
}

/**
 * Infidelity (Yeh et al., 2019, as Captum's `infidelity`): the expected squared error between the
 * attribution's prediction of a score change, Iᵀφ, and the actual change f(x) − f(x − I), for
 * Gaussian perturbations I ~ N(0, noise²):
 *
 *     INFD(φ, f, x) = E_I[(Iᵀ φ(x) − (f(x) − f(x − I)))²]
 *
 * estimated with `samples` draws per image (seeded). For maps multiplied by the input, I is
 * divided by x (baseline zero; where x = 0 by 1, Captum's safe_div). A [N, H, W] map is broadcast
 * over channels. f is the target-class output (raw logits by default). Lower is better; an exact
 * linear model explained by gradient × input has infidelity 0.
 */
export async function infidelity(req: InfidelityRequest): Promise<MetricResult> {
  const o = resolveOptions('infidelity', infidelityOptions, req.options ?? {});
  const { predictor, release } = predictorOf(req.model);
  try {
    const x = checkBatch(req.input, predictor, 'infidelity');
    const values = attributionValues(req.attribution);
    const [n, h, w] = checkAttribution(values, x, 'infidelity');
    const c = x.shape[3];
    const id = req.explainer ?? (values === req.attribution ? undefined : (req.attribution as Attribution).explainer);
    const multiply = o.multiplyByInputs === 'auto' ? id !== undefined && MULTIPLIES_BY_INPUTS.has(id) : o.multiplyByInputs === 'true';
    const classes = await resolveClasses(req.target, attributionTarget(req.attribution), predictor, x);
    const fx = await classScoresOf(predictor, x, classes, o.score);
    const attr = tf.tidy(() => {
      const a = tf.cast(values, 'float32');
      return (values.rank === 3 ? tf.expandDims(a, 3) : a) as tf.Tensor4D;
    });
    const rnd = createRandom(req.seed ?? 0);
    const total = n * o.samples;
    const dots = new Float64Array(total);
    const diffs = new Float64Array(total);
    try {
      for (let a = 0; a < total; a += o.batchSize) {
        if (req.signal?.aborted) throw new AbortError(req.signal.reason);
        const b = Math.min(total, a + o.batchSize);
        const img = Array.from({ length: b - a }, (_, k) => Math.floor((a + k) / o.samples));
        const noise = rnd.normalArray((b - a) * h * w * c, 0, o.noise);
        const [perturbed, dot] = tf.tidy(() => {
          const idx = tf.tensor1d(img, 'int32');
          const xi = tf.gather(x, idx);
          const I = tf.tensor4d(noise, [b - a, h, w, c]);
          const pert = multiply ? tf.div(I, tf.where(tf.equal(xi, 0), tf.onesLike(xi), xi)) : I;
          const d = tf.sum(tf.mul(pert, tf.gather(attr, idx)), [1, 2, 3]);
          return [tf.sub(xi, I) as tf.Tensor4D, d];
        });
        let fp: Float32Array;
        let dv: Float32Array;
        try {
          fp = await classScoresOf(predictor, perturbed as tf.Tensor4D, img.map((i) => classes[i] as number), o.score);
          dv = (await (dot as tf.Tensor).data()) as Float32Array;
        } finally {
          tf.dispose([perturbed, dot]);
        }
        for (let k = 0; k < b - a; k++) {
          dots[a + k] = dv[k] as number;
          diffs[a + k] = (fx[img[k] as number] as number) - (fp[k] as number);
        }
        req.onProgress?.(b / total);
        await tick();
      }
    } finally {
      attr.dispose();
    }
    const perImage: number[] = [];
    for (let i = 0; i < n; i++) {
      let beta = 1;
      if (o.normalize) {
        let num = 0;
        let den = 0;
        for (let s = 0; s < o.samples; s++) {
          const k = i * o.samples + s;
          num += (dots[k] as number) * (diffs[k] as number);
          den += (dots[k] as number) ** 2;
        }
        beta = den !== 0 ? num / den : num;
      }
      let err = 0;
      for (let s = 0; s < o.samples; s++) {
        const k = i * o.samples + s;
        err += (beta * (dots[k] as number) - (diffs[k] as number)) ** 2;
      }
      perImage.push(err / o.samples);
    }
    return {
      metric: 'infidelity',
      value: meanOf(perImage),
      perImage,
      details: { classes, multiplyByInputs: multiply },
      options: { ...o, multiplyByInputs: multiply },
    };
  } finally {
    release();
  }
}

export const maxSensitivityOptions = {
  radius: opt.number({ default: 0.02, min: 0, description: 'Perturbations are uniform in [-radius, radius] per input value (Captum: perturb_radius = 0.02).' }),
  samples: opt.integer({ default: 10, min: 1, max: 10000, description: 'Perturbed copies per image; the maximum is taken (Captum: n_perturb_samples = 10).' }),
  batchSize: opt.integer({ default: 32, min: 1, max: 4096, description: 'Perturbed images per explain() call.' }),
};

export interface MaxSensitivityRequest {
  model: MetricModel;
  input: tf.Tensor;
  explainer: AnyExplainer | string;
  explainerOptions?: Record<string, unknown>;
  /** The explanation of the unperturbed input, when already computed. */
  attribution?: Attribution;
  /** Default: the attribution's target, else the predicted class; the same class is explained on every perturbed copy. */
  target?: Target;
  registry?: Registry;
  /** Seed of the perturbations and of the explainer's random stream. Default 0. */
  seed?: number;
  options?: Record<string, unknown>;
  signal?: AbortSignal;
  onProgress?: (fraction: number) => void;
}

/**
 * Max-sensitivity (Yeh et al., 2019, as Captum's `sensitivity_max`): the explainer is run again
 * on `samples` copies of each image perturbed uniformly in an L∞ ball of radius `radius`, and the
 * largest relative change of the map is reported:
 *
 *     SENS_max(φ, x) = max_{‖δ‖∞ ≤ r} ‖φ(x + δ) − φ(x)‖_F / ‖φ(x)‖_F
 *
 * (a zero ‖φ(x)‖ divides by 1, as Captum). The target class stays the one of the unperturbed
 * image. Lower is better; an explainer that returns a constant map scores 0.
 */
export async function maxSensitivity(req: MaxSensitivityRequest): Promise<MetricResult> {
  const o = resolveOptions('max-sensitivity', maxSensitivityOptions, req.options ?? {});
  const seed = req.seed ?? 0;
  const registry = req.registry;
  const run = (x: tf.Tensor4D, target: Target | undefined): Promise<Attribution> =>
    explain(req.explainer, {
      model: req.model,
      input: x,
      ...(target !== undefined ? { target } : {}),
      options: req.explainerOptions ?? {},
      seed,
      ...(registry ? { registry } : {}),
      ...(req.signal ? { signal: req.signal } : {}),
    });
  const x = req.input as tf.Tensor4D;
  if (!(x instanceof tf.Tensor) || x.rank !== 4) {
    throw new CnnXaiError('BAD_INPUT_SHAPE', `Max-sensitivity needs the input images as a tf.Tensor [N, H, W, C]${x instanceof tf.Tensor ? `; got shape [${(x as tf.Tensor).shape.join(', ')}]` : ''}.`);
  }
  const own = req.attribution ? null : await run(x, req.target);
  const base = req.attribution ?? (own as Attribution);
  try {
    const [n, h, w, c] = x.shape;
    checkAttribution(base.values, x, 'max-sensitivity');
    const classes = base.target;
    const baseData = base.values.dataSync() as Float32Array;
    const per = baseData.length / n;
    const norms = Array.from({ length: n }, (_, i) => {
      let s = 0;
      for (let k = i * per; k < (i + 1) * per; k++) s += (baseData[k] as number) ** 2;
      return Math.sqrt(s) || 1;
    });
    const rnd = createRandom(seed);
    const total = n * o.samples;
    const sens = new Array<number>(n).fill(0);
    for (let a = 0; a < total; a += o.batchSize) {
      if (req.signal?.aborted) throw new AbortError(req.signal.reason);
      const b = Math.min(total, a + o.batchSize);
      const img = Array.from({ length: b - a }, (_, k) => Math.floor((a + k) / o.samples));
      const delta = rnd.uniformArray((b - a) * h * w * c, -o.radius, o.radius);
      const xp = tf.tidy(() => tf.add(tf.gather(x, tf.tensor1d(img, 'int32')), tf.tensor4d(delta, [b - a, h, w, c])) as tf.Tensor4D);
      let attr: Attribution;
      try {
        attr = await run(xp, classes ? img.map((i) => classes[i] as number) : undefined);
      } finally {
        xp.dispose();
      }
      try {
        const d = attr.values.dataSync() as Float32Array;
        if (d.length !== (b - a) * per) {
          throw new CnnXaiError('BAD_INPUT_SHAPE', `The explainer returned maps of shape [${attr.values.shape.join(', ')}] for ${b - a} perturbed images; the unperturbed map has shape [${base.values.shape.join(', ')}].`);
        }
        for (let k = 0; k < b - a; k++) {
          const i = img[k] as number;
          let s = 0;
          for (let q = 0; q < per; q++) s += ((d[k * per + q] as number) - (baseData[i * per + q] as number)) ** 2;
          sens[i] = Math.max(sens[i] as number, Math.sqrt(s) / (norms[i] as number));
        }
      } finally {
        attr.dispose();
      }
      req.onProgress?.(b / total);
    }
    return { metric: 'max-sensitivity', value: meanOf(sens), perImage: sens, details: { classes }, options: { ...o } };
  } finally {
    own?.dispose();
  }
}
