import * as tf from '@tensorflow/tfjs-core';
import { batchRanges, CnnXaiError, defineExplainer, opt, yieldToEventLoop, type RandomStream } from '@cnn-xai/core';

export const RISE_SCORES = ['softmax', 'logit'] as const;
export type RiseScores = (typeof RISE_SCORES)[number];
export const RISE_NORMALIZATIONS = ['expected', 'realized'] as const;
export type RiseNormalization = (typeof RISE_NORMALIZATIONS)[number];

/**
 * RISE's random masks in compact form: the binary grids and the crop shifts. Mask i is grid i
 * upsampled bilinearly to ((cells + 1) * cell) per axis, then cropped to H x W at shift i.
 */
export interface RiseMaskSet {
  /** Binary grids [N, cells, cells] (1 = keep), drawn with P(1) = p. */
  grids: Float32Array;
  /** Crop shift of each mask: row shift in [0, cell[0]), column shift in [0, cell[1]). */
  shifts: Int32Array;
  count: number;
  cells: number;
  /** Cell size per axis: ceil(H / cells), ceil(W / cells). */
  cell: [number, number];
  size: [number, number];
}

/**
 * Draws `count` masks from `random`: for each mask its grid (row-major, one draw per cell:
 * keep when next() < p), then its row shift and its column shift. The stream's order does not
 * depend on batch sizes or on the number of images.
 */
export function drawRiseMasks(random: RandomStream, count: number, cells: number, p: number, size: readonly [number, number]): RiseMaskSet {
  const cell: [number, number] = [Math.ceil(size[0] / cells), Math.ceil(size[1] / cells)];
  const per = cells * cells;
  const grids = new Float32Array(count * per);
  const shifts = new Int32Array(count * 2);
  for (let i = 0; i < count; i++) {
    for (let k = 0; k < per; k++) grids[i * per + k] = random.next() < p ? 1 : 0;
    shifts[2 * i] = random.int(cell[0]);
    shifts[2 * i + 1] = random.int(cell[1]);
  }
  return { grids, shifts, count, cells, cell, size: [size[0], size[1]] };
}

/**
 * Interpolation rows for one axis: table[d][o] holds the weights over the `cells` grid values of
 * output pixel o of a crop shifted by d, for bilinear upsampling from `cells` to (cells + 1) * cell
 * with half-pixel centres and clamped edges (PyTorch's `interpolate(mode='bilinear',
 * align_corners=False)`, tf.js's `resizeBilinear(.., false, true)`, TorchRay's RISE).
 * Returns a flat [cell, size, cells] array.
 */
export function riseInterpolation(cells: number, cell: number, size: number): Float32Array {
  const up = (cells + 1) * cell;
  const scale = cells / up;
  const out = new Float32Array(cell * size * cells);
  for (let d = 0; d < cell; d++) {
    for (let o = 0; o < size; o++) {
      const src = Math.max(0, (o + d + 0.5) * scale - 0.5);
      const i0 = Math.min(cells - 1, Math.floor(src));
      const i1 = Math.min(cells - 1, i0 + 1);
      const f = src - i0;
      const row = (d * size + o) * cells;
      out[row + i0] = (out[row + i0] as number) + (1 - f);
      out[row + i1] = (out[row + i1] as number) + f;
    }
  }
  return out;
}

/** Device-side tables that turn grids into masks: grids [N, s, s], shifts and interpolation rows. */
class MaskMaker {
  private readonly grids: tf.Tensor3D;
  private readonly dy: tf.Tensor1D;
  private readonly dx: tf.Tensor1D;
  private readonly rowsTable: tf.Tensor3D;
  private readonly colsTable: tf.Tensor3D;

  constructor(readonly set: RiseMaskSet) {
    const { cells, cell, size, count } = set;
    const dy = new Int32Array(count);
    const dx = new Int32Array(count);
    for (let i = 0; i < count; i++) {
      dy[i] = set.shifts[2 * i] as number;
      dx[i] = set.shifts[2 * i + 1] as number;
    }
    const made: tf.Tensor[] = [];
    try {
      made.push((this.grids = tf.tensor3d(set.grids, [count, cells, cells])));
      made.push((this.dy = tf.tensor1d(dy, 'int32')));
      made.push((this.dx = tf.tensor1d(dx, 'int32')));
      made.push((this.rowsTable = tf.tensor3d(riseInterpolation(cells, cell[0], size[0]), [cell[0], size[0], cells])));
      made.push((this.colsTable = tf.tensor3d(riseInterpolation(cells, cell[1], size[1]), [cell[1], size[1], cells])));
    } catch (e) {
      tf.dispose(made);
      throw e;
    }
  }

  /** Masks [end - start, H, W] of masks start..end-1: R_rows(shift) . grid . R_cols(shift)^T. */
  masks(start: number, end: number): tf.Tensor3D {
    return tf.tidy(() => {
      const b = end - start;
      const g = tf.slice(this.grids, [start, 0, 0], [b, -1, -1]);
      const ry = tf.gather(this.rowsTable, tf.slice(this.dy, start, b));
      const rx = tf.gather(this.colsTable, tf.slice(this.dx, start, b));
      return tf.matMul(tf.matMul(ry, g), rx, false, true) as tf.Tensor3D;
    });
  }

  dispose(): void {
    tf.dispose([this.grids, this.dy, this.dx, this.rowsTable, this.colsTable]);
  }
}

/** The masks of a mask set as a tensor [N, H, W] (for display or checks; N * H * W floats). */
export function riseMasks(set: RiseMaskSet, start = 0, end = set.count): tf.Tensor3D {
  const maker = new MaskMaker(set);
  try {
    return maker.masks(start, end);
  } finally {
    maker.dispose();
  }
}

/**
 * RISE (Petsiuk, Das, Saenko 2018): the saliency of a pixel is the expected target score of the
 * input multiplied by random smooth masks, given that the pixel is kept,
 * S = (1 / (N p)) sum_i f(x . M_i) M_i. Masks: a binary `cells` x `cells` grid with P(keep) = p,
 * upsampled bilinearly and randomly shifted (METHODS.md 1.5). The same masks serve every image
 * of the batch. The map is [N, H, W]; with softmax scores it is non-negative.
 */
export const rise = defineExplainer({
  id: 'rise',
  name: 'RISE',
  family: 'perturbation',
  kind: 'perturbation',
  description:
    'Multiplies the image by thousands of random smooth masks, scores each masked image with the model, and averages the masks weighted by the scores: a pixel matters when keeping it keeps the score high. Needs only the model\'s scores.',
  paper: {
    title: 'RISE: Randomized Input Sampling for Explanation of Black-box Models',
    authors: 'Petsiuk, Das, Saenko',
    year: 2018,
    url: 'https://arxiv.org/abs/1806.07421',
  },
  requires: { gradients: false },
  options: {
    samples: opt.integer({
      default: 4000,
      min: 1,
      max: 100000,
      description: 'Number of random masks (forward passes per image). The authors use 4000-8000; fewer give a noisier map.',
    }),
    cells: opt.integer({ default: 7, min: 1, max: 256, description: 'Side s of the binary grid each mask is upsampled from (s x s cells).' }),
    p: opt.number({ default: 0.5, min: 0.01, max: 1, description: 'Probability that a grid cell is kept (1) rather than masked.' }),
    scores: opt.choice({
      default: 'softmax',
      choices: RISE_SCORES,
      description:
        "softmax: the target's probability, as in the paper (the target function, if any, gets probabilities); logit: the model's scores as they are (use it when a black box already returns probabilities).",
    }),
    normalization: opt.choice({
      default: 'expected',
      choices: RISE_NORMALIZATIONS,
      description:
        "expected: divide by N p, the paper's estimator; realized: divide each pixel by the sum of its mask values, so a constant model gives exactly its constant.",
    }),
    batchSize: opt.integer({ default: 64, min: 1, max: 8192, description: 'Masked images per forward pass.' }),
    seed: opt.integer({ default: 0, min: 0, description: "Seed of the masks (the call's seed wins over this default)." }),
  },
  async explain(x, ctx, o) {
    const [n, h, w] = x.shape;
    if (o.cells > Math.max(h, w)) {
      throw new CnnXaiError(
        'BAD_OPTION_VALUE',
        `Option "cells" of rise is ${o.cells}, more than the image has pixels per side (${h} x ${w}).`,
        `Use at most ${Math.max(h, w)} cells (7 is the usual choice).`,
      );
    }
    const set = drawRiseMasks(ctx.random, o.samples, o.cells, o.p, [h, w]);
    const maker = new MaskMaker(set);
    const hw = h * w;
    let acc: tf.Tensor2D | null = null;
    let maskSum: tf.Tensor2D | null = null;
    try {
      acc = tf.zeros([n, hw]);
      maskSum = tf.zeros([1, hw]);
      const ranges = batchRanges(o.samples, o.batchSize);
      const steps = ranges.length * n;
      let step = 0;
      for (const [s, e] of ranges) {
        const b = e - s;
        const masks = maker.masks(s, e);
        const rowScores: tf.Tensor1D[] = [];
        try {
          const masks4 = tf.expandDims(masks, 3) as tf.Tensor4D;
          try {
            for (let img = 0; img < n; img++) {
              ctx.throwIfAborted();
              const batch = tf.tidy(() => tf.mul(tf.slice(x, [img, 0, 0, 0], [1, -1, -1, -1]), masks4) as tf.Tensor4D);
              let out: tf.Tensor;
              try {
                out = await ctx.model.predict(batch);
              } finally {
                batch.dispose();
              }
              const rows = new Array<number>(b).fill(img);
              rowScores.push(tf.tidy(() => ctx.target.score(o.scores === 'softmax' ? tf.softmax(out) : out, rows)));
              out.dispose();
              ctx.progress(++step / steps);
              await yieldToEventLoop();
            }
          } finally {
            masks4.dispose();
          }
          const [nextAcc, nextSum] = tf.tidy(() => {
            const flat = tf.reshape(masks, [b, hw]);
            const scores = tf.stack(rowScores) as tf.Tensor2D; // [n, b]
            return [tf.add(acc as tf.Tensor2D, tf.matMul(scores, flat)) as tf.Tensor2D, tf.add(maskSum as tf.Tensor2D, tf.sum(flat, 0, true)) as tf.Tensor2D];
          });
          acc.dispose();
          maskSum.dispose();
          acc = nextAcc;
          maskSum = nextSum;
        } finally {
          masks.dispose();
          tf.dispose(rowScores);
        }
      }
      const sum = acc;
      const weight = maskSum;
      const values = tf.tidy(() => {
        // A pixel no mask kept (sum 0) has a score sum of 0 as well, and stays 0.
        const v = o.normalization === 'realized' ? tf.div(sum, tf.maximum(weight, 1e-30)) : tf.div(sum, o.samples * o.p);
        return tf.reshape(v, [n, h, w]) as tf.Tensor3D;
      });
      const grids = tf.tensor3d(set.grids, [set.count, set.cells, set.cells]);
      const shifts = tf.tensor2d(set.shifts, [set.count, 2], 'int32');
      return {
        values,
        // Probabilities times masks are never negative; logits and custom target functions can be.
        signed: o.scores === 'logit' || ctx.target.classes === null,
        extras: { grids, shifts, cell: [...set.cell], cells: set.cells, p: o.p, samples: o.samples },
      };
    } finally {
      maker.dispose();
      acc?.dispose();
      maskSum?.dispose();
    }
  },
});
