/**
 * Heatmaps, overlays, colour bars and comparison grids, as RGBA bytes.
 */

import { colormap, colormapLut } from './colormaps.js';
import type { ColormapName } from './colormaps.js';
import { normalizeForDisplay } from './normalize.js';
import type { DisplayMode, DisplayOptions } from './normalize.js';
import { resizeBilinear } from './resize.js';

/** An 8-bit image: data is 0..255, row-major, channels interleaved (grey, RGB or RGBA). */
export interface Image {
  data: ArrayLike<number>;
  width: number;
  height: number;
  channels: 1 | 3 | 4;
}

/** An RGBA image, 4 bytes per pixel, row-major. */
export interface RgbaImage {
  data: Uint8ClampedArray;
  width: number;
  height: number;
}

export interface HeatmapOptions extends DisplayOptions {
  /** Default: `coolwarm` for the signed mode, `inferno` otherwise. */
  colormap?: ColormapName;
}

export interface OverlayOptions extends HeatmapOptions {
  /** Opacity of the heatmap where the attribution is at full intensity, in [0, 1]; default 0.5. */
  alpha?: number;
  /** Integer factor by which the output is enlarged (nearest neighbour); default 1. */
  scale?: number;
}

export interface TileOptions {
  /** Images per row; default: all in one row. */
  columns?: number;
  /** Pixels between neighbouring cells; default 4. */
  gap?: number;
  /** RGB of the gaps and of cell space not covered by a smaller image; default white. */
  background?: [number, number, number];
}

function defaultColormap(mode: DisplayMode): ColormapName {
  return mode === 'signed' ? 'coolwarm' : 'inferno';
}

function checkDims(fn: string, width: number, height: number): void {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new RangeError(`${fn}: width and height must be positive integers, got ${width}x${height}`);
  }
}

/**
 * Heat colours come from a lookup table of LUT_STEPS + 1 entries. An even number of steps puts an entry
 * exactly at t = 0.5, so a signed zero gets the diverging map's neutral colour (with 256 entries it would
 * land on 128/255); 1024 steps keep the quantisation well under one 8-bit level.
 */
const LUT_STEPS = 1024;

function heatLut(name: ColormapName): Uint8ClampedArray {
  return colormapLut(name, LUT_STEPS + 1);
}

/** Display value -> offset (entry * 3) into heatLut. Signed display values in [-1, 1] use t = (v + 1) / 2. */
function lutIndex(display: number, signed: boolean): number {
  const t = signed ? (display + 1) / 2 : display;
  return Math.round(t * LUT_STEPS) * 3;
}

/**
 * Renders a map (width * height values, row-major) as an opaque RGBA heatmap. Values go through
 * normalizeForDisplay; display values in [0, 1] are the colormap position t, and signed display values in
 * [-1, 1] map to t = (v + 1) / 2, so zero sits at the colormap's middle.
 */
export function renderHeatmap(
  map: ArrayLike<number>,
  width: number,
  height: number,
  opts: HeatmapOptions = {},
): Uint8ClampedArray {
  checkDims('renderHeatmap', width, height);
  if (map.length !== width * height) {
    throw new RangeError(`renderHeatmap: map has ${map.length} values, expected ${width}x${height} = ${width * height}`);
  }
  const mode = opts.mode ?? 'absolute';
  const display = normalizeForDisplay(map, opts);
  const lut = heatLut(opts.colormap ?? defaultColormap(mode));
  const signed = mode === 'signed';
  const out = new Uint8ClampedArray(width * height * 4);
  for (let p = 0; p < display.length; p++) {
    const li = lutIndex(display[p] as number, signed);
    const o = p * 4;
    out[o] = lut[li] as number;
    out[o + 1] = lut[li + 1] as number;
    out[o + 2] = lut[li + 2] as number;
    out[o + 3] = 255;
  }
  return out;
}

/**
 * Blends a heatmap of `map` over `image` and returns RGBA at (width * scale, height * scale).
 *
 * - A grey image becomes RGB; an RGBA image keeps its alpha channel, other images are opaque.
 * - The map is normalised at its own resolution (so the clipping percentile describes the map, not how
 *   much it was enlarged); if its size differs from the image's, the display values are then resized
 *   bilinearly with half-pixel centres to the image size.
 * - Blending weight: out = (1 - alpha * w) * image + alpha * w * heat, where w = |display value| in [0, 1].
 *   We weight by intensity rather than using a constant alpha so that pixels with no attribution leave the
 *   image untouched (a constant alpha would tint the whole image with the colormap's zero colour, hiding
 *   the content the explanation is about), while the strongest attributions, positive or negative, show
 *   the heat colour at the full `alpha`.
 * - The result is enlarged by the integer `scale` with nearest-neighbour sampling (crisp pixels).
 */
export function overlay(
  image: Image,
  map: ArrayLike<number>,
  mapWidth: number,
  mapHeight: number,
  opts: OverlayOptions = {},
): RgbaImage {
  const { width, height, channels } = image;
  checkDims('overlay (image)', width, height);
  checkDims('overlay (map)', mapWidth, mapHeight);
  if (channels !== 1 && channels !== 3 && channels !== 4) {
    throw new RangeError(`overlay: image channels must be 1, 3 or 4, got ${String(channels)}`);
  }
  if (image.data.length !== width * height * channels) {
    throw new RangeError(
      `overlay: image data has ${image.data.length} values, expected ${width}x${height}x${channels} = ${width * height * channels}`,
    );
  }
  if (map.length !== mapWidth * mapHeight) {
    throw new RangeError(`overlay: map has ${map.length} values, expected ${mapWidth}x${mapHeight} = ${mapWidth * mapHeight}`);
  }
  const alpha = opts.alpha ?? 0.5;
  if (!(alpha >= 0 && alpha <= 1)) {
    throw new RangeError(`overlay: alpha must be in [0, 1], got ${alpha}`);
  }
  const scale = opts.scale ?? 1;
  if (!Number.isInteger(scale) || scale < 1) {
    throw new RangeError(`overlay: scale must be a positive integer, got ${scale}`);
  }

  const mode = opts.mode ?? 'absolute';
  const signed = mode === 'signed';
  let display = normalizeForDisplay(map, opts);
  if (mapWidth !== width || mapHeight !== height) {
    display = resizeBilinear(display, mapWidth, mapHeight, width, height);
  }
  const lut = heatLut(opts.colormap ?? defaultColormap(mode));

  const outWidth = width * scale;
  const outHeight = height * scale;
  const out = new Uint8ClampedArray(outWidth * outHeight * 4);
  const src = image.data;
  const row = new Uint8ClampedArray(width * 4); // one blended row at image resolution
  const outRowBytes = outWidth * 4;

  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const p = y * width + x;
      const d = display[p] as number;
      const a = alpha * Math.abs(d);
      const li = lutIndex(d, signed);
      let r: number;
      let g: number;
      let b: number;
      let opacity = 255;
      if (channels === 1) {
        r = g = b = src[p] as number;
      } else {
        const s = p * channels;
        r = src[s] as number;
        g = src[s + 1] as number;
        b = src[s + 2] as number;
        if (channels === 4) opacity = src[s + 3] as number;
      }
      const o = x * 4;
      if (a === 0) {
        row[o] = r;
        row[o + 1] = g;
        row[o + 2] = b;
      } else {
        row[o] = (1 - a) * r + a * (lut[li] as number);
        row[o + 1] = (1 - a) * g + a * (lut[li + 1] as number);
        row[o + 2] = (1 - a) * b + a * (lut[li + 2] as number);
      }
      row[o + 3] = opacity;
    }
    // Nearest-neighbour enlargement: widen the row, then repeat it `scale` times.
    const first = y * scale * outRowBytes;
    if (scale === 1) {
      out.set(row, first);
      continue;
    }
    for (let x = 0; x < width; x++) {
      const o = x * 4;
      for (let k = 0; k < scale; k++) {
        const q = first + (x * scale + k) * 4;
        out[q] = row[o] as number;
        out[q + 1] = row[o + 1] as number;
        out[q + 2] = row[o + 2] as number;
        out[q + 3] = row[o + 3] as number;
      }
    }
    const wide = out.subarray(first, first + outRowBytes);
    for (let k = 1; k < scale; k++) out.set(wide, first + k * outRowBytes);
  }
  return { data: out, width: outWidth, height: outHeight };
}

/** A horizontal colour bar (RGBA, opaque): the colormap from t = 0 at the left to t = 1 at the right. */
export function colorbar(name: ColormapName, width: number, height: number): Uint8ClampedArray {
  checkDims('colorbar', width, height);
  const f = colormap(name);
  const out = new Uint8ClampedArray(width * height * 4);
  for (let x = 0; x < width; x++) {
    const [r, g, b] = f(width === 1 ? 0 : x / (width - 1));
    out[x * 4] = r;
    out[x * 4 + 1] = g;
    out[x * 4 + 2] = b;
    out[x * 4 + 3] = 255;
  }
  const rowBytes = width * 4;
  const first = out.subarray(0, rowBytes);
  for (let y = 1; y < height; y++) out.set(first, y * rowBytes);
  return out;
}

/**
 * Lays RGBA images out in a grid (row by row, `columns` per row), with `gap` pixels between cells.
 * Each column is as wide as its widest image and each row as tall as its tallest; smaller images are
 * centred in their cell. Returns an opaque-background RGBA image.
 */
export function tile(images: RgbaImage[], opts: TileOptions = {}): RgbaImage {
  if (images.length === 0) throw new RangeError('tile: no images');
  const columns = Math.min(opts.columns ?? images.length, images.length);
  if (!Number.isInteger(columns) || columns < 1) {
    throw new RangeError(`tile: columns must be a positive integer, got ${String(opts.columns)}`);
  }
  const gap = opts.gap ?? 4;
  if (!Number.isInteger(gap) || gap < 0) throw new RangeError(`tile: gap must be a non-negative integer, got ${gap}`);
  const [br, bg, bb] = opts.background ?? [255, 255, 255];

  const rows = Math.ceil(images.length / columns);
  const colWidth = new Array<number>(columns).fill(0);
  const rowHeight = new Array<number>(rows).fill(0);
  images.forEach((img, i) => {
    checkDims(`tile (image ${i})`, img.width, img.height);
    if (img.data.length !== img.width * img.height * 4) {
      throw new RangeError(`tile: image ${i} has ${img.data.length} bytes, expected RGBA ${img.width}x${img.height}x4`);
    }
    const c = i % columns;
    const r = Math.floor(i / columns);
    colWidth[c] = Math.max(colWidth[c] as number, img.width);
    rowHeight[r] = Math.max(rowHeight[r] as number, img.height);
  });
  const colX: number[] = [];
  let width = 0;
  for (let c = 0; c < columns; c++) {
    colX.push(width);
    width += (colWidth[c] as number) + (c < columns - 1 ? gap : 0);
  }
  const rowY: number[] = [];
  let height = 0;
  for (let r = 0; r < rows; r++) {
    rowY.push(height);
    height += (rowHeight[r] as number) + (r < rows - 1 ? gap : 0);
  }

  const out = new Uint8ClampedArray(width * height * 4);
  for (let p = 0; p < width * height; p++) {
    out[p * 4] = br;
    out[p * 4 + 1] = bg;
    out[p * 4 + 2] = bb;
    out[p * 4 + 3] = 255;
  }
  images.forEach((img, i) => {
    const c = i % columns;
    const r = Math.floor(i / columns);
    const left = (colX[c] as number) + Math.floor(((colWidth[c] as number) - img.width) / 2);
    const top = (rowY[r] as number) + Math.floor(((rowHeight[r] as number) - img.height) / 2);
    const rowBytes = img.width * 4;
    for (let y = 0; y < img.height; y++) {
      out.set(img.data.subarray(y * rowBytes, (y + 1) * rowBytes), ((top + y) * width + left) * 4);
    }
  });
  return { data: out, width, height };
}
