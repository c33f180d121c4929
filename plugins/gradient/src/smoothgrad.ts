import * as tf from '@tensorflow/tfjs-core';
import {
  batchRanges,
  CnnXaiError,
  createRandom,
  defineExplainer,
  opt,
  resolveOptions,
  yieldToEventLoop,
  type AnyExplainer,
  type ExplainContext,
  type OptionSpec,
  type RandomStream,
  type Registry,
  type ResolvedTarget,
} from '@cnn-xai/core';

const ID = 'smoothgrad';

/** What is accumulated over the noisy copies (Captum's NoiseTunnel nt_type, with our names). */
export const NOISE_MODES = ['smoothgrad', 'squaregrad', 'vargrad'] as const;
export type NoiseMode = (typeof NOISE_MODES)[number];

/** Ids of the explainers in `registry` that SmoothGrad can smooth: every `gradient`-kind one but itself. */
export function smoothableExplainers(registry: Registry): string[] {
  return registry
    .list({ kind: 'gradient' })
    .map((e) => e.id)
    .filter((id) => id !== ID);
}

/** The base explainer named by the `base` option, or a typed error that lists the allowed ones. */
function resolveBase(registry: Registry, id: string): AnyExplainer {
  const allowed = smoothableExplainers(registry);
  const hint = allowed.length
    ? `Allowed (gradient explainers in this registry): ${allowed.join(', ')}.`
    : "This registry holds no gradient explainer: register the gradient plugin's explainers (register(registry)).";
  if (id === ID) {
    throw new CnnXaiError('BAD_OPTION_VALUE', 'Option "base" of smoothgrad cannot be smoothgrad itself.', hint);
  }
  if (!registry.has(id)) {
    throw new CnnXaiError('UNKNOWN_EXPLAINER', `Option "base" of smoothgrad names "${id}", which is not registered.`, hint);
  }
  const base = registry.get(id);
  if (base.kind !== 'gradient') {
    throw new CnnXaiError(
      'BAD_OPTION_VALUE',
      `Option "base" of smoothgrad names "${id}", a ${base.kind} explainer; SmoothGrad averages gradient maps.`,
      hint,
    );
  }
  return base;
}

/** The base's default options, with its `batchSize` (if it has one) set to ours, within its range. */
function baseOptions(base: AnyExplainer, batchSize: number): Record<string, unknown> {
  const spec = (base.options as Record<string, OptionSpec>)['batchSize'];
  const given: Record<string, unknown> = {};
  if (spec?.type === 'number') {
    given['batchSize'] = Math.min(Math.max(batchSize, spec.min ?? 1), spec.max ?? batchSize);
  }
  return resolveOptions(base.id, base.options, given) as Record<string, unknown>;
}

/**
 * Rows [s, e) of the noisy batch, image-major: row r is copy r % samples of image
 * floor(r / samples). Copy k of every image uses the k-th standard-normal pattern (drawn from
 * its own seed), scaled by that image's sigma, so the noise depends neither on the batch size
 * nor on the other images explained with it.
 */
function noisyRows(
  pixels: Float32Array,
  per: number,
  [s, e]: [number, number],
  samples: number,
  sigma: readonly number[],
  seeds: readonly number[],
): Float32Array {
  const out = new Float32Array((e - s) * per);
  for (let r = s; r < e; r++) {
    const img = Math.floor(r / samples);
    const sd = sigma[img] as number;
    const src = pixels.subarray(img * per, (img + 1) * per);
    const off = (r - s) * per;
    if (sd === 0) {
      out.set(src, off);
      continue;
    }
    const z = createRandom(seeds[r % samples] as number).normalArray(per);
    for (let j = 0; j < per; j++) out[off + j] = (src[j] as number) + sd * (z[j] as number);
  }
  return out;
}

/** Per-image running statistics of the base maps, one [P] tensor per image. */
class Accumulator {
  /** smoothgrad: sum of maps; squaregrad: sum of squared maps; vargrad: running mean. */
  private readonly first: Array<tf.Tensor | null>;
  /** vargrad: running sum of squared deviations from the mean (Chan et al.'s parallel update). */
  private readonly m2: Array<tf.Tensor | null>;
  private readonly count: number[];

  constructor(
    private readonly mode: NoiseMode,
    n: number,
  ) {
    this.first = new Array<tf.Tensor | null>(n).fill(null);
    this.m2 = new Array<tf.Tensor | null>(n).fill(null);
    this.count = new Array<number>(n).fill(0);
  }

  /** Adds `maps` [rows, P], all copies of image `img`. */
  add(img: number, maps: tf.Tensor2D): void {
    const na = this.count[img] as number;
    const nb = maps.shape[0];
    const a = this.first[img] ?? null;
    const m2a = this.m2[img] ?? null;
    const next = tf.tidy((): tf.Tensor[] => {
      if (this.mode === 'smoothgrad') {
        const s = tf.sum(maps, 0);
        return [a ? tf.add(a, s) : s];
      }
      if (this.mode === 'squaregrad') {
        const s = tf.sum(tf.square(maps), 0);
        return [a ? tf.add(a, s) : s];
      }
      const meanB = tf.mean(maps, 0);
      const m2B = tf.sum(tf.square(tf.sub(maps, meanB)), 0);
      if (!a || !m2a) return [meanB, m2B];
      const total = na + nb;
      const delta = tf.sub(meanB, a);
      return [tf.add(a, tf.mul(delta, nb / total)), tf.add(tf.add(m2a, m2B), tf.mul(tf.square(delta), (na * nb) / total))];
    });
    a?.dispose();
    m2a?.dispose();
    this.first[img] = next[0] as tf.Tensor;
    if (next[1]) this.m2[img] = next[1];
    this.count[img] = na + nb;
  }

  /** The per-image results stacked: [n, P]. */
  result(): tf.Tensor2D {
    return tf.tidy(() =>
      tf.stack(
        this.first.map((t, i) => {
          const c = this.count[i] as number;
          if (!t || c === 0) throw new Error(`cnn-xai internal: smoothgrad got no map for image ${i}`);
          return tf.div(this.mode === 'vargrad' ? (this.m2[i] as tf.Tensor) : t, c);
        }),
      ) as tf.Tensor2D,
    );
  }

  dispose(): void {
    for (const t of [...this.first, ...this.m2]) t?.dispose();
    this.first.fill(null);
    this.m2.fill(null);
  }
}

/** A context for the base explainer: row r of the noisy batch is explained for image rowImage[r]. */
function subContext(
  ctx: ExplainContext,
  rowImage: readonly number[],
  random: RandomStream,
  progress: (fraction: number) => void,
): ExplainContext {
  const classes = ctx.target.classes;
  const target: ResolvedTarget = {
    classes: classes ? rowImage.map((i) => classes[i] as number) : null,
    score: (output, rows) => ctx.target.score(output, (rows ?? rowImage.map((_, r) => r)).map((r) => rowImage[r] as number)),
  };
  const ownRows = rowImage.map((_, r) => r);
  return {
    tap: ctx.tap,
    model: ctx.model,
    inputGradient: (x, rows, opts) => ctx.inputGradient(x, (rows ?? ownRows).map((r) => rowImage[r] as number), opts),
    layerGradient: (x, layer, rows) => ctx.layerGradient(x, layer, (rows ?? ownRows).map((r) => rowImage[r] as number)),
    threads: ctx.threads,
    target,
    random,
    registry: ctx.registry,
    signal: ctx.signal,
    progress,
    throwIfAborted: () => ctx.throwIfAborted(),
  };
}

/**
 * SmoothGrad (Smilkov et al. 2017) as a noise tunnel over any gradient explainer of the
 * registry (option `base`): the base map averaged over `samples` copies of the image with
 * Gaussian noise N(0, sigma^2) added, sigma = `noise` x (max - min) of the image. Mode
 * `squaregrad` averages the squared maps, `vargrad` (Adebayo et al. 2018) takes their variance
 * (over the copies, divided by `samples`), so squaregrad = smoothgrad^2 + vargrad.
 *
 * Captum's NoiseTunnel semantics: `samples` noisy copies, the clean image not among them.
 * Copies of all images are batched together, `batchSize` per call of the base explainer.
 */
export const smoothgrad = defineExplainer({
  id: ID,
  name: 'SmoothGrad',
  family: 'gradient',
  kind: 'gradient',
  description:
    'Averages a gradient map over many copies of the image with Gaussian noise added, which removes the speckle of raw gradients. Modes: mean (SmoothGrad), mean of squares, variance (VarGrad).',
  paper: {
    title: 'SmoothGrad: removing noise by adding noise',
    authors: 'Smilkov, Thorat, Kim, Viégas, Wattenberg',
    year: 2017,
    url: 'https://arxiv.org/abs/1706.03825',
  },
  requires: { gradients: true },
  options: {
    base: opt.string({
      default: 'gradient',
      description:
        'Id of the gradient explainer to smooth: gradient, gradient-x-input, integrated-gradients, guided-backprop, deconvnet, or any registered explainer of kind gradient. It runs with its default options (its batchSize set to ours).',
    }),
    mode: opt.choice({
      default: 'smoothgrad',
      choices: NOISE_MODES,
      description:
        'smoothgrad: mean of the noisy maps (signed); squaregrad: mean of their squares; vargrad: their variance (both non-negative).',
    }),
    samples: opt.integer({
      default: 25,
      min: 1,
      max: 10000,
      description: "Noisy copies per image (the clean image is not one of them, as in Captum's NoiseTunnel).",
    }),
    noise: opt.number({
      default: 0.15,
      min: 0,
      max: 10,
      description:
        "Standard deviation of the noise as a fraction of each image's value range (max - min); the paper finds 0.1-0.2 best. On [0, 1] images this equals Captum's absolute stdevs.",
    }),
    batchSize: opt.integer({ default: 32, min: 1, max: 4096, description: 'Noisy copies per call of the base explainer.' }),
    seed: opt.integer({ default: undefined as unknown as number, min: 0, description: "Seed of the noise (default: the call's seed)." }),
  },
  async explain(x, ctx, o) {
    const base = resolveBase(ctx.registry, o.base);
    const options = baseOptions(base, o.batchSize);
    const [n, ...dims] = x.shape;
    const per = x.size / n;
    const samples = o.samples;
    const total = n * samples;
    const pixels = (await x.data()) as Float32Array;
    const sigma = Array.from({ length: n }, (_, i) => {
      let lo = Infinity;
      let hi = -Infinity;
      for (let j = i * per; j < (i + 1) * per; j++) {
        const v = pixels[j] as number;
        if (v < lo) lo = v;
        if (v > hi) hi = v;
      }
      return o.noise * (hi - lo);
    });
    // Drawn in a fixed order before any batch, so the noise does not depend on batchSize.
    const seeds = Array.from({ length: samples }, () => ctx.random.int(4294967296));
    const baseRandom = ctx.random.fork();
    const acc = new Accumulator(o.mode, n);
    let mapShape: number[] | null = null;
    let signed = true;
    try {
      for (const [s, e] of batchRanges(total, o.batchSize)) {
        ctx.throwIfAborted();
        const rowImage = Array.from({ length: e - s }, (_, r) => Math.floor((s + r) / samples));
        const progress = (f: number): void => ctx.progress((s + Math.min(1, Math.max(0, f)) * (e - s)) / total);
        const noisy = tf.tensor4d(noisyRows(pixels, per, [s, e], samples, sigma, seeds), [e - s, ...dims] as [number, number, number, number]);
        try {
          const res = await base.explain(noisy, subContext(ctx, rowImage, baseRandom.fork(), progress), options);
          try {
            const shape = res.values.shape;
            if (shape[0] !== e - s || (mapShape && shape.slice(1).join() !== mapShape.join())) {
              throw new Error(`cnn-xai internal: ${base.id} returned a map of shape [${shape.join(', ')}] for ${e - s} inputs`);
            }
            mapShape ??= shape.slice(1);
            signed = res.signed;
            const maps = tf.reshape(res.values, [e - s, -1]) as tf.Tensor2D;
            try {
              for (let img = rowImage[0] as number; img <= (rowImage[rowImage.length - 1] as number); img++) {
                const a = Math.max(s, img * samples) - s;
                const b = Math.min(e, (img + 1) * samples) - s;
                const part = tf.slice(maps, [a, 0], [b - a, -1]);
                acc.add(img, part);
                part.dispose();
              }
            } finally {
              maps.dispose();
            }
          } finally {
            res.values.dispose();
            for (const v of Object.values(res.extras)) if (v instanceof tf.Tensor) v.dispose();
          }
        } finally {
          noisy.dispose();
        }
        ctx.progress(e / total);
        await yieldToEventLoop();
      }
      const flat = acc.result();
      const values = tf.reshape(flat, [n, ...(mapShape as number[])]);
      flat.dispose();
      return {
        values,
        signed: o.mode === 'smoothgrad' ? signed : false,
        extras: { base: base.id, mode: o.mode, samples, sigma },
      };
    } finally {
      acc.dispose();
    }
  },
});
