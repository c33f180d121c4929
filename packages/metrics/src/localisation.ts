import { CnnXaiError, opt, resolveOptions, type OptionsOf } from '@cnn-xai/core';
import { attributionTarget, attributionValues, meanOf, orderByDecreasing, saliencyRows, type AttributionLike } from './common.js';
import { REGIONS, regionMasks, type GroundTruth } from './ground-truth.js';
import type { MetricResult } from './types.js';

export interface LocalisationRequest {
  /** The map: [N, H, W] or [N, H, W, C] (channels summed), or explain()'s attribution. */
  attribution: AttributionLike;
  /** Masks and/or boxes at the map's resolution, one per image. */
  groundTruth: GroundTruth;
  /** Class of each image, for per-class pointing accuracy (default: the attribution's target). */
  classes?: readonly number[];
  options?: Record<string, unknown>;
}

/** The pointing game's tolerance at 224x224 (TorchRay, Zhang et al.), scaled to other sizes. */
export const POINTING_TOLERANCE_224 = 15;

const regionOption = (prefer: 'mask' | 'box') =>
  opt.choice({
    default: 'auto',
    choices: REGIONS,
    description: `Ground truth to score against: mask, box, or auto (${prefer} when given, else the other).`,
  });

export const pointingGameOptions = {
  tolerance: opt.number({
    default: -1,
    min: -1,
    description: `Radius in pixels around the maximum within which touching the object counts as a hit; -1 (auto) = ${POINTING_TOLERANCE_224} * min(H, W) / 224 (TorchRay: 15 px at 224x224).`,
  }),
  region: regionOption('mask'),
};
export const energyPointingGameOptions = { region: regionOption('box') };
export const bboxOptions = { region: regionOption('box') };
export const miouOptions = {
  top: opt.number({ default: 0.2, min: 0, max: 1, description: 'Fraction of pixels, the top ones by attribution, that form the binarised map (SISE / Integrated Grad-CAM: 20%).' }),
  region: regionOption('mask'),
};

function prepare(req: LocalisationRequest, what: string, region: (typeof REGIONS)[number], prefer: 'mask' | 'box') {
  const values = attributionValues(req.attribution);
  if (values.rank !== 3 && values.rank !== 4) {
    throw new CnnXaiError('BAD_INPUT_SHAPE', `The attribution given to the ${what} has shape [${values.shape.join(', ')}]; expected [N, H, W] or [N, H, W, C].`);
  }
  const [n, h, w] = values.shape as [number, number, number];
  const rows = saliencyRows(values, n, h, w);
  const { masks, region: used } = regionMasks(req.groundTruth, region, prefer, n, h, w, what);
  return { n, h, w, rows, masks, used };
}

const argmax = (row: ArrayLike<number>): number => {
  let best = 0;
  for (let i = 1; i < row.length; i++) if ((row[i] as number) > (row[best] as number)) best = i;
  return best;
};

/**
 * Pointing game (Zhang et al., Excitation Backprop; TorchRay's `PointingGame`): the map's maximum
 * (the first one in row-major order when several are equal) is a hit when a disk of radius
 * `tolerance` around it (distance² < tolerance², and always the point itself) touches the object.
 * Images with an empty mask are skipped (NaN). `value` is the accuracy averaged over the classes
 * present (TorchRay: hits / (hits + misses) per class, then the mean); `details.overall` is
 * hits / (hits + misses) over all images. Higher is better; per image 1 (hit) or 0 (miss).
 */
export function pointingGame(req: LocalisationRequest): MetricResult {
  const o = resolveOptions('pointing-game', pointingGameOptions, req.options ?? {});
  const { n, h, w, rows, masks, used } = prepare(req, 'pointing game', o.region, 'mask');
  const tol = o.tolerance >= 0 ? o.tolerance : (POINTING_TOLERANCE_224 * Math.min(h, w)) / 224;
  const perImage: number[] = [];
  const points: Array<[number, number]> = [];
  for (let i = 0; i < n; i++) {
    const m = masks[i] as Uint8Array;
    const p = argmax(rows[i] as Float32Array);
    const py = Math.floor(p / w);
    const px = p % w;
    points.push([px, py]);
    if (!m.some((v) => v > 0)) {
      perImage.push(Number.NaN);
      continue;
    }
    let hit = m[p] === 1;
    const r = Math.ceil(tol);
    for (let y = Math.max(0, py - r); !hit && y <= Math.min(h - 1, py + r); y++) {
      for (let x = Math.max(0, px - r); x <= Math.min(w - 1, px + r); x++) {
        if (m[y * w + x] === 1 && (y - py) ** 2 + (x - px) ** 2 < tol * tol) {
          hit = true;
          break;
        }
      }
    }
    perImage.push(hit ? 1 : 0);
  }
  const classes = req.classes ?? attributionTarget(req.attribution);
  const perClass: Record<string, number> = {};
  if (classes) {
    const acc = new Map<number, [number, number]>();
    perImage.forEach((v, i) => {
      if (!Number.isFinite(v)) return;
      const c = classes[i] as number;
      const [hits, total] = acc.get(c) ?? [0, 0];
      acc.set(c, [hits + v, total + 1]);
    });
    for (const [c, [hits, total]] of [...acc].sort((a, b) => a[0] - b[0])) perClass[String(c)] = hits / total;
  }
  const overall = meanOf(perImage);
  const classMean = Object.keys(perClass).length ? meanOf(Object.values(perClass)) : overall;
  return {
    metric: 'pointing-game',
    value: classMean,
    perImage,
    details: { overall, perClass, points, region: used },
    options: { ...o, tolerance: tol, region: used },
  };
}

/**
 * Energy-based pointing game (Score-CAM; SISE writes it ‖S ⊙ G‖₁ / ‖S‖₁): the share of the map's
 * positive energy, Σ max(S, 0), that falls inside the region (by default the box, as Score-CAM).
 * A map with no positive value scores 0. In [0, 1]; higher is better.
 */
export function energyPointingGame(req: LocalisationRequest): MetricResult {
  const o = resolveOptions('energy-pointing-game', energyPointingGameOptions, req.options ?? {});
  const { n, rows, masks, used } = prepare(req, 'energy-based pointing game', o.region, 'box');
  const perImage: number[] = [];
  for (let i = 0; i < n; i++) {
    const row = rows[i] as Float32Array;
    const m = masks[i] as Uint8Array;
    let inside = 0;
    let total = 0;
    for (let p = 0; p < row.length; p++) {
      const v = Math.max(0, row[p] as number);
      total += v;
      if (m[p] === 1) inside += v;
    }
    perImage.push(total > 0 ? inside / total : 0);
  }
  return { metric: 'energy-pointing-game', value: meanOf(perImage), perImage, details: { region: used }, options: { ...o, region: used } };
}

/**
 * Bbox metric (Schulz et al., IBA; as SISE reports it): with N the number of pixels of the region
 * (by default the box), the share of the map's top-N pixels that lie inside it. Ties keep
 * row-major order. Images with an empty region are NaN. In [0, 1]; higher is better.
 */
export function bboxScore(req: LocalisationRequest): MetricResult {
  const o = resolveOptions('bbox', bboxOptions, req.options ?? {});
  const { n, rows, masks, used } = prepare(req, 'Bbox metric', o.region, 'box');
  const perImage: number[] = [];
  for (let i = 0; i < n; i++) {
    const m = masks[i] as Uint8Array;
    const area = m.reduce((a, v) => a + v, 0);
    if (area === 0) {
      perImage.push(Number.NaN);
      continue;
    }
    const order = orderByDecreasing(rows[i] as Float32Array);
    let inside = 0;
    for (let k = 0; k < area; k++) inside += m[order[k] as number] as number;
    perImage.push(inside / area);
  }
  return { metric: 'bbox', value: meanOf(perImage), perImage, details: { region: used }, options: { ...o, region: used } };
}

/**
 * mIoU (SISE / Integrated Grad-CAM): the map binarised to its top `top` (20%) pixels,
 * round(top * H * W) of them (ties keep row-major order), and the intersection over union with
 * the region (by default the mask), averaged over images. In [0, 1]; higher is better.
 */
export function meanIoU(req: LocalisationRequest): MetricResult {
  const o = resolveOptions('miou', miouOptions, req.options ?? {}) as OptionsOf<typeof miouOptions>;
  const { n, h, w, rows, masks, used } = prepare(req, 'mIoU', o.region, 'mask');
  const k = Math.round(o.top * h * w);
  const perImage: number[] = [];
  for (let i = 0; i < n; i++) {
    const m = masks[i] as Uint8Array;
    const area = m.reduce((a, v) => a + v, 0);
    const order = orderByDecreasing(rows[i] as Float32Array);
    let inter = 0;
    for (let j = 0; j < k; j++) inter += m[order[j] as number] as number;
    const union = area + k - inter;
    perImage.push(union > 0 ? inter / union : Number.NaN);
  }
  return { metric: 'miou', value: meanOf(perImage), perImage, details: { region: used, topPixels: k }, options: { ...o, region: used } };
}
