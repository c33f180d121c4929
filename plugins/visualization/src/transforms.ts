import * as tf from '@tensorflow/tfjs-core';
import type { RandomStream } from '@cnn-xai/core';

/*
 * Transformation robustness (Lucid `optvis/transform.py`: `standard_transforms` = pad(12),
 * jitter(8), random_scale(0.9..1.1), random_rotate(-10..10 deg), jitter(4)). Lucid's models take
 * any image size; ours take a fixed one, so the chain here ends in a crop back to the model's
 * input size:
 *
 *   pad P (constant: the middle of the input range)
 *   -> scale by s (bilinear resize, half-pixel centres)
 *   -> rotate by theta about the centre (three shears, linear interpolation, constant fill)
 *   -> crop H x W at the centre shifted by (dy, dx) in [-J, J] (the jitter; padded first if needed)
 *
 * Every step is made of pad, slice, resizeBilinear, mul and add, whose gradients exist on every
 * backend (tf.js has no differentiable image warp, and gather's gradient is missing on wasm).
 * One random draw per optimisation step is shared by the whole batch, as in Lucid.
 */

export interface TransformOptions {
  /** Padding on each side, in pixels. */
  pad: number;
  /** Largest shift of the final crop, in pixels. */
  jitter: number;
  /** Largest relative scale change: s in [1 - scale, 1 + scale]. */
  scale: number;
  /** Largest rotation in degrees: theta in [-rotate, rotate]. */
  rotate: number;
  /** Value of the padding and of the area rotated in (the middle of the input range). */
  fill: number;
}

/** One draw of the random transformation. */
export interface TransformDraw {
  scale: number;
  /** Radians. */
  angle: number;
  dy: number;
  dx: number;
}

/** Draws the parameters of one step; with every amount 0 the transform is the identity. */
export function drawTransform(o: TransformOptions, random: RandomStream): TransformDraw {
  const uniform = (a: number): number => (a > 0 ? (2 * random.next() - 1) * a : 0);
  const int = (a: number): number => (a > 0 ? random.int(2 * a + 1) - a : 0);
  return {
    scale: 1 + uniform(o.scale),
    angle: (uniform(o.rotate) * Math.PI) / 180,
    dy: int(o.jitter),
    dx: int(o.jitter),
  };
}

/** Shifts along `axis` (1 = rows/y, 2 = columns/x) by integer k: out[i] = x[i - k], zeros shifted in. */
function shift(x: tf.Tensor4D, axis: 1 | 2, k: number): tf.Tensor4D {
  if (k === 0) return x;
  const size = x.shape[axis];
  if (Math.abs(k) >= size) return tf.zerosLike(x);
  const begin = [0, 0, 0, 0];
  const len = [-1, -1, -1, -1];
  const pads: Array<[number, number]> = [
    [0, 0],
    [0, 0],
    [0, 0],
    [0, 0],
  ];
  if (k > 0) {
    len[axis] = size - k;
    pads[axis] = [k, 0];
  } else {
    begin[axis] = -k;
    len[axis] = size + k;
    pads[axis] = [0, -k];
  }
  return tf.pad(tf.slice(x, begin, len), pads) as tf.Tensor4D;
}

/**
 * Shear with linear interpolation: along x (`axis` 2) each row y moves by a * (y - cy); along y
 * (`axis` 1) each column x moves by a * (x - cx). Values outside are zero (callers shift the
 * fill to zero first). Written as a sum of integer shifts weighted per row (or column).
 */
export function shear(x: tf.Tensor4D, axis: 1 | 2, a: number): tf.Tensor4D {
  return tf.tidy(() => {
    const other = axis === 2 ? 1 : 2;
    const n = x.shape[other];
    const centre = (n - 1) / 2;
    const k0 = new Int32Array(n);
    const frac = new Float32Array(n);
    let lo = Infinity;
    let hi = -Infinity;
    for (let i = 0; i < n; i++) {
      const s = a * (i - centre);
      k0[i] = Math.floor(s);
      frac[i] = s - (k0[i] as number);
      lo = Math.min(lo, k0[i] as number);
      hi = Math.max(hi, (k0[i] as number) + 1);
    }
    let out: tf.Tensor4D | null = null;
    for (let k = lo; k <= hi; k++) {
      // out[j] = (1 - f) x[j - k0] + f x[j - k0 - 1]: shift k gets weight (1 - f) where k0 = k, f where k0 + 1 = k.
      const wts = new Float32Array(n);
      let any = false;
      for (let i = 0; i < n; i++) {
        let v = 0;
        if (k0[i] === k) v += 1 - (frac[i] as number);
        if ((k0[i] as number) + 1 === k) v += frac[i] as number;
        wts[i] = v;
        if (v !== 0) any = true;
      }
      if (!any) continue;
      const wShape: [number, number, number, number] = axis === 2 ? [1, n, 1, 1] : [1, 1, n, 1];
      const term = tf.mul(shift(x, axis, k), tf.tensor4d(wts, wShape)) as tf.Tensor4D;
      out = out ? (tf.add(out, term) as tf.Tensor4D) : term;
    }
    return out ?? tf.zerosLike(x);
  });
}

/**
 * Rotation by `angle` radians about the image centre as three shears (Paeth): x-shear by
 * -tan(angle / 2), y-shear by sin(angle), x-shear by -tan(angle / 2). Areas rotated in get `fill`.
 */
export function rotate(x: tf.Tensor4D, angle: number, fill: number): tf.Tensor4D {
  if (angle === 0) return x.clone();
  return tf.tidy(() => {
    const [, h, w] = x.shape;
    const t = -Math.tan(angle / 2);
    const s = Math.sin(angle);
    // Room for the intermediate shears, so that no content is cut before the final crop.
    const p = Math.ceil((Math.max(Math.abs(t), Math.abs(s)) * Math.max(h, w)) / 2) + 1;
    let z = (fill === 0 ? x : tf.sub(x, fill)) as tf.Tensor4D;
    z = tf.pad(z, [
      [0, 0],
      [p, p],
      [p, p],
      [0, 0],
    ]);
    z = shear(z, 2, t);
    z = shear(z, 1, s);
    z = shear(z, 2, t);
    z = tf.slice(z, [0, p, p, 0], [-1, h, w, -1]);
    return (fill === 0 ? z : tf.add(z, fill)) as tf.Tensor4D;
  });
}

/**
 * Applies one drawn transformation to a batch [N, H, W, C] and returns [N, H, W, C]
 * (differentiable with respect to `x`).
 */
export function applyTransform(x: tf.Tensor4D, o: TransformOptions, d: TransformDraw): tf.Tensor4D {
  return tf.tidy(() => {
    const [, h, w] = x.shape;
    let y: tf.Tensor4D = x;
    if (o.pad > 0) {
      y = tf.pad(y, [
        [0, 0],
        [o.pad, o.pad],
        [o.pad, o.pad],
        [0, 0],
      ], o.fill);
    }
    if (d.scale !== 1) {
      const sh = Math.max(1, Math.round(y.shape[1] * d.scale));
      const sw = Math.max(1, Math.round(y.shape[2] * d.scale));
      if (sh !== y.shape[1] || sw !== y.shape[2]) y = tf.image.resizeBilinear(y, [sh, sw], false, true);
    }
    if (d.angle !== 0) y = rotate(y, d.angle, o.fill);
    // Crop H x W around the centre, shifted by the jitter; pad first when the image is too small.
    const needH = h + 2 * Math.abs(d.dy);
    const needW = w + 2 * Math.abs(d.dx);
    const ph = Math.max(0, Math.ceil((needH - y.shape[1]) / 2));
    const pw = Math.max(0, Math.ceil((needW - y.shape[2]) / 2));
    if (ph > 0 || pw > 0) {
      y = tf.pad(y, [
        [0, 0],
        [ph, ph],
        [pw, pw],
        [0, 0],
      ], o.fill);
    }
    const oy = Math.min(Math.max(0, Math.floor((y.shape[1] - h) / 2) + d.dy), y.shape[1] - h);
    const ox = Math.min(Math.max(0, Math.floor((y.shape[2] - w) / 2) + d.dx), y.shape[2] - w);
    if (oy === 0 && ox === 0 && y.shape[1] === h && y.shape[2] === w) return y === x ? x.clone() : y;
    return tf.slice(y, [0, oy, ox, 0], [-1, h, w, -1]);
  });
}

/** True when the options make every transform the identity. */
export function isIdentity(o: TransformOptions): boolean {
  return o.pad === 0 && o.jitter === 0 && o.scale === 0 && o.rotate === 0;
}
