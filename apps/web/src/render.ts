/**
 * Attribution maps onto canvases: the overlay on the input image and the colormap legend, through
 * @cnn-xai/viz (renderHeatmap/overlay/colorbar produce RGBA bytes, toImageData hands them to canvas).
 */
import type { Attribution } from '@cnn-xai/core';
import { colorbar, overlay, percentile, toImageData, type ColormapName, type DisplayMode } from '@cnn-xai/viz';
import * as tf from '@tensorflow/tfjs-core';
import type { Pixels } from './image.js';

export interface MapData {
  values: Float32Array;
  width: number;
  height: number;
  /** Channels of the explainer's output (an image for feature visualisation). */
  channels: number;
  signed: boolean;
  /** An image the method produced (feature visualisation), drawn as it is rather than over the input. */
  image: boolean;
}

/** The first image's map: channels summed (an attribution of [1, H, W, C] becomes H x W). */
export async function readMap(attr: Attribution, keepChannels = false): Promise<MapData> {
  const v = attr.values;
  const [h, w] = [v.shape[1] as number, v.shape[2] as number];
  const c = v.rank === 4 ? (v.shape[3] as number) : 1;
  const first = tf.tidy(() => {
    const one = tf.slice(v, 0, 1);
    return keepChannels || v.rank === 3 ? one : tf.sum(one, -1);
  });
  const values = (await first.data()) as Float32Array;
  first.dispose();
  return { values, width: w, height: h, channels: keepChannels ? c : 1, signed: attr.signed, image: keepChannels };
}

export interface DrawOptions {
  mode: DisplayMode;
  colormap: ColormapName;
  /** Heat opacity in [0, 1]. */
  alpha: number;
}

/** The display the demo picks unless the reader changes it: signed maps diverging, others positive. */
export function defaultDisplay(signed: boolean): DrawOptions {
  return signed ? { mode: 'signed', colormap: 'coolwarm', alpha: 0.75 } : { mode: 'positive', colormap: 'inferno', alpha: 0.7 };
}

function put(canvas: HTMLCanvasElement, rgba: Uint8ClampedArray, width: number, height: number): void {
  canvas.width = width;
  canvas.height = height;
  const ctx = canvas.getContext('2d');
  if (!ctx) throw new Error('no 2D canvas');
  ctx.putImageData(toImageData(rgba, width, height), 0, 0);
}

/** Scale so the drawing is about `target` pixels wide (an integer, crisp pixels). */
export function scaleFor(width: number, target = 280): number {
  return Math.max(1, Math.round(target / width));
}

/** Draws the heatmap of `map` over the image. Returns the value that maps to full intensity. */
export function drawOverlay(canvas: HTMLCanvasElement, image: Pixels, map: MapData, opts: DrawOptions, target = 280): number {
  const scale = scaleFor(image.width, target);
  const out = overlay(image, map.values, map.width, map.height, { mode: opts.mode, colormap: opts.colormap, alpha: opts.alpha, scale });
  put(canvas, out.data, out.width, out.height);
  return fullScale(map.values, opts.mode);
}

/** The magnitude viz maps to full intensity (its 99.5th percentile), for the legend's end labels. */
export function fullScale(values: Float32Array, mode: DisplayMode): number {
  const mags = new Float32Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = values[i] as number;
    mags[i] = mode === 'positive' ? Math.max(v, 0) : Math.abs(v);
  }
  return percentile(mags, 99.5);
}

/** Draws an image-valued result (feature visualisation): min-max scaled, grey or RGB. */
export function drawImage(canvas: HTMLCanvasElement, map: MapData, target = 280): void {
  const { values, width, height, channels } = map;
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of values) {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  const span = hi > lo ? hi - lo : 1;
  const scale = scaleFor(width, target);
  const rgba = new Uint8ClampedArray(width * scale * height * scale * 4);
  for (let y = 0; y < height * scale; y++) {
    for (let x = 0; x < width * scale; x++) {
      const p = Math.floor(y / scale) * width + Math.floor(x / scale);
      const o = (y * width * scale + x) * 4;
      for (let k = 0; k < 3; k++) {
        const v = values[p * channels + (channels >= 3 ? k : 0)] as number;
        rgba[o + k] = ((v - lo) / span) * 255;
      }
      rgba[o + 3] = 255;
    }
  }
  put(canvas, rgba, width * scale, height * scale);
}

/** Draws the input image alone. */
export function drawPixels(canvas: HTMLCanvasElement, image: Pixels, target = 280): void {
  const scale = scaleFor(image.width, target);
  const zero = new Float32Array(image.width * image.height);
  const out = overlay(image, zero, image.width, image.height, { alpha: 0, scale });
  put(canvas, out.data, out.width, out.height);
}

function fmt(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  return a !== 0 && (a < 1e-3 || a >= 1e4) ? v.toExponential(1) : v.toPrecision(3);
}

/** Fills a legend element: the colour bar and what its ends mean. */
export function drawLegend(el: HTMLElement, opts: DrawOptions, full: number): void {
  el.replaceChildren();
  const bar = document.createElement('canvas');
  bar.className = 'xai-colorbar';
  put(bar, colorbar(opts.colormap, 256, 1), 256, 1);
  const labels = document.createElement('div');
  labels.className = 'xai-legend-labels';
  const ends =
    opts.mode === 'signed'
      ? [`−${fmt(full)} (against)`, '0', `+${fmt(full)} (for)`]
      : opts.mode === 'positive'
        ? ['0', `${fmt(full)} (for the class)`]
        : ['0', `|${fmt(full)}|`];
  for (const t of ends) {
    const s = document.createElement('span');
    s.textContent = t;
    labels.append(s);
  }
  const cap = document.createElement('div');
  cap.className = 'xai-legend-caption';
  cap.textContent = `${opts.colormap}, ${opts.mode}; values beyond the 99.5th percentile are clipped`;
  el.append(bar, labels, cap);
}
