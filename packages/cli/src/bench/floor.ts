import type { CallLog, PassCounts, PassKind } from '../counting.js';

/**
 * The raw costs of the model on the bench's backend, in ms per image, measured at one batch
 * size in the same run as the explainers.
 */
export interface RawCosts {
  /** One forward pass (`tap.predict`). */
  forward: number;
  /** Forward + backward to the input (`tap.gradient`, the target logit). */
  forwardBackward: number;
  /** Forward + backward to the last spatial layer (Grad-CAM's gradient). */
  forwardBackwardToLayer: number;
  /** The head from the last spatial layer to the output (`tap.head(layer).run`). */
  head: number;
}

/** Passes per image: counts divided by the number of images explained. */
export function perImage(counts: PassCounts, images: number): PassCounts {
  if (!(images > 0)) throw new RangeError(`images must be positive, got ${images}`);
  return {
    forward: counts.forward / images,
    backward: counts.backward / images,
    layerBackward: counts.layerBackward / images,
    head: counts.head / images,
  };
}

/**
 * The raw cost floor of a method, in ms per image: what its passes cost when each is as cheap as
 * the model's own pass on the same backend.
 *
 *   floor = forward x (forward passes - backward passes)              forward-only passes
 *         + forward+backward x (backward passes - layer backward passes)  gradients at the input
 *         + forward+backward-to-layer x layer backward passes          gradients at a layer
 *         + head x head passes                                          runs from a layer
 *
 * (`forward` counts the forward part of each gradient, so the forward-only passes are the
 * difference.) Work between the passes (upsampling, regressions, mask generation) is not in the
 * floor; the ratio to it shows that overhead.
 */
export function costFloor(passes: PassCounts, raw: RawCosts): number {
  const forwardOnly = Math.max(0, passes.forward - passes.backward);
  const inputBackward = Math.max(0, passes.backward - passes.layerBackward);
  return (
    raw.forward * forwardOnly +
    raw.forwardBackward * inputBackward +
    raw.forwardBackwardToLayer * passes.layerBackward +
    raw.head * passes.head
  );
}

/** The batch sizes at which raw costs are measured: powers of two up to this, and the bench's batch sizes. */
export const MAX_GRID_BATCH = 256;

/**
 * The measured batch sizes that bracket `rows` (one when it is a grid point, or past the end of
 * the grid, where the per-image cost is taken as flat).
 */
export function gridPoints(rows: number, extra: readonly number[] = []): number[] {
  if (rows >= MAX_GRID_BATCH) return [MAX_GRID_BATCH];
  if (rows <= 1) return [1];
  if (extra.includes(rows) || Number.isInteger(Math.log2(rows))) return [rows];
  const lo = Math.max(2 ** Math.floor(Math.log2(rows)), ...extra.filter((e) => e < rows));
  const hi = Math.min(2 ** Math.ceil(Math.log2(rows)), ...extra.filter((e) => e > rows));
  return [lo, hi];
}

/**
 * The per-image cost at `rows` from the costs measured at the grid points: linear in log(batch)
 * between the two points that bracket it.
 */
export function interpolateCost(rows: number, measured: ReadonlyMap<number, number>, extra: readonly number[] = []): number {
  const pts = gridPoints(rows, extra);
  const c0 = measured.get(pts[0] as number);
  if (c0 === undefined) throw new RangeError(`no raw cost measured at batch ${pts[0]}`);
  if (pts.length === 1) return c0;
  const [lo, hi] = pts as [number, number];
  const c1 = measured.get(hi);
  if (c1 === undefined) throw new RangeError(`no raw cost measured at batch ${hi}`);
  const f = (Math.log(rows) - Math.log(lo)) / (Math.log(hi) - Math.log(lo));
  return c0 + f * (c1 - c0);
}

/**
 * The raw cost floor from the logged calls, in ms per image explained: each call of `rows`
 * images costs `rows x cost(kind, rows)` (the raw per-image cost at that batch size), so a
 * method that runs its perturbed images 64 at a time is priced at the batch-64 cost, and a
 * single gradient at the batch-1 cost. With every call at one batch size this is `costFloor`.
 */
export function floorOfCalls(calls: CallLog, images: number, cost: (kind: PassKind, rows: number) => number): number {
  let total = 0;
  for (const kind of Object.keys(calls) as PassKind[]) {
    for (const [rows, n] of calls[kind]) total += n * rows * cost(kind, rows);
  }
  return total / images;
}

/** `ms / floor`, or null when the floor is 0 (a method that does not run the model). */
export function floorRatio(ms: number, floor: number): number | null {
  return floor > 0 ? ms / floor : null;
}

/**
 * How many timed runs a measurement gets after its (counted) warm-up run, from how long the
 * warm-up took: `repeat` for fast methods, fewer for slow ones so that the runs take about
 * `budgetMs`, and 0 when the warm-up alone took the budget (it is then the measurement).
 */
export function plannedRuns(warmupMs: number, repeat: number, budgetMs: number): number {
  if (!(warmupMs > 0) || !Number.isFinite(budgetMs)) return repeat;
  if (warmupMs >= budgetMs) return 0;
  return Math.max(1, Math.min(repeat, Math.floor(budgetMs / warmupMs)));
}

/** Whether a batch is skipped: its estimated run time (ms per image at the smallest batch x b) exceeds the cap. */
export function skipBatch(msPerImageSmallest: number | undefined, batch: number, capMs: number): boolean {
  return capMs > 0 && msPerImageSmallest !== undefined && msPerImageSmallest * batch > capMs;
}

export const median = (xs: readonly number[]): number => {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};
