import * as tf from '@tensorflow/tfjs-core';
import {
  batchRanges,
  BASELINES,
  CnnXaiError,
  createRandom,
  defineExplainer,
  makeBaseline,
  opt,
  yieldToEventLoop,
  type ExplainContext,
} from '@cnn-xai/core';

/**
 * Where sample k's baseline comes from: one per image (a named baseline or a constant: only
 * alpha and the noise vary between samples), or one per sample shared by all images (drawn
 * from a background set, or a fresh uniform image).
 */
type Baselines = { kind: 'per-image'; images: tf.Tensor4D } | { kind: 'per-sample'; samples: tf.Tensor4D };

/** The random draws of sample k, the same for every image (so a batch equals its images alone). */
interface Draw {
  alpha: number;
  /** Index into the background set. */
  index: number;
  uniformSeed: number;
  noiseSeed: number;
}

function drawSample(seed: number, backgroundSize: number): Draw {
  const r = createRandom(seed);
  return { alpha: r.next(), index: r.int(backgroundSize), uniformSeed: r.int(4294967296), noiseSeed: r.int(4294967296) };
}

/** A background set [B, H, W, C] from a tensor or an array (one image or several), or null if `value` is not one. */
function backgroundSet(value: unknown, x: tf.Tensor4D): tf.Tensor4D | null {
  const [, h, w, c] = x.shape;
  const per = h * w * c;
  const bad = (what: string): never => {
    throw new CnnXaiError(
      'BAD_OPTION_VALUE',
      `A GradientSHAP background set ${what} does not fit inputs of shape [N, ${h}, ${w}, ${c}].`,
      `Give baseline images shaped [B, ${h}, ${w}, ${c}] (or one [${h}, ${w}, ${c}] image), as a tensor or an array, or one of ${BASELINES.join(', ')}.`,
    );
  };
  if (value instanceof tf.Tensor) {
    const fits =
      value.size > 0 &&
      value.size % per === 0 &&
      (value.rank === 1 || (value.rank === 2 && value.shape[1] === per) || value.shape.slice(-3).join() === [h, w, c].join());
    if (!fits) return bad(`of shape [${value.shape.join(', ')}]`);
    return tf.tidy(() => tf.reshape(tf.cast(value, 'float32'), [value.size / per, h, w, c]) as tf.Tensor4D);
  }
  if (Array.isArray(value) || ArrayBuffer.isView(value)) {
    const flat = Array.isArray(value) ? (value.flat(Infinity) as number[]) : Array.from(value as Float32Array);
    if (flat.length === 0 || flat.length % per !== 0) return bad(`of ${flat.length} values`);
    return tf.tensor4d(flat, [flat.length / per, h, w, c]);
  }
  return null;
}

/** Per-image noise scale: `noise` times the image's value range (max - min), as SmoothGrad. */
function noiseScales(pixels: Float32Array, n: number, per: number, noise: number): number[] {
  return Array.from({ length: n }, (_, i) => {
    if (noise === 0) return 0;
    let lo = Infinity;
    let hi = -Infinity;
    for (let j = i * per; j < (i + 1) * per; j++) {
      const v = pixels[j] as number;
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    return noise * (hi - lo);
  });
}

/** Target scores of output rows (rows[r]: the image row r belongs to). */
function scoresOf(ctx: ExplainContext, out: tf.Tensor, rows: readonly number[]): tf.Tensor1D {
  return ctx.target.score(out, rows);
}

/**
 * GradientSHAP (Captum's GradientShap; Expected Gradients, Erion et al.): for each image,
 * `samples` draws of a baseline x' (from a background set, or a named baseline), Gaussian
 * noise on the input (x_s = x + noise) and alpha ~ U(0, 1); the attribution is the mean over
 * samples of (x_s - x') * grad f(x' + alpha (x_s - x')). Each sample's sum of attributions
 * equals f(x_s) - f(x') in expectation over alpha, so the convergence delta shrinks as
 * 1/sqrt(samples). Samples of all images are batched together (`batchSize` per pass).
 */
export const gradientShap = defineExplainer({
  id: 'gradient-shap',
  name: 'GradientSHAP',
  family: 'gradient',
  kind: 'gradient',
  description:
    'Expected gradients: the average of (input - baseline) times the gradient at a random point between a random baseline and the (noisy) input; the attributions add up, in expectation, to the score minus the average baseline score.',
  paper: {
    title: 'A Unified Approach to Interpreting Model Predictions (GradientExplainer); Learning Explainable Models Using Attribution Priors (expected gradients)',
    authors: 'Lundberg, Lee; Erion, Janizek, Sturmfels, Lundberg, Lee',
    year: 2017,
    url: 'https://arxiv.org/abs/1705.07874',
  },
  requires: { gradients: true },
  options: {
    samples: opt.integer({
      default: 5,
      min: 1,
      max: 10000,
      description: "Random (baseline, alpha, noise) draws per image (Captum's n_samples, default 5).",
    }),
    noise: opt.number({
      default: 0,
      min: 0,
      max: 10,
      description:
        "Standard deviation of the Gaussian noise added to the input, as a fraction of each image's value range (max - min); on [0, 1] images this equals Captum's absolute stdevs (default 0).",
    }),
    baseline: opt.choiceOrValue({
      default: 'zeros',
      choices: BASELINES,
      description:
        'The baseline distribution: zeros, blur or mean (one baseline per image), uniform (a fresh uniform image per sample), a number (a constant image), or, from the API, a background set of images [B, H, W, C] (or one [H, W, C]) that each sample draws from at random.',
    }),
    batchSize: opt.integer({ default: 32, min: 1, max: 4096, description: 'Samples per forward/backward pass (all images together).' }),
    seed: opt.integer({ default: undefined as unknown as number, min: 0, description: "Seed of the draws (default: the call's seed)." }),
  },
  async explain(x, ctx, o) {
    const [n, h, w, c] = x.shape;
    const per = h * w * c;
    const samples = o.samples;
    const total = n * samples;
    const pixels = (await x.data()) as Float32Array;
    const sigma = noiseScales(pixels, n, per, o.noise);
    const background = backgroundSet(o.baseline, x);
    // Drawn in a fixed order before any batch: sample k of every image uses the same draws.
    const draws = Array.from({ length: samples }, () => drawSample(ctx.random.int(4294967296), background?.shape[0] ?? 1));
    let baselines: Baselines;
    try {
      if (background) {
        baselines = { kind: 'per-sample', samples: tf.tidy(() => tf.gather(background, draws.map((d) => d.index))) as tf.Tensor4D };
      } else if (o.baseline === 'uniform') {
        const data = new Float32Array(samples * per);
        draws.forEach((d, k) => data.set(createRandom(d.uniformSeed).uniformArray(per), k * per));
        baselines = { kind: 'per-sample', samples: tf.tensor4d(data, [samples, h, w, c]) };
      } else {
        baselines = { kind: 'per-image', images: makeBaseline(x, o.baseline) };
      }
    } finally {
      background?.dispose();
    }
    const imageOf = (r: number): number => Math.floor(r / samples);
    const baselineRows = (rows: number[]): tf.Tensor4D =>
      tf.tidy(() =>
        baselines.kind === 'per-image'
          ? (tf.gather(baselines.images, rows.map(imageOf)) as tf.Tensor4D)
          : (tf.gather(baselines.samples, rows.map((r) => r % samples)) as tf.Tensor4D),
      );
    const inputRows = (rows: number[]): tf.Tensor4D => {
      if (o.noise === 0) return tf.tidy(() => tf.gather(x, rows.map(imageOf)) as tf.Tensor4D);
      const data = new Float32Array(rows.length * per);
      const noises = new Map<number, Float32Array>();
      rows.forEach((r, j) => {
        const img = imageOf(r);
        const k = r % samples;
        let z = noises.get(k);
        if (!z) {
          z = createRandom((draws[k] as Draw).noiseSeed).normalArray(per);
          noises.set(k, z);
        }
        const sd = sigma[img] as number;
        const off = img * per;
        for (let q = 0; q < per; q++) data[j * per + q] = (pixels[off + q] as number) + sd * (z[q] as number);
      });
      return tf.tensor4d(data, [rows.length, h, w, c]);
    };
    // f(x') of the distinct baselines, and f(x) when there is no noise: computed once.
    const baseOut = await ctx.model.predict(baselines.kind === 'per-image' ? baselines.images : baselines.samples);
    const inputOut = o.noise === 0 ? await ctx.model.predict(x) : null;
    let acc: tf.Tensor2D = tf.zeros([n, per]);
    const sampleDeltas = new Float64Array(total);
    const baseScores = new Float64Array(total);
    try {
      for (const [s, e] of batchRanges(total, o.batchSize)) {
        ctx.throwIfAborted();
        const rows = Array.from({ length: e - s }, (_, j) => s + j);
        const images = rows.map(imageOf);
        const [xs, diff, points] = tf.tidy(() => {
          const xs = inputRows(rows);
          const bs = baselineRows(rows);
          const diff = tf.sub(xs, bs);
          const alphas = tf.tensor4d(rows.map((r) => (draws[r % samples] as Draw).alpha), [e - s, 1, 1, 1]);
          return [xs, diff, tf.add(bs, tf.mul(alphas, diff)) as tf.Tensor4D];
        });
        let g: tf.Tensor | null = null;
        let xsOut: tf.Tensor | null = null;
        let next: tf.Tensor, rowSums: tf.Tensor, fx: tf.Tensor, fb: tf.Tensor;
        try {
          g = await ctx.inputGradient(points, images);
          if (!inputOut) xsOut = await ctx.model.predict(xs);
          [next, rowSums, fx, fb] = tf.tidy(() => {
            const attr = tf.reshape(tf.mul(diff, g as tf.Tensor), [e - s, per]);
            // Mean over each image's samples as one matmul: S[i, r] = 1/samples if row r is image i.
            const sel = new Float32Array(n * (e - s));
            images.forEach((img, j) => (sel[img * (e - s) + j] = 1 / samples));
            const sum = tf.add(acc, tf.matMul(tf.tensor2d(sel, [n, e - s]), attr)) as tf.Tensor2D;
            const fxRows = inputOut
              ? scoresOf(ctx, tf.gather(inputOut, images), images)
              : scoresOf(ctx, xsOut as tf.Tensor, images);
            const baseIdx = baselines.kind === 'per-image' ? images : rows.map((r) => r % samples);
            const fbRows = scoresOf(ctx, tf.gather(baseOut, baseIdx), images);
            return [sum, tf.sum(attr, 1), fxRows, fbRows];
          });
        } finally {
          tf.dispose([xs, diff, points]);
          g?.dispose();
          xsOut?.dispose();
        }
        acc.dispose();
        acc = next as tf.Tensor2D;
        const [sums, fxs, fbs] = await Promise.all([rowSums, fx, fb].map((t) => (t as tf.Tensor).data()));
        tf.dispose([rowSums, fx, fb] as tf.Tensor[]);
        rows.forEach((r, j) => {
          sampleDeltas[r] = (sums?.[j] as number) - ((fxs?.[j] as number) - (fbs?.[j] as number));
          baseScores[r] = fbs?.[j] as number;
        });
        ctx.progress(e / total);
        await yieldToEventLoop();
      }
      const values = tf.reshape(acc, x.shape);
      const perImage = (a: Float64Array): number[] =>
        Array.from({ length: n }, (_, i) => a.subarray(i * samples, (i + 1) * samples).reduce((p, q) => p + q, 0) / samples);
      return {
        values,
        signed: true,
        extras: {
          delta: perImage(sampleDeltas),
          baseValue: perImage(baseScores),
          sampleDeltas: Array.from(sampleDeltas),
          samples,
        },
      };
    } finally {
      acc.dispose();
      baseOut.dispose();
      inputOut?.dispose();
      if (baselines.kind === 'per-image') baselines.images.dispose();
      else baselines.samples.dispose();
    }
  },
});
