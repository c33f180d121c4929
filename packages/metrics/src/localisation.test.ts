import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { isCnnXaiError, selectBackend } from '@cnn-xai/core';
import { boxMasksFrom, boxOfMask, masksFrom } from './ground-truth.js';
import { bboxScore, energyPointingGame, meanIoU, pointingGame } from './localisation.js';

/** A 1 x H x W map tensor from rows of numbers. */
const map = (rows: number[][]): tf.Tensor3D => tf.tensor3d([rows]);

/** An 8x8 mask with the 3x3 block at rows 2..4, columns 3..5. */
function blockMask(): number[] {
  const m = new Array<number>(64).fill(0);
  for (let y = 2; y <= 4; y++) for (let x = 3; x <= 5; x++) m[y * 8 + x] = 1;
  return m;
}

const grid = (flat: number[], w: number): number[][] => Array.from({ length: flat.length / w }, (_, i) => flat.slice(i * w, (i + 1) * w));

describe('localisation metrics on hand-made masks', () => {
  beforeAll(async () => {
    await selectBackend('cpu');
  });

  it('a map equal to the mask: EBPG 1 and a pointing-game hit', () => {
    const mask = blockMask();
    const a = map(grid(mask, 8));
    const gt = { masks: [mask] };
    expect(energyPointingGame({ attribution: a, groundTruth: gt }).value).toBe(1);
    const pg = pointingGame({ attribution: a, groundTruth: gt, options: { tolerance: 0 } });
    expect(pg.perImage).toEqual([1]);
    expect(pg.value).toBe(1);
    expect(pointingGame({ attribution: a, groundTruth: gt }).value).toBe(1);
    a.dispose();
  });

  it('a map peaking outside the mask misses; a peak within the tolerance hits', () => {
    const mask = blockMask();
    const far = new Array<number>(64).fill(0);
    far[7 * 8 + 0] = 1; // row 7, column 0: distance to the block > 3 px
    const a = map(grid(far, 8));
    expect(pointingGame({ attribution: a, groundTruth: { masks: [mask] }, options: { tolerance: 2 } }).perImage).toEqual([0]);
    const ebpg = energyPointingGame({ attribution: a, groundTruth: { masks: [mask] } });
    expect(ebpg.value).toBe(0);
    // Peak at row 2, column 1: the nearest mask pixel (2, 3) is 2 px away.
    const near = new Array<number>(64).fill(0);
    near[2 * 8 + 1] = 5;
    const b = map(grid(near, 8));
    expect(pointingGame({ attribution: b, groundTruth: { masks: [mask] }, options: { tolerance: 2 } }).perImage).toEqual([0]); // 2² < 2² is false (TorchRay)
    expect(pointingGame({ attribution: b, groundTruth: { masks: [mask] }, options: { tolerance: 2.5 } }).perImage).toEqual([1]);
    // Auto tolerance at 8x8: 15 * 8 / 224 = 0.536 px, so only the peak itself counts.
    const auto = pointingGame({ attribution: b, groundTruth: { masks: [mask] } });
    expect(auto.options['tolerance']).toBeCloseTo((15 * 8) / 224, 12);
    expect(auto.perImage).toEqual([0]);
    tf.dispose([a, b]);
  });

  it('pointing accuracy is averaged over classes (TorchRay); empty masks are skipped', () => {
    const mask = blockMask();
    const hit = grid(mask, 8);
    const miss = grid(Array.from({ length: 64 }, (_, i) => (i === 63 ? 1 : 0)), 8);
    const a = tf.tensor3d([hit, miss, hit, hit]);
    const empty = new Array<number>(64).fill(0);
    const r = pointingGame({ attribution: a, groundTruth: { masks: [mask, mask, mask, empty] }, classes: [0, 0, 1, 1], options: { tolerance: 0 } });
    expect(r.perImage.slice(0, 3)).toEqual([1, 0, 1]);
    expect(r.perImage[3]).toBeNaN();
    expect(r.details?.['perClass']).toEqual({ '0': 0.5, '1': 1 });
    expect(r.value).toBeCloseTo(0.75, 12); // mean of per-class accuracies
    expect(r.details?.['overall']).toBeCloseTo(2 / 3, 12);
    a.dispose();
  });

  it('EBPG counts positive energy only, inside the box by default', () => {
    // 4x4 map; box [1, 1, 2, 2] (columns 1..2, rows 1..2).
    const a = map([
      [1, 0, 0, -5],
      [0, 2, 2, 0],
      [0, 2, 1, 0],
      [0, 0, 0, 2],
    ]);
    const r = energyPointingGame({ attribution: a, groundTruth: { boxes: [[1, 1, 2, 2]] } });
    expect(r.value).toBeCloseTo(7 / 10, 12);
    expect(r.options['region']).toBe('box');
    a.dispose();
  });

  it('Bbox: the share of the top-N pixels inside the box, N = its area', () => {
    // Box [0, 0, 1, 1] = 4 pixels. Top-4 values: 9 (in), 8 (out), 7 (in), 6 (in) -> 3/4.
    const a = map([
      [9, 7, 0, 0],
      [6, 1, 8, 0],
      [0, 0, 0, 0],
      [0, 0, 0, 5],
    ]);
    expect(bboxScore({ attribution: a, groundTruth: { boxes: [[0, 0, 1, 1]] } }).value).toBeCloseTo(0.75, 12);
    // With masks only, the region falls back to the mask.
    const m = [1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]; // 3 pixels: 9, 7, 6 are the top-3 minus 8
    const r = bboxScore({ attribution: a, groundTruth: { masks: [m] } });
    expect(r.options['region']).toBe('mask');
    expect(r.value).toBeCloseTo(2 / 3, 12); // top-3: 9 (in), 8 (out), 7 (in)
    a.dispose();
  });

  it('mIoU: top 20% of a 10x10 map against a 30-pixel mask', () => {
    // Mask: rows 0..2 (30 pixels). The map's top 20 pixels: 15 in rows 0..2, 5 in row 9.
    const values = new Array<number>(100).fill(0);
    for (let p = 0; p < 15; p++) values[p] = 100 - p;
    for (let p = 90; p < 95; p++) values[p] = 50;
    const mask = Array.from({ length: 100 }, (_, p) => (p < 30 ? 1 : 0));
    const a = map(grid(values, 10));
    const r = meanIoU({ attribution: a, groundTruth: { masks: [mask] } });
    expect(r.details?.['topPixels']).toBe(20);
    expect(r.value).toBeCloseTo(15 / (30 + 20 - 15), 12);
    // Top 30%: the 20 above, then 10 of the zero-valued pixels in row-major order (pixels 15..24, in the mask).
    expect(meanIoU({ attribution: a, groundTruth: { masks: [mask] }, options: { top: 0.3 } }).value).toBeCloseTo(25 / (30 + 30 - 25), 12);
    a.dispose();
  });

  it('channel maps are summed over channels', () => {
    const mask = blockMask();
    const vals = tf.tensor4d(mask.flatMap((v) => [v * 0.5, v * 0.5]), [1, 8, 8, 2]);
    expect(energyPointingGame({ attribution: vals, groundTruth: { masks: [mask] } }).value).toBe(1);
    vals.dispose();
  });

  it('a mask shape mismatch is a typed error that names the expected shape', () => {
    const a = tf.zeros([2, 8, 8]);
    const bad = tf.zeros([2, 7, 8]);
    let err: unknown;
    try {
      pointingGame({ attribution: a, groundTruth: { masks: bad } });
    } catch (e) {
      err = e;
    }
    expect(isCnnXaiError(err, 'BAD_INPUT_SHAPE')).toBe(true);
    expect((err as Error).message).toMatch(/\[2, 7, 8\].*expected \[2, 8, 8\]/);
    expect(() => pointingGame({ attribution: a, groundTruth: { masks: [blockMask()] } })).toThrow(/Got 1 masks for 2 images; expected \[2, 8, 8\]/);
    expect(() => pointingGame({ attribution: a, groundTruth: {} })).toThrow(/needs ground truth/);
    expect(() => bboxScore({ attribution: a, groundTruth: { boxes: [[0, 0, 8, 2], [0, 0, 1, 1]] } })).toThrow(/inside the 8x8 input/);
    expect(() => bboxScore({ attribution: a, groundTruth: { masks: [blockMask(), blockMask()] }, options: { region: 'box' } })).toThrow(/no boxes/);
    tf.dispose([a, bad]);
  });

  it('ground-truth helpers: box masks, union of boxes, tight box of a mask', () => {
    const [m] = boxMasksFrom([[[0, 0, 0, 0], [2, 1, 3, 1]]], 1, 2, 4);
    expect(Array.from(m as Uint8Array)).toEqual([1, 0, 0, 0, 0, 0, 1, 1]);
    expect(boxOfMask(blockMask(), 8, 8)).toEqual([3, 2, 5, 4]);
    expect(boxOfMask(new Array(4).fill(0), 2, 2)).toBeNull();
    const t = tf.tensor4d([0, 1, 0.6, 0.2], [1, 2, 2, 1]);
    expect(Array.from(masksFrom(t, 1, 2, 2)[0] as Uint8Array)).toEqual([0, 1, 1, 0]);
    t.dispose();
  });
});
