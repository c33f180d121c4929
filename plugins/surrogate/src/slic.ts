/**
 * SLIC superpixels (Achanta et al., "SLIC Superpixels Compared to State-of-the-Art Superpixel
 * Methods", TPAMI 2012), in plain TypeScript on one image:
 *
 * 1. colours to CIELAB (sRGB with D65 for 3 channels; lightness only for 1 channel; each
 *    channel scaled to 0..100 otherwise), after scaling the image to [0, 1] by its own min and
 *    max so the input range of the model does not matter;
 * 2. seeds on a regular grid of about `segments` cells (side S), each moved to the lowest
 *    gradient position in its 3x3 neighbourhood;
 * 3. k-means restricted to a 2S x 2S window around each centre, with the distance
 *    `sqrt(d_lab^2 + (d_xy / S)^2 * compactness^2)`, for `iterations` rounds;
 * 4. connectivity enforced: every 4-connected piece of a cluster becomes its own segment, and
 *    pieces smaller than `minSizeFactor * S^2` are merged into the adjacent segment of the
 *    closest mean colour (the reference code takes the first neighbour met; colour keeps thin
 *    pieces cut off by a search window on their own side of an edge).
 *
 * Labels are 0..M-1 in raster order of first appearance; the result is deterministic.
 */
export interface SlicOptions {
  /** About how many segments to make (the grid of seeds has about this many cells). */
  segments: number;
  /** Weight of spatial proximity against colour (SLIC's m; 10 is the paper's and skimage's default). */
  compactness: number;
  /** k-means rounds (default 10, as in the paper). */
  iterations?: number;
  /** Pieces smaller than this fraction of the expected segment size are merged (default 0.25). */
  minSizeFactor?: number;
}

export interface SlicResult {
  /** One label per pixel, row-major `[H, W]`, in 0..count-1. */
  labels: Int32Array;
  count: number;
}

function srgbToLinear(v: number): number {
  return v <= 0.04045 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
}

function labF(t: number): number {
  return t > 216 / 24389 ? Math.cbrt(t) : (24389 / 27 * t + 16) / 116;
}

/**
 * The image in SLIC's colour space: `[H * W * D]` with D = 3 (Lab) for 3 channels, 1 (L) for
 * grayscale, C otherwise. Values are first scaled to [0, 1] by the image's min and max.
 */
export function toLab(pixels: ArrayLike<number>, h: number, w: number, c: number): { data: Float64Array; depth: number } {
  const n = h * w;
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < n * c; i++) {
    const v = pixels[i] as number;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  const span = hi > lo ? hi - lo : 1;
  const unit = (v: number): number => (hi > lo ? (v - lo) / span : 0);
  if (c === 3) {
    const out = new Float64Array(n * 3);
    for (let i = 0; i < n; i++) {
      const r = srgbToLinear(unit(pixels[i * 3] as number));
      const g = srgbToLinear(unit(pixels[i * 3 + 1] as number));
      const b = srgbToLinear(unit(pixels[i * 3 + 2] as number));
      // sRGB (D65) to XYZ, normalised by the D65 white point.
      const x = (0.4124564 * r + 0.3575761 * g + 0.1804375 * b) / 0.95047;
      const y = 0.2126729 * r + 0.7151522 * g + 0.072175 * b;
      const z = (0.0193339 * r + 0.119192 * g + 0.9503041 * b) / 1.08883;
      const fx = labF(x);
      const fy = labF(y);
      const fz = labF(z);
      out[i * 3] = 116 * fy - 16;
      out[i * 3 + 1] = 500 * (fx - fy);
      out[i * 3 + 2] = 200 * (fy - fz);
    }
    return { data: out, depth: 3 };
  }
  if (c === 1) {
    const out = new Float64Array(n);
    for (let i = 0; i < n; i++) out[i] = 116 * labF(srgbToLinear(unit(pixels[i] as number))) - 16;
    return { data: out, depth: 1 };
  }
  const out = new Float64Array(n * c);
  for (let i = 0; i < n * c; i++) out[i] = 100 * unit(pixels[i] as number);
  return { data: out, depth: c };
}

/** Rows and columns of the seed grid for about `k` cells on an h x w image. */
export function seedGrid(h: number, w: number, k: number): { rows: number; cols: number } {
  const cols = Math.min(w, Math.max(1, Math.round(Math.sqrt((k * w) / h))));
  const rows = Math.min(h, Math.max(1, Math.round(k / cols)));
  return { rows, cols };
}

/** SLIC superpixels of one image `[H, W, C]` (row-major, channels last). */
export function slic(pixels: ArrayLike<number>, h: number, w: number, c: number, options: SlicOptions): SlicResult {
  const n = h * w;
  const { data: lab, depth } = toLab(pixels, h, w, c);
  const { rows, cols } = seedGrid(h, w, Math.max(1, Math.round(options.segments)));
  const k = rows * cols;
  const step = Math.sqrt(n / k);
  const m = options.compactness;
  const iterations = options.iterations ?? 10;
  const spatial = (m * m) / (step * step);

  // Seeds: grid cell centres, moved to the lowest gradient in their 3x3 neighbourhood.
  const at = (y: number, x: number, d: number): number =>
    lab[(Math.min(h - 1, Math.max(0, y)) * w + Math.min(w - 1, Math.max(0, x))) * depth + d] as number;
  const gradient = (y: number, x: number): number => {
    let g = 0;
    for (let d = 0; d < depth; d++) {
      const gx = at(y, x + 1, d) - at(y, x - 1, d);
      const gy = at(y + 1, x, d) - at(y - 1, x, d);
      g += gx * gx + gy * gy;
    }
    return g;
  };
  const cy = new Float64Array(k);
  const cx = new Float64Array(k);
  const cc = new Float64Array(k * depth);
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < cols; j++) {
      const s = i * cols + j;
      let by = Math.min(h - 1, Math.floor(((i + 0.5) * h) / rows));
      let bx = Math.min(w - 1, Math.floor(((j + 0.5) * w) / cols));
      let best = gradient(by, bx);
      const y0 = by;
      const x0 = bx;
      for (let dy = -1; dy <= 1; dy++) {
        for (let dx = -1; dx <= 1; dx++) {
          const y = y0 + dy;
          const x = x0 + dx;
          if (y < 0 || y >= h || x < 0 || x >= w) continue;
          const g = gradient(y, x);
          if (g < best) {
            best = g;
            by = y;
            bx = x;
          }
        }
      }
      cy[s] = by;
      cx[s] = bx;
      for (let d = 0; d < depth; d++) cc[s * depth + d] = lab[(by * w + bx) * depth + d] as number;
    }
  }

  // Local k-means.
  const label = new Int32Array(n).fill(-1);
  const dist = new Float64Array(n);
  const sums = new Float64Array(k * (depth + 3));
  const win = Math.ceil(step);
  for (let it = 0; it < iterations; it++) {
    dist.fill(Infinity);
    for (let s = 0; s < k; s++) {
      const sy = cy[s] as number;
      const sx = cx[s] as number;
      const ylo = Math.max(0, Math.floor(sy) - win);
      const yhi = Math.min(h - 1, Math.ceil(sy) + win);
      const xlo = Math.max(0, Math.floor(sx) - win);
      const xhi = Math.min(w - 1, Math.ceil(sx) + win);
      for (let y = ylo; y <= yhi; y++) {
        for (let x = xlo; x <= xhi; x++) {
          const p = y * w + x;
          let dc = 0;
          for (let d = 0; d < depth; d++) {
            const v = (lab[p * depth + d] as number) - (cc[s * depth + d] as number);
            dc += v * v;
          }
          const ds = (y - sy) * (y - sy) + (x - sx) * (x - sx);
          const dd = dc + ds * spatial;
          if (dd < (dist[p] as number)) {
            dist[p] = dd;
            label[p] = s;
          }
        }
      }
    }
    sums.fill(0);
    const stride = depth + 3;
    for (let p = 0; p < n; p++) {
      const s = label[p] as number;
      if (s < 0) continue;
      const o = s * stride;
      sums[o] = (sums[o] as number) + 1;
      sums[o + 1] = (sums[o + 1] as number) + Math.floor(p / w);
      sums[o + 2] = (sums[o + 2] as number) + (p % w);
      for (let d = 0; d < depth; d++) sums[o + 3 + d] = (sums[o + 3 + d] as number) + (lab[p * depth + d] as number);
    }
    for (let s = 0; s < k; s++) {
      const o = s * stride;
      const count = sums[o] as number;
      if (count === 0) continue;
      cy[s] = (sums[o + 1] as number) / count;
      cx[s] = (sums[o + 2] as number) / count;
      for (let d = 0; d < depth; d++) cc[s * depth + d] = (sums[o + 3 + d] as number) / count;
    }
  }

  return enforceConnectivity(label, h, w, Math.max(1, Math.floor((options.minSizeFactor ?? 0.25) * (n / k))), { data: lab, depth });
}

/**
 * Relabels `labels` so every segment is 4-connected: each connected piece of an old label becomes
 * its own segment, and a piece smaller than `minSize` is merged into the adjacent segment whose
 * mean colour (in `colours`, `[H * W * depth]`) is closest, or, without colours, the largest
 * adjacent one. Small pieces are merged smallest first; a merged piece touches the segment it
 * joins, so segments stay connected. Returns labels 0..count-1 in raster order.
 */
export function enforceConnectivity(
  labels: Int32Array,
  h: number,
  w: number,
  minSize: number,
  colours?: { data: ArrayLike<number>; depth: number },
): SlicResult {
  const n = h * w;
  const depth = colours?.depth ?? 0;
  // 1. Connected pieces of equal old labels.
  const piece = new Int32Array(n).fill(-1);
  const sizes: number[] = [];
  const sums: number[][] = [];
  const stack: number[] = [];
  for (let start = 0; start < n; start++) {
    if ((piece[start] as number) >= 0) continue;
    const id = sizes.length;
    const old = labels[start] as number;
    const sum = new Array<number>(depth).fill(0);
    let size = 0;
    piece[start] = id;
    stack.push(start);
    while (stack.length) {
      const p = stack.pop() as number;
      size++;
      for (let d = 0; d < depth; d++) sum[d] = (sum[d] as number) + ((colours as { data: ArrayLike<number> }).data[p * depth + d] as number);
      const py = Math.floor(p / w);
      const px = p % w;
      for (const [dy, dx] of NEIGHBOURS) {
        const y = py + dy;
        const x = px + dx;
        if (y < 0 || y >= h || x < 0 || x >= w) continue;
        const q = y * w + x;
        if ((piece[q] as number) < 0 && labels[q] === old) {
          piece[q] = id;
          stack.push(q);
        }
      }
    }
    sizes.push(size);
    sums.push(sum);
  }
  // 2. Merge small pieces (union-find), smallest first.
  const parent = Int32Array.from({ length: sizes.length }, (_, i) => i);
  const root = (i: number): number => {
    while (parent[i] !== i) {
      parent[i] = parent[parent[i] as number] as number;
      i = parent[i] as number;
    }
    return i;
  };
  const members: number[][] = sizes.map(() => []);
  for (let p = 0; p < n; p++) (members[piece[p] as number] as number[]).push(p);
  const order = sizes.map((_, i) => i).filter((i) => (sizes[i] as number) < minSize);
  order.sort((a, b) => (sizes[a] as number) - (sizes[b] as number) || a - b);
  for (const i of order) {
    const r = root(i);
    if ((sizes[r] as number) >= minSize) continue;
    const near = new Set<number>();
    for (const p of members[r] as number[]) {
      const py = Math.floor(p / w);
      const px = p % w;
      for (const [dy, dx] of NEIGHBOURS) {
        const y = py + dy;
        const x = px + dx;
        if (y < 0 || y >= h || x < 0 || x >= w) continue;
        const q = root(piece[y * w + x] as number);
        if (q !== r) near.add(q);
      }
    }
    if (near.size === 0) continue;
    const mean = (j: number, d: number): number => (sums[j]?.[d] as number) / (sizes[j] as number);
    let best = -1;
    let bestCost = Infinity;
    for (const q of [...near].sort((a, b) => a - b)) {
      let cost = 0;
      for (let d = 0; d < depth; d++) cost += (mean(r, d) - mean(q, d)) ** 2;
      // Without colours (or on a tie) the larger neighbour wins.
      if (cost < bestCost || (cost === bestCost && (sizes[q] as number) > (sizes[best] as number))) {
        best = q;
        bestCost = cost;
      }
    }
    parent[r] = best;
    sizes[best] = (sizes[best] as number) + (sizes[r] as number);
    for (let d = 0; d < depth; d++) (sums[best] as number[])[d] = ((sums[best] as number[])[d] as number) + ((sums[r] as number[])[d] as number);
    (members[best] as number[]).push(...(members[r] as number[]));
    members[r] = [];
  }
  // 3. Final labels in raster order.
  const out = new Int32Array(n);
  const finalId = new Map<number, number>();
  for (let p = 0; p < n; p++) {
    const r = root(piece[p] as number);
    let id = finalId.get(r);
    if (id === undefined) {
      id = finalId.size;
      finalId.set(r, id);
    }
    out[p] = id;
  }
  return { labels: out, count: finalId.size };
}

const NEIGHBOURS: ReadonlyArray<readonly [number, number]> = [
  [0, -1],
  [-1, 0],
  [0, 1],
  [1, 0],
];
