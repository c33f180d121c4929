import * as tf from '@tensorflow/tfjs-core';
import type { RandomStream } from '@cnn-xai/core';

/*
 * Image parameterisations for feature visualization, after Lucid (`optvis/param/spatial.py`,
 * `optvis/param/color.py`): the optimiser works on free parameters (pixels, or a Fourier spectrum
 * scaled by 1/frequency), which a fixed, differentiable map turns into an image in the model's
 * input range: colour decorrelation (RGB only), then a sigmoid (or a clip).
 */

export const PARAMETERIZATIONS = ['fourier', 'pixel'] as const;
export type Parameterization = (typeof PARAMETERIZATIONS)[number];
export const VALID_MODES = ['sigmoid', 'clip'] as const;
export type ValidMode = (typeof VALID_MODES)[number];

/**
 * Lucid's `color_correlation_svd_sqrt` (square root of the ImageNet colour covariance, from its
 * SVD), rows = RGB. `COLOR_MEAN` is added in the clip mode.
 */
export const COLOR_CORRELATION_SVD_SQRT: readonly (readonly number[])[] = [
  [0.26, 0.09, 0.02],
  [0.27, 0.0, -0.05],
  [0.27, -0.09, 0.03],
];
export const COLOR_MEAN = [0.48, 0.46, 0.41] as const;

/** The 3x3 decorrelation matrix divided by its largest column norm (Lucid's `color_correlation_normalized`). */
export function colorCorrelationNormalized(): number[][] {
  const m = COLOR_CORRELATION_SVD_SQRT;
  let maxNorm = 0;
  for (let c = 0; c < 3; c++) {
    let s = 0;
    for (let r = 0; r < 3; r++) s += (m[r]?.[c] as number) ** 2;
    maxNorm = Math.max(maxNorm, Math.sqrt(s));
  }
  return m.map((row) => row.map((v) => v / maxNorm));
}

/** Inverse of a 3x3 matrix (for starting from an image). */
function invert3(m: number[][]): number[][] {
  const [a, b, c] = m[0] as [number, number, number];
  const [d, e, f] = m[1] as [number, number, number];
  const [g, h, i] = m[2] as [number, number, number];
  const A = e * i - f * h;
  const B = -(d * i - f * g);
  const C = d * h - e * g;
  const det = a * A + b * B + c * C;
  return [
    [A / det, -(b * i - c * h) / det, (b * f - c * e) / det],
    [B / det, (a * i - c * g) / det, -(a * f - c * d) / det],
    [C / det, -(a * h - b * g) / det, (a * e - b * d) / det],
  ];
}

/**
 * Lucid's `rfft2d_freqs(h, w)`: the frequency magnitude sqrt(fx^2 + fy^2) of each entry of a real
 * 2-D spectrum [h, floor(w/2) + 1], with NumPy's fftfreq conventions.
 */
export function rfft2dFreqs(h: number, w: number): Float32Array {
  const wf = Math.floor(w / 2) + 1;
  const out = new Float32Array(h * wf);
  for (let ky = 0; ky < h; ky++) {
    const fy = (ky < Math.ceil(h / 2) ? ky : ky - h) / h;
    for (let kx = 0; kx < wf; kx++) {
      const fx = (kx === w / 2 ? -kx : kx) / w;
      out[ky * wf + kx] = Math.sqrt(fx * fx + fy * fy);
    }
  }
  return out;
}

/**
 * Constant bases of the real inverse 2-D DFT, so that `irfft2d` is two matmuls (differentiable on
 * every backend; tf.js has no FFT gradients). For a spectrum R + iI [h, wf] the image is
 * x[y, x] = 1/(h w) * sum_{ky,kx} c_kx * Re((R + iI) e^{2 pi i (ky y / h + kx x / w)}) with c = 1 for
 * the zero (and, for even w, the Nyquist) column and 2 otherwise: NumPy's `irfft2` exactly.
 */
export interface FourierBases {
  h: number;
  w: number;
  wf: number;
  /** [2 wf, 2 w]: [R | I] [B*h, 2wf] times this gives [P | Q] with P = R Cw' - I Sw', Q = R Sw' + I Cw'. */
  wBasis: tf.Tensor2D;
  /** [h, 2h]: [Ch | -Sh] / (h w); times [P; Q] gives the image rows. */
  hBasis: tf.Tensor2D;
  /** Forward real DFT along w: [w, 2 wf] (cos | -sin), for starting from an image. */
  wForward: tf.Tensor2D;
  /** Forward DFT along h: [2h, h] stacked (cos; -sin). */
  hForward: tf.Tensor2D;
  dispose(): void;
}

export function fourierBases(h: number, w: number): FourierBases {
  const wf = Math.floor(w / 2) + 1;
  const wb = new Float32Array(2 * wf * 2 * w);
  const wfwd = new Float32Array(w * 2 * wf);
  for (let kx = 0; kx < wf; kx++) {
    const c = kx === 0 || 2 * kx === w ? 1 : 2;
    for (let x = 0; x < w; x++) {
      const a = (2 * Math.PI * kx * x) / w;
      const cos = c * Math.cos(a);
      const sin = c * Math.sin(a);
      // rows 0..wf-1 multiply R, rows wf..2wf-1 multiply I; columns 0..w-1 give P, w..2w-1 give Q.
      wb[kx * 2 * w + x] = cos; // R -> P
      wb[kx * 2 * w + w + x] = sin; // R -> Q
      wb[(wf + kx) * 2 * w + x] = -sin; // I -> P
      wb[(wf + kx) * 2 * w + w + x] = cos; // I -> Q
      wfwd[x * 2 * wf + kx] = Math.cos(a);
      wfwd[x * 2 * wf + wf + kx] = -Math.sin(a);
    }
  }
  const hb = new Float32Array(h * 2 * h);
  const hfwd = new Float32Array(2 * h * h);
  const norm = 1 / (h * w);
  for (let y = 0; y < h; y++) {
    for (let ky = 0; ky < h; ky++) {
      const a = (2 * Math.PI * ky * y) / h;
      hb[y * 2 * h + ky] = Math.cos(a) * norm;
      hb[y * 2 * h + h + ky] = -Math.sin(a) * norm;
      hfwd[ky * h + y] = Math.cos(a);
      hfwd[(h + ky) * h + y] = -Math.sin(a);
    }
  }
  const wBasis = tf.tensor2d(wb, [2 * wf, 2 * w]);
  const hBasis = tf.tensor2d(hb, [h, 2 * h]);
  const wForward = tf.tensor2d(wfwd, [w, 2 * wf]);
  const hForward = tf.tensor2d(hfwd, [2 * h, h]);
  return { h, w, wf, wBasis, hBasis, wForward, hForward, dispose: () => tf.dispose([wBasis, hBasis, wForward, hForward]) };
}

/**
 * NumPy's `irfft2` of a batch of spectra given as real and imaginary parts [B, h, wf]: [B, h, w].
 */
export function irfft2d(re: tf.Tensor, im: tf.Tensor, bases: FourierBases): tf.Tensor3D {
  return tf.tidy(() => {
    const { h, w, wf } = bases;
    const b = re.shape[0] as number;
    const ri = tf.concat([tf.reshape(re, [b * h, wf]), tf.reshape(im, [b * h, wf])], 1); // [B h, 2wf]
    const pq = tf.matMul(ri, bases.wBasis); // [B h, 2w] = [P | Q]
    // Rows of P and Q per image: [B, h, 2, w] -> [2h, B w] with P rows first.
    const stacked = tf.transpose(tf.reshape(pq, [b, h, 2, w]), [2, 1, 0, 3]); // [2, h, B, w]
    const img = tf.matMul(bases.hBasis, tf.reshape(stacked, [2 * h, b * w])); // [h, B w]
    return tf.transpose(tf.reshape(img, [h, b, w]), [1, 0, 2]) as tf.Tensor3D;
  });
}

/** NumPy's `rfft2` of real images [B, h, w]: real and imaginary parts [B, h, wf]. */
export function rfft2d(x: tf.Tensor, bases: FourierBases): [tf.Tensor3D, tf.Tensor3D] {
  return tf.tidy(() => {
    const { h, w, wf } = bases;
    const b = x.shape[0] as number;
    const alongW = tf.matMul(tf.reshape(x, [b * h, w]), bases.wForward); // [B h, 2wf]: a = Re, c = Im along w
    const cols = tf.reshape(tf.transpose(tf.reshape(alongW, [b, h, 2 * wf]), [1, 0, 2]), [h, b * 2 * wf]);
    const full = tf.matMul(bases.hForward, cols); // [2h, B 2wf]: (cos; -sin) along h
    const parts = tf.reshape(full, [2, h, b, 2, wf]);
    const part = (i: number, j: number): tf.Tensor =>
      tf.reshape(tf.slice(parts, [i, 0, 0, j, 0], [1, h, b, 1, wf]), [h, b, wf]);
    // (Ch - i Sh)(a + i c) = Ch a + Sh' c + i (Ch c - Sh a), with hForward rows (Ch; -Sh).
    const re = tf.sub(part(0, 0), part(1, 1));
    const im = tf.add(part(0, 1), part(1, 0));
    return [tf.transpose(re, [1, 0, 2]) as tf.Tensor3D, tf.transpose(im, [1, 0, 2]) as tf.Tensor3D];
  });
}

export interface ImageParamOptions {
  parameterization: Parameterization;
  decorrelate: boolean;
  valid: ValidMode;
  /** Lucid's `decay_power` of the Fourier scale 1/f^decay. */
  decay: number;
  /** The model's input range. */
  low: number;
  high: number;
}

/**
 * A parameterised batch of images [N, H, W, C]: `params` are the tensors the optimiser updates,
 * `image(params)` maps them (differentiably) to images in [low, high]. The caller owns `params`
 * and disposes the parameterisation (its constant tensors) with `dispose()`.
 */
export interface ImageParam {
  shape: [number, number, number, number];
  params: tf.Tensor[];
  image(params: readonly tf.Tensor[]): tf.Tensor4D;
  dispose(): void;
}

/** Straight-through clip: clips forward, passes the gradient unchanged (Lucid's constrain_L_inf). */
function clipStraightThrough(x: tf.Tensor, lo: number, hi: number): tf.Tensor {
  const f = tf.customGrad((...args: unknown[]) => ({
    value: tf.clipByValue(args[0] as tf.Tensor, lo, hi),
    gradFunc: (dy: tf.Tensor | tf.Tensor[]) => [dy as tf.Tensor],
  }));
  return (f as unknown as (a: tf.Tensor) => tf.Tensor)(x);
}

/**
 * Builds the parameterisation for N images of [h, w, c]. The initial parameters are
 * N(0, 0.01) noise from `random` (Lucid), or, when `start` is given ([N, h, w, c] in [low, high]),
 * the parameters whose image is `start` (pixels clamped to 1%..99% of the range so the sigmoid
 * can be inverted) plus that noise.
 */
export function createImageParam(
  shape: [number, number, number, number],
  o: ImageParamOptions,
  random: RandomStream,
  start?: tf.Tensor4D,
): ImageParam {
  const [n, h, w, c] = shape;
  const range = o.high - o.low;
  const decorrelate = o.decorrelate && c === 3;
  const colorT = decorrelate ? tf.tidy(() => tf.transpose(tf.tensor2d(colorCorrelationNormalized()))) : null; // x_flat @ M^T
  const colorMean = o.valid === 'clip' ? (c === 3 ? tf.tensor1d([...COLOR_MEAN]) : tf.scalar(0.5)) : null;
  const owned: tf.Tensor[] = [];
  if (colorT) owned.push(colorT);
  if (colorMean) owned.push(colorMean);

  const toValid = (t: tf.Tensor4D): tf.Tensor4D => {
    let x: tf.Tensor = t;
    if (colorT) x = tf.reshape(tf.matMul(tf.reshape(x, [-1, 3]), colorT), shape);
    if (o.valid === 'sigmoid') x = tf.sigmoid(x);
    else x = clipStraightThrough(tf.add(x, colorMean as tf.Tensor), 0, 1);
    return (range === 1 && o.low === 0 ? x : tf.add(tf.mul(x, range), o.low)) as tf.Tensor4D;
  };
  /** The pre-valid tensor whose image is `start` (inverse of toValid, before the spatial map). */
  const fromValid = (img: tf.Tensor4D): tf.Tensor4D =>
    tf.tidy(() => {
      let u: tf.Tensor = tf.clipByValue(tf.div(tf.sub(img, o.low), range), 0.01, 0.99);
      if (o.valid === 'sigmoid') u = tf.log(tf.div(u, tf.sub(1, u)));
      else u = tf.sub(u, colorMean as tf.Tensor);
      if (decorrelate) {
        const inv = tf.transpose(tf.tensor2d(invert3(colorCorrelationNormalized())));
        u = tf.reshape(tf.matMul(tf.reshape(u, [-1, 3]), inv), shape);
      }
      return u as tf.Tensor4D;
    });
  const noise = (count: number): Float32Array => random.normalArray(count, 0, 0.01);

  if (o.parameterization === 'pixel') {
    const init = tf.tidy(() => {
      const z = tf.tensor4d(noise(n * h * w * c), shape);
      return start ? tf.add(fromValid(start), z) : z;
    });
    return {
      shape,
      params: [init],
      image: (p) => tf.tidy(() => toValid(p[0] as tf.Tensor4D)),
      dispose: () => tf.dispose(owned),
    };
  }

  // Fourier: spectrum [N*C, h, wf] (real, imaginary), scaled by 1/max(f, 1/max(h,w))^decay * sqrt(h w);
  // the image is irfft2d(scaled) / 4 (Lucid's fft_image).
  const bases = fourierBases(h, w);
  const freqs = rfft2dFreqs(h, w);
  const floor = 1 / Math.max(h, w);
  const scaleArr = Float32Array.from(freqs, (f) => Math.sqrt(h * w) / Math.max(f, floor) ** o.decay);
  const scale = tf.tensor3d(scaleArr, [1, h, bases.wf]);
  owned.push(scale);
  const spatial = (re: tf.Tensor, im: tf.Tensor): tf.Tensor4D => {
    const img = irfft2d(tf.mul(re, scale), tf.mul(im, scale), bases); // [N*C, h, w]
    return tf.transpose(tf.reshape(tf.div(img, 4), [n, c, h, w]), [0, 2, 3, 1]) as tf.Tensor4D;
  };
  const size = n * c * h * bases.wf;
  const [re0, im0] = tf.tidy(() => {
    const re = tf.tensor3d(noise(size), [n * c, h, bases.wf]);
    const im = tf.tensor3d(noise(size), [n * c, h, bases.wf]);
    if (!start) return [re, im];
    // spectrum = 4 * rfft2(u) / scale, so that irfft2(scale * spectrum) / 4 = u.
    const u = tf.reshape(tf.transpose(fromValid(start), [0, 3, 1, 2]), [n * c, h, w]);
    const [fr, fi] = rfft2d(u, bases);
    return [tf.add(tf.div(tf.mul(fr, 4), scale), re), tf.add(tf.div(tf.mul(fi, 4), scale), im)];
  });
  return {
    shape,
    params: [re0 as tf.Tensor, im0 as tf.Tensor],
    image: (p) => tf.tidy(() => toValid(spatial(p[0] as tf.Tensor, p[1] as tf.Tensor))),
    dispose: () => {
      tf.dispose(owned);
      bases.dispose();
    },
  };
}
