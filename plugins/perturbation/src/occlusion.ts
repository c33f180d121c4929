import * as tf from '@tensorflow/tfjs-core';
import { BASELINES, batchRanges, CnnXaiError, defineExplainer, makeBaseline, opt, yieldToEventLoop, type ExplainContext } from '@cnn-xai/core';

/** Window side and stride in pixels after resolving `0` (auto) against the image size. */
export interface OcclusionGeometry {
  window: number;
  stride: number;
  /** Window positions per axis: Captum's ceil((size - window) / stride) + 1. */
  positions: [number, number];
  /** Top-left row of each vertical position and left column of each horizontal one. */
  starts: [number[], number[]];
  /** How many windows cover each row / each column; a pixel's count is their product. */
  cover: [number[], number[]];
}

/** The auto window: about a seventh of the shorter side (4 on 28x28, 9 on 64x64, 32 on 224x224). */
export function autoWindow(height: number, width: number): number {
  return Math.max(1, Math.round(Math.min(height, width) / 7));
}

/**
 * Resolves and checks the window geometry for an image of `height` x `width`, with Captum's
 * rules: the window must fit the image, the stride may not exceed the window (on an axis the
 * window does not fill), positions per axis are ceil((size - window) / stride) + 1, and the last
 * window on an axis is cut at the border when the stride does not divide size - window. Every
 * pixel is then covered by at least one window.
 */
export function occlusionGeometry(height: number, width: number, window: number, stride: number): OcclusionGeometry {
  const win = window > 0 ? window : autoWindow(height, width);
  const step = stride > 0 ? stride : Math.max(1, Math.ceil(win / 2));
  if (win > height || win > width) {
    throw new CnnXaiError(
      'BAD_OPTION_VALUE',
      `Option "window" of occlusion is ${win}, larger than the image (${height} x ${width}).`,
      `Use a window of at most ${Math.min(height, width)} pixels (0 picks one for the image size).`,
    );
  }
  const axis = (size: number): { starts: number[]; cover: number[] } => {
    const room = size - win;
    if (room > 0 && step > win) {
      throw new CnnXaiError(
        'BAD_OPTION_VALUE',
        `Option "stride" of occlusion is ${step}, larger than the window (${win}): pixels between windows would never be occluded.`,
        `Use a stride of at most ${win} (Captum has the same rule).`,
      );
    }
    const count = Math.ceil(room / step) + 1;
    const starts = Array.from({ length: count }, (_, i) => i * step);
    const cover = new Array<number>(size).fill(0);
    for (const s of starts) for (let p = s; p < Math.min(size, s + win); p++) cover[p] = (cover[p] as number) + 1;
    return { starts, cover };
  };
  const y = axis(height);
  const x = axis(width);
  return {
    window: win,
    stride: step,
    positions: [y.starts.length, x.starts.length],
    starts: [y.starts, x.starts],
    cover: [y.cover, x.cover],
  };
}

/**
 * The occlusion masks of window positions `positions` (row-major over the position grid), as
 * [B, H, W, 1] with 1 inside the window (cut at the border) and 0 outside.
 */
export function occlusionMasks(geometry: OcclusionGeometry, height: number, width: number, positions: readonly number[]): tf.Tensor4D {
  return tf.tidy(() => {
    const px = geometry.positions[1];
    const y0 = positions.map((p) => geometry.starts[0][Math.floor(p / px)] as number);
    const x0 = positions.map((p) => geometry.starts[1][p % px] as number);
    return windowMasks(tf.tensor1d(y0, 'int32'), tf.tensor1d(x0, 'int32'), geometry.window, height, width);
  });
}

/** Binary window masks [B, H, W, 1] from top-left corners given as int32 tensors [B]. */
function windowMasks(y0: tf.Tensor1D, x0: tf.Tensor1D, win: number, height: number, width: number): tf.Tensor4D {
  return tf.tidy(() => {
    const b = y0.shape[0];
    const iy = tf.reshape(tf.range(0, height, 1, 'int32'), [1, height, 1, 1]);
    const ix = tf.reshape(tf.range(0, width, 1, 'int32'), [1, 1, width, 1]);
    const top = tf.reshape(y0, [b, 1, 1, 1]);
    const left = tf.reshape(x0, [b, 1, 1, 1]);
    const rows = tf.cast(tf.logicalAnd(tf.greaterEqual(iy, top), tf.less(iy, tf.add(top, win))), 'float32');
    const cols = tf.cast(tf.logicalAnd(tf.greaterEqual(ix, left), tf.less(ix, tf.add(left, win))), 'float32');
    return tf.mul(rows, cols) as tf.Tensor4D;
  });
}

/** Target scores of a batch through `ctx.model`, one per row (`rows[r]` is the image of row r). */
export async function targetScores(ctx: ExplainContext, batch: tf.Tensor4D, rows: readonly number[]): Promise<tf.Tensor1D> {
  const out = await ctx.model.predict(batch);
  try {
    return tf.tidy(() => ctx.target.score(out, rows));
  } finally {
    out.dispose();
  }
}

/** Target scores of the unperturbed images, [N], in passes of at most `batchSize`. */
export async function cleanScores(ctx: ExplainContext, x: tf.Tensor4D, batchSize: number): Promise<tf.Tensor1D> {
  const n = x.shape[0];
  const parts: tf.Tensor1D[] = [];
  try {
    for (const [s, e] of batchRanges(n, batchSize)) {
      ctx.throwIfAborted();
      const part = s === 0 && e === n ? x : (tf.slice(x, [s, 0, 0, 0], [e - s, -1, -1, -1]) as tf.Tensor4D);
      try {
        parts.push(await targetScores(ctx, part, Array.from({ length: e - s }, (_, i) => s + i)));
      } finally {
        if (part !== x) part.dispose();
      }
    }
    return parts.length === 1 ? (parts.pop() as tf.Tensor1D) : (tf.concat(parts, 0) as tf.Tensor1D);
  } finally {
    tf.dispose(parts);
  }
}

/**
 * Occlusion (Zeiler & Fergus 2014) with Captum's semantics: a window slides over the image with
 * the given stride; at each position the window (all channels) is replaced by the baseline and
 * the drop of the target score, f(x) - f(x occluded), is credited to every pixel in the window.
 * A pixel's value is the mean drop over the windows that cover it. The map is [N, H, W] and
 * signed (a window whose removal raises the score gets a negative value).
 */
export const occlusion = defineExplainer({
  id: 'occlusion',
  name: 'Occlusion',
  family: 'perturbation',
  kind: 'perturbation',
  description:
    "Slides a patch over the image, replaces it by a baseline and records how much the target score drops; each pixel gets the mean drop of the patches covering it (Captum's Occlusion). Needs only the model's scores.",
  paper: {
    title: 'Visualizing and Understanding Convolutional Networks',
    authors: 'Zeiler, Fergus',
    year: 2014,
    url: 'https://arxiv.org/abs/1311.2901',
  },
  requires: { gradients: false },
  options: {
    window: opt.integer({
      default: 0,
      min: 0,
      max: 4096,
      description:
        'Side of the square patch in pixels; it spans all channels. 0: about a seventh of the shorter image side (4 on 28x28, 32 on 224x224).',
    }),
    stride: opt.integer({
      default: 0,
      min: 0,
      max: 4096,
      description: 'Step between patch positions in pixels, at most the window. 0: half the window, rounded up (2 for a window of 4).',
    }),
    baseline: opt.choiceOrValue({
      default: 'zeros',
      choices: BASELINES,
      description: 'What replaces the patch: zeros, blur (the blurred image), mean (the per-channel image mean), uniform noise, a number, or an array/tensor from the API.',
    }),
    batchSize: opt.integer({ default: 64, min: 1, max: 8192, description: 'Occluded images per forward pass (positions of all images are batched together).' }),
  },
  async explain(x, ctx, o) {
    const [n, h, w] = x.shape;
    const g = occlusionGeometry(h, w, o.window, o.stride);
    const [py, px] = g.positions;
    const per = py * px;
    const total = n * per;
    const keep: tf.Tensor[] = [];
    const drops: tf.Tensor1D[] = [];
    let acc: tf.Tensor2D | null = null;
    try {
      const baseline = makeBaseline(x, o.baseline, { random: ctx.random });
      keep.push(baseline);
      // f(x) of every image, batched like the occluded copies.
      const f0 = await cleanScores(ctx, x, o.batchSize);
      keep.push(f0);
      // Row r of the flat (image, position) list: image floor(r / per), position r % per.
      const image = new Int32Array(total);
      const top = new Int32Array(total);
      const left = new Int32Array(total);
      for (let r = 0; r < total; r++) {
        const p = r % per;
        image[r] = Math.floor(r / per);
        top[r] = g.starts[0][Math.floor(p / px)] as number;
        left[r] = g.starts[1][p % px] as number;
      }
      const imageT = tf.tensor1d(image, 'int32');
      const topT = tf.tensor1d(top, 'int32');
      const leftT = tf.tensor1d(left, 'int32');
      keep.push(imageT, topT, leftT);
      acc = tf.zeros([n, h * w]);
      for (const [s, e] of batchRanges(total, o.batchSize)) {
        ctx.throwIfAborted();
        const b = e - s;
        const rows = Array.from(image.subarray(s, e));
        const [occluded, masks, idx] = tf.tidy(() => {
          const idx = tf.slice(imageT, s, b);
          const m = windowMasks(tf.slice(topT, s, b), tf.slice(leftT, s, b), g.window, h, w);
          // Captum: x * (1 - mask) + baseline * mask.
          const xs = tf.add(tf.mul(tf.gather(x, idx), tf.sub(1, m)), tf.mul(tf.gather(baseline, idx), m)) as tf.Tensor4D;
          return [xs, m, idx] as const;
        });
        let scores: tf.Tensor1D;
        try {
          scores = await targetScores(ctx, occluded, rows);
        } catch (err) {
          tf.dispose([masks, idx]);
          throw err;
        } finally {
          occluded.dispose();
        }
        const [next, drop] = tf.tidy(() => {
          const d = tf.sub(tf.gather(f0, idx), scores);
          // Credit each row's drop to its image: [n, b] selection weighted by the drops, times the masks.
          const owner = tf.cast(tf.equal(tf.reshape(tf.range(0, n, 1, 'int32'), [n, 1]), tf.reshape(idx, [1, b])), 'float32');
          const sel = tf.mul(owner, tf.reshape(d, [1, b]));
          const add = tf.matMul(sel, tf.reshape(masks, [b, h * w]));
          return [tf.add(acc as tf.Tensor2D, add) as tf.Tensor2D, d as tf.Tensor1D] as const;
        });
        tf.dispose([scores, masks, idx, acc]);
        acc = next;
        drops.push(drop);
        ctx.progress(e / total);
        await yieldToEventLoop();
      }
      const cover = new Float32Array(h * w);
      for (let i = 0; i < h; i++) for (let j = 0; j < w; j++) cover[i * w + j] = (g.cover[0][i] as number) * (g.cover[1][j] as number);
      const sum = acc;
      const values = tf.tidy(() => tf.reshape(tf.div(sum, tf.tensor2d(cover, [1, h * w])), [n, h, w]));
      const scoreDrops = tf.tidy(() => tf.reshape(drops.length === 1 ? (drops[0] as tf.Tensor1D) : tf.concat(drops, 0), [n, py, px]));
      const baseScores = Array.from(await f0.data());
      return {
        values,
        signed: true,
        extras: { scoreDrops, baseScores, window: g.window, stride: g.stride, positions: [py, px] },
      };
    } finally {
      tf.dispose(keep);
      tf.dispose(drops);
      acc?.dispose();
    }
  },
});
