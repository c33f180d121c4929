import * as tf from '@tensorflow/tfjs-core';
import { CnnXaiError } from '@cnn-xai/core';

/** A box [x0, y0, x1, y1]: inclusive pixel coordinates, x = column, y = row (the shapes fixture's format). */
export type Box = readonly [number, number, number, number];

/**
 * Ground truth for localisation metrics, per image of the batch, at the input's resolution:
 * - `masks`: a tf.Tensor [N, H, W] (or [N, H, W, 1]), or one array of H*W values per image
 *   (row-major); a value > 0.5 is inside the object;
 * - `boxes`: one box per image ([x0, y0, x1, y1], inclusive) or a list of boxes per image (their union).
 * Give either or both; each metric uses the region it was defined with when both are there.
 */
export interface GroundTruth {
  masks?: tf.Tensor | ReadonlyArray<ArrayLike<number>>;
  boxes?: ReadonlyArray<Box | readonly Box[]>;
}

/** Which region a localisation metric scores against. */
export const REGIONS = ['auto', 'mask', 'box'] as const;
export type Region = (typeof REGIONS)[number];

/** Binary masks, one Uint8Array of H*W per image, from the `masks` of a GroundTruth. */
export function masksFrom(masks: GroundTruth['masks'], n: number, h: number, w: number): Uint8Array[] {
  const expected = `[${n}, ${h}, ${w}] (one ${h}x${w} mask per image, at the input's resolution)`;
  if (masks instanceof tf.Tensor) {
    const s = masks.shape;
    const ok = (s.length === 3 || (s.length === 4 && s[3] === 1)) && s[0] === n && s[1] === h && s[2] === w;
    if (!ok) {
      throw new CnnXaiError('BAD_INPUT_SHAPE', `The masks have shape [${s.join(', ')}]; expected ${expected}.`, 'Resize the masks to the model input (nearest neighbour) and give one per image.');
    }
    const data = masks.dataSync();
    return Array.from({ length: n }, (_, i) => Uint8Array.from(data.subarray(i * h * w, (i + 1) * h * w), (v) => (v > 0.5 ? 1 : 0)));
  }
  if (!Array.isArray(masks)) {
    throw new CnnXaiError('BAD_INPUT_SHAPE', 'Masks must be a tf.Tensor [N, H, W] or one array of H*W values per image.');
  }
  const list = masks as ReadonlyArray<ArrayLike<number>>;
  if (list.length !== n) {
    throw new CnnXaiError('BAD_INPUT_SHAPE', `Got ${list.length} masks for ${n} images; expected ${expected}.`, 'Give one mask per image, in input order.');
  }
  return list.map((m, i) => {
    if (m.length !== h * w) {
      throw new CnnXaiError('BAD_INPUT_SHAPE', `Mask ${i} has ${m.length} values; expected ${h * w} (${h}x${w}, row-major), the input's resolution; all masks: ${expected}.`);
    }
    return Uint8Array.from(m as ArrayLike<number>, (v) => (v > 0.5 ? 1 : 0));
  });
}

function checkBox(b: Box, i: number, h: number, w: number): void {
  const ok =
    Array.isArray(b) &&
    b.length === 4 &&
    b.every((v) => Number.isInteger(v)) &&
    b[0] >= 0 &&
    b[1] >= 0 &&
    b[0] <= b[2] &&
    b[1] <= b[3] &&
    b[2] < w &&
    b[3] < h;
  if (!ok) {
    throw new CnnXaiError(
      'BAD_INPUT_SHAPE',
      `Box ${JSON.stringify(b)} of image ${i} is not [x0, y0, x1, y1] with integer, inclusive pixel coordinates inside the ${w}x${h} input.`,
      'Boxes are [x0, y0, x1, y1] with 0 <= x0 <= x1 < W and 0 <= y0 <= y1 < H.',
    );
  }
}

/** Box masks (the union of an image's boxes), one per image. */
export function boxMasksFrom(boxes: NonNullable<GroundTruth['boxes']>, n: number, h: number, w: number): Uint8Array[] {
  if (!Array.isArray(boxes) || boxes.length !== n) {
    throw new CnnXaiError('BAD_INPUT_SHAPE', `Got ${Array.isArray(boxes) ? boxes.length : 'no'} boxes for ${n} images.`, 'Give one box [x0, y0, x1, y1] (or a list of boxes) per image, in input order.');
  }
  return boxes.map((entry, i) => {
    const list = (Array.isArray(entry[0]) ? entry : [entry]) as readonly Box[];
    const m = new Uint8Array(h * w);
    for (const b of list) {
      checkBox(b, i, h, w);
      for (let y = b[1]; y <= b[3]; y++) for (let x = b[0]; x <= b[2]; x++) m[y * w + x] = 1;
    }
    return m;
  });
}

/**
 * The region masks a localisation metric scores against: `mask` or `box`, or for `auto` the
 * metric's own preference (`prefer`) when the ground truth has it, else the other one.
 */
export function regionMasks(
  gt: GroundTruth | undefined,
  region: Region,
  prefer: 'mask' | 'box',
  n: number,
  h: number,
  w: number,
  what: string,
): { masks: Uint8Array[]; region: 'mask' | 'box' } {
  const has = { mask: gt?.masks !== undefined, box: gt?.boxes !== undefined };
  if (!has.mask && !has.box) {
    throw new CnnXaiError('BAD_INPUT_SHAPE', `The ${what} needs ground truth: masks or boxes, one per image.`, 'Pass groundTruth: { masks } or { boxes } (the CLI: --masks or --boxes).');
  }
  let use: 'mask' | 'box';
  if (region === 'auto') use = has[prefer] ? prefer : prefer === 'mask' ? 'box' : 'mask';
  else {
    if (!has[region]) {
      throw new CnnXaiError('BAD_OPTION_VALUE', `Option "region" of ${what} is "${region}" but the ground truth has no ${region === 'mask' ? 'masks' : 'boxes'}.`, 'Use region=auto or give them.');
    }
    use = region;
  }
  const masks = use === 'mask' ? masksFrom(gt?.masks, n, h, w) : boxMasksFrom(gt?.boxes as NonNullable<GroundTruth['boxes']>, n, h, w);
  return { masks, region: use };
}

/** The tight box [x0, y0, x1, y1] of a mask, or null when it is empty. */
export function boxOfMask(mask: ArrayLike<number>, h: number, w: number): [number, number, number, number] | null {
  let x0 = w;
  let y0 = h;
  let x1 = -1;
  let y1 = -1;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      if ((mask[y * w + x] as number) > 0) {
        if (x < x0) x0 = x;
        if (x > x1) x1 = x;
        if (y < y0) y0 = y;
        if (y > y1) y1 = y;
      }
    }
  }
  return x1 < 0 ? null : [x0, y0, x1, y1];
}
