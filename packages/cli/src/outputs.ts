import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { encodeNpy, type Attribution } from '@cnn-xai/core';
import { overlay, tile } from '@cnn-xai/viz';
import { encodePng } from '@cnn-xai/viz/node';
import type { DisplayImage, InputItem } from './inputs.js';
import { drawLabelBar } from './label.js';

export type OutputFormat = 'png' | 'npy' | 'json';
export const FORMATS: readonly OutputFormat[] = ['png', 'npy', 'json'];

/** What the JSON output carries besides the attribution. */
export interface RunMeta {
  backend: string;
  model: string;
  timeMs: number;
  inputs: InputItem[];
}

export async function writeBytes(path: string, bytes: Uint8Array | string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, bytes);
}

/** Float32 attributions in their actual shape, (N,H,W) or (N,H,W,C), as a NumPy .npy file. */
export function attributionNpy(values: tf.Tensor): Uint8Array {
  const data = values.dtype === 'float32' ? (values.dataSync() as Float32Array) : Float32Array.from(values.dataSync());
  return encodeNpy(data, values.shape);
}

/** Shortest decimal that reads back as the same float32 (keeps JSON files small). */
const f32 = (v: number): number | null => (Number.isFinite(v) ? Number(Math.fround(v).toPrecision(9)) : null);

/** Flat values to nested arrays of a shape. */
export function nest(data: ArrayLike<number>, shape: readonly number[], map: (v: number) => unknown = (v) => v): unknown {
  if (shape.length === 0) return map(data[0] as number);
  const build = (dim: number, offset: number): unknown[] => {
    const n = shape[dim] as number;
    const stride = shape.slice(dim + 1).reduce((a, b) => a * b, 1);
    const out: unknown[] = new Array(n);
    for (let i = 0; i < n; i++) {
      out[i] = dim === shape.length - 1 ? map(data[offset + i] as number) : build(dim + 1, offset + i * stride);
    }
    return out;
  };
  return build(0, 0);
}

const isTensor = (v: unknown): v is tf.Tensor => v instanceof tf.Tensor;

/** Extras as JSON: tensors become {shape, dtype, values: nested arrays}; records are converted deeply. */
export function jsonExtra(v: unknown): unknown {
  if (isTensor(v)) {
    const data = v.dataSync();
    return { shape: v.shape, dtype: v.dtype, values: nest(data as ArrayLike<number>, v.shape, v.dtype === 'float32' ? f32 : (x) => x) };
  }
  if (ArrayBuffer.isView(v) && !(v instanceof DataView)) return Array.from(v as unknown as ArrayLike<number>);
  if (Array.isArray(v)) return v.map(jsonExtra);
  if (typeof v === 'number') return Number.isFinite(v) ? v : null;
  if (v !== null && typeof v === 'object') {
    return Object.fromEntries(Object.entries(v as Record<string, unknown>).map(([k, x]) => [k, jsonExtra(x)]));
  }
  return v;
}

/** The JSON document for one method's attributions over the batch. */
export function attributionJson(attr: Attribution, meta: RunMeta): string {
  const v = attr.values;
  const doc = {
    explainer: attr.explainer,
    backend: meta.backend,
    model: meta.model,
    target: attr.target,
    signed: attr.signed,
    shape: v.shape,
    layer: attr.layer ?? null,
    inputs: meta.inputs.map((i) => ({ name: i.name, file: i.file, index: i.index, ...(i.label ? { label: i.label } : {}) })),
    extras: jsonExtra(attr.extras),
    values: nest(v.dataSync() as ArrayLike<number>, v.shape, f32),
    timeMs: Math.round(meta.timeMs * 1000) / 1000,
  };
  return `${JSON.stringify(doc)}\n`;
}

/** Per-image 2-D maps for display: channel maps are summed over channels. */
export function displayMaps(values: tf.Tensor): { maps: Float32Array[]; width: number; height: number } {
  const [n, h, w] = values.shape as [number, number, number];
  const c = values.rank === 4 ? (values.shape[3] as number) : 1;
  const data = values.dataSync();
  const maps: Float32Array[] = [];
  for (let i = 0; i < n; i++) {
    const m = new Float32Array(h * w);
    const base = i * h * w * c;
    for (let p = 0; p < h * w; p++) {
      let s = 0;
      for (let k = 0; k < c; k++) s += data[base + p * c + k] as number;
      m[p] = s;
    }
    maps.push(m);
  }
  return { maps, width: w, height: h };
}

/** Display scale so that small inputs (28x28) become a visible size (x8). */
export const displayScale = (width: number, height: number): number => Math.max(1, Math.round(224 / Math.max(width, height)));

export interface RgbaPicture {
  data: Uint8ClampedArray;
  width: number;
  height: number;
}

/** One heatmap overlay per image: diverging colours for signed maps, inferno otherwise. */
export function overlays(attr: Attribution, display: readonly DisplayImage[]): RgbaPicture[] {
  const { maps, width, height } = displayMaps(attr.values);
  return maps.map((m, i) => {
    const img = display[i] as DisplayImage;
    const scale = displayScale(img.width, img.height);
    return overlay(img, m, width, height, {
      alpha: 0.5,
      colormap: attr.signed ? 'coolwarm' : 'inferno',
      mode: attr.signed ? 'signed' : 'positive',
      scale,
    });
  });
}

/** A caption for an image's tile: its name (or label) and the class explained. */
export function caption(item: InputItem, target: number | undefined, classNames?: readonly string[]): string {
  const cls = target === undefined ? '' : (classNames?.[target] ?? String(target));
  const who = item.label ?? item.name;
  return cls ? `${who} > ${cls}` : who;
}

/** The overlays of a batch as one picture: a grid of captioned tiles. */
export function compositePng(attr: Attribution, display: readonly DisplayImage[], items: readonly InputItem[], classNames?: readonly string[]): Uint8Array {
  const pics = overlays(attr, display);
  const captioned = pics.map((p, i) => drawLabelBar(p, caption(items[i] as InputItem, attr.target?.[i], classNames)));
  const one = captioned.length === 1 ? (captioned[0] as RgbaPicture) : tile(captioned, { columns: Math.min(captioned.length, Math.ceil(Math.sqrt(captioned.length))), gap: 4 });
  return encodePng(one.data, one.width, one.height);
}

/** One PNG per image (uncaptioned overlays). */
export function imagePngs(attr: Attribution, display: readonly DisplayImage[]): Uint8Array[] {
  return overlays(attr, display).map((p) => encodePng(p.data, p.width, p.height));
}
