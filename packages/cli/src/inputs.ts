import { readFile, readdir, stat } from 'node:fs/promises';
import { basename, extname, join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { CnnXaiError, npyToFloat32, parseNpy, resizeBilinear } from '@cnn-xai/core';
import { InputError } from './errors.js';
import { decodeImage, hasColour, sniff, toChannels, type RgbaImage } from './image.js';
import type { Logger } from './log.js';

/** One image of the input batch. */
export interface InputItem {
  /** Short name for file names and labels: the file's stem, plus `[i]` for arrays. */
  name: string;
  /** The file it came from. */
  file: string;
  /** Index inside the file (.npy batches), else 0. */
  index: number;
  /** A class name from a labels.json next to the images, when there is one. */
  label?: string;
}

/** An image for display: model resolution, 8 bits per channel. */
export interface DisplayImage {
  data: Uint8ClampedArray;
  width: number;
  height: number;
  channels: 1 | 3 | 4;
}

export interface InputBatch {
  /** [N, H, W, C] float32, ready for the model. The caller disposes it. */
  tensor: tf.Tensor4D;
  items: InputItem[];
  /** Each image as the model sees it, scaled for display. */
  display: DisplayImage[];
}

/** The model's input shape without the batch dimension (null where the model leaves it free). */
export type ModelInputShape = readonly (number | null)[];

const IMAGE_EXT = new Set(['.png', '.jpg', '.jpeg', '.npy']);

interface LabelEntry {
  file?: string;
  className?: string;
  label?: string | number;
}

/** Reads `labels.json` ([{file, className}]) in a directory, if present. */
async function readLabels(dir: string): Promise<Map<string, string>> {
  const map = new Map<string, string>();
  try {
    const raw = JSON.parse(await readFile(join(dir, 'labels.json'), 'utf8')) as unknown;
    if (Array.isArray(raw)) {
      for (const e of raw as LabelEntry[]) {
        const name = e.className ?? (typeof e.label === 'string' ? e.label : undefined);
        if (typeof e.file === 'string' && name) map.set(basename(e.file), name);
      }
    }
  } catch {
    // no labels: fine
  }
  return map;
}

/** The image entries of a directory's samples.json (e.g. fixtures/images/shapes), or null without one. */
async function readSamples(dir: string): Promise<Array<{ file: string; className?: string }> | null> {
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(join(dir, 'samples.json'), 'utf8'));
  } catch {
    return null;
  }
  if (!Array.isArray(raw)) return null;
  const entries = (raw as Array<{ file?: unknown; className?: unknown }>).filter((e) => typeof e?.file === 'string');
  if (entries.length === 0) return null;
  return entries.map((e) => (typeof e.className === 'string' ? { file: e.file as string, className: e.className } : { file: e.file as string }));
}

interface InputFile {
  file: string;
  label?: string;
}

/**
 * Expands the --input arguments: files as given, directories to their .png/.jpg/.jpeg/.npy files
 * (sorted by name, labelled from labels.json). Missing paths are an error naming the path.
 */
export async function resolveInputFiles(paths: readonly string[]): Promise<InputFile[]> {
  const out: InputFile[] = [];
  for (const p of paths) {
    let st;
    try {
      st = await stat(p);
    } catch {
      throw new InputError(`Input not found: ${p}. Give a PNG, JPEG or .npy file, or a directory of them.`);
    }
    if (st.isDirectory()) {
      const samples = await readSamples(p);
      if (samples) {
        // A fixture directory with samples.json (images next to their masks): its images only.
        for (const e of samples) out.push(e.className ? { file: join(p, e.file), label: e.className } : { file: join(p, e.file) });
        continue;
      }
      const labels = await readLabels(p);
      const names = (await readdir(p)).filter((n) => IMAGE_EXT.has(extname(n).toLowerCase())).sort();
      if (names.length === 0) throw new InputError(`The directory ${p} holds no .png, .jpg, .jpeg or .npy files.`);
      for (const n of names) {
        const label = labels.get(n);
        out.push(label ? { file: join(p, n), label } : { file: join(p, n) });
      }
    } else {
      out.push({ file: p });
    }
  }
  return out;
}

const stem = (file: string): string => basename(file, extname(file));
const fmtShape = (s: readonly (number | null)[]): string => `(${s.map((d) => d ?? '?').join(', ')}${s.length === 1 ? ',' : ''})`;
const fmtModel = (want: ModelInputShape): string => `(N, ${want.map((d) => d ?? '?').join(', ')})`;

function shapeError(file: string, got: readonly number[], want: ModelInputShape): CnnXaiError {
  return new CnnXaiError(
    'BAD_INPUT_SHAPE',
    `${file} holds an array of shape ${fmtShape(got)} but the model takes ${fmtModel(want)}.`,
    `.npy inputs are used as they are: save float32 (N, H, W, C)${want[2] === 1 ? ', (H, W, C) or (N, H, W)' : ' or (H, W, C)'} at the model's size.`,
  );
}

const fits = (dims: readonly number[], want: ModelInputShape): boolean =>
  dims.length === want.length && want.every((d, i) => d === null || d === dims[i]);

/** An .npy array as [N, H, W, C] for the model: (N,H,W,C) as is, (H,W,C), or (N,H,W)/(H,W) for 1-channel models. */
export function npyBatchShape(file: string, shape: readonly number[], want: ModelInputShape): [number, number, number, number] {
  const oneChannel = want[2] === 1;
  let s: number[] | null = null;
  if (shape.length === 4 && fits(shape.slice(1), want)) s = [...shape];
  else if (shape.length === 3 && fits(shape, want)) s = [1, ...shape];
  else if (shape.length === 3 && oneChannel && fits([...shape.slice(1), 1], want)) s = [...shape, 1];
  else if (shape.length === 2 && oneChannel && fits([...shape, 1], want)) s = [1, ...shape, 1];
  if (!s) throw shapeError(file, shape, want);
  return s as [number, number, number, number];
}

/** Min-max scales one image's values to 0..255 for display (arrays can hold any range). */
function toDisplay(values: Float32Array, width: number, height: number, channels: number, rescale: boolean): DisplayImage {
  let lo = 0;
  let hi = 1;
  if (rescale) {
    lo = Infinity;
    hi = -Infinity;
    for (const v of values) {
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    if (!(hi > lo)) {
      lo = Math.min(lo, 0);
      hi = lo + 1;
    }
  }
  const c = channels === 1 || channels === 3 || channels === 4 ? channels : 1;
  const data = new Uint8ClampedArray(width * height * c);
  const n = width * height;
  for (let p = 0; p < n; p++) {
    if (c === channels) {
      for (let k = 0; k < c; k++) data[p * c + k] = Math.round((((values[p * channels + k] as number) - lo) / (hi - lo)) * 255);
    } else {
      let s = 0;
      for (let k = 0; k < channels; k++) s += values[p * channels + k] as number;
      data[p] = Math.round(((s / channels - lo) / (hi - lo)) * 255);
    }
  }
  return { data, width, height, channels: c as 1 | 3 | 4 };
}

/**
 * Loads the inputs as one batch for a model with input shape `want` ([H, W, C]). Images are
 * converted to the model's channels and resized (bilinear, half-pixel centres) with a warning;
 * arrays are taken as they are and must fit.
 */
export async function loadInputs(files: readonly InputFile[], want: ModelInputShape, log: Logger): Promise<InputBatch> {
  if (want.length !== 3) {
    throw new CnnXaiError('UNSUPPORTED_MODEL', `The model takes inputs of shape ${fmtModel(want)}.`, 'cnn-xai explains image models with [N, H, W, C] inputs.');
  }
  const parts: tf.Tensor4D[] = [];
  const items: InputItem[] = [];
  const display: DisplayImage[] = [];
  const [wantH, wantW] = want;
  let size: [number, number] | null = typeof wantH === 'number' && typeof wantW === 'number' ? [wantH, wantW] : null;
  try {
    for (const { file, label } of files) {
      const bytes = new Uint8Array(await readFile(file));
      const kind = sniff(bytes);
      if (kind === null) {
        throw new InputError(`${file} is not a PNG, JPEG or .npy file (unrecognised contents).`);
      }
      if (kind === 'npy') {
        const arr = parseNpy(bytes);
        const s = npyBatchShape(file, arr.shape, want);
        if (size && (s[1] !== size[0] || s[2] !== size[1])) throw shapeError(file, arr.shape, [size[0], size[1], want[2] ?? s[3]]);
        size ??= [s[1], s[2]];
        const values = npyToFloat32(arr);
        if (arr.dtype !== 'float32' && arr.dtype !== 'float64') {
          log.warn(`${file} holds ${arr.dtype} values; they are used as float32 as they are (not scaled to [0, 1]).`);
        }
        const per = s[1] * s[2] * s[3];
        for (let i = 0; i < s[0]; i++) {
          const img = values.slice(i * per, (i + 1) * per);
          parts.push(tf.tensor4d(img, [1, s[1], s[2], s[3]]));
          items.push({ name: s[0] > 1 ? `${stem(file)}[${i}]` : stem(file), file, index: i });
          display.push(toDisplay(img, s[2], s[1], s[3], true));
        }
        continue;
      }
      const img: RgbaImage = decodeImage(bytes, kind, file);
      const channels = want[2] ?? (hasColour(img) ? 3 : 1);
      if (channels === 1 && hasColour(img)) {
        log.warn(`${file} is a colour image; converted to grey (0.299 R + 0.587 G + 0.114 B) for the model's single channel.`);
      }
      const target: [number, number] = size ?? [img.height, img.width];
      size ??= target;
      const values = toChannels(img, channels);
      let t = tf.tensor4d(values, [1, img.height, img.width, channels]);
      if (img.height !== target[0] || img.width !== target[1]) {
        log.warn(`${file} is ${img.width}x${img.height}; resized to ${target[1]}x${target[0]} (bilinear) for the model.`);
        const r = resizeBilinear(t, target) as tf.Tensor4D;
        t.dispose();
        t = tf.tidy(() => tf.clipByValue(r, 0, 1)) as tf.Tensor4D;
        r.dispose();
      }
      parts.push(t);
      items.push(label ? { name: stem(file), file, index: 0, label } : { name: stem(file), file, index: 0 });
      display.push(toDisplay(t.dataSync() as Float32Array, target[1], target[0], channels, false));
    }
    if (parts.length === 0) throw new InputError('No input images.');
    const tensor = parts.length === 1 ? (parts[0] as tf.Tensor4D).clone() : tf.concat4d(parts, 0);
    return { tensor, items, display };
  } finally {
    parts.forEach((p) => p.dispose());
  }
}
