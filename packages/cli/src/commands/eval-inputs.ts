import { readFile, readdir, stat } from 'node:fs/promises';
import { basename, dirname, extname, join, resolve } from 'node:path';
import { npyToFloat32, parseNpy } from '@cnn-xai/core';
import type { Box } from '@cnn-xai/metrics';
import { InputError } from '../errors.js';
import { decodeImage, sniff } from '../image.js';
import { resolveInputFiles } from '../inputs.js';

/**
 * Inputs and ground truth for `evaluate` and `report`.
 *
 * A directory that holds a `samples.json` (the shapes fixture's layout) is read through it: the
 * images are the entries' `file`s in order (so mask PNGs next to them are not taken as inputs),
 * and each entry's `mask` (a PNG, 0 outside / 255 inside) and `box` ([x0, y0, x1, y1], inclusive)
 * are the ground truth, with `label` as the class.
 */

/** One entry of a samples.json (the shapes fixture's format). Only `file` is required. */
export interface SampleEntry {
  file: string;
  mask?: string;
  box?: [number, number, number, number];
  label?: number;
  className?: string;
}

export interface EvalInput {
  file: string;
  label?: string;
  /** The class index, from samples.json or labels.json (for `--target label`). */
  classIndex?: number;
  /** A mask file (PNG) from samples.json. */
  mask?: string;
  box?: [number, number, number, number];
}

async function isDir(p: string): Promise<boolean> {
  return stat(p).then((s) => s.isDirectory(), () => false);
}

async function readJson(file: string): Promise<unknown> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as unknown;
  } catch (e) {
    throw new InputError(`Cannot read ${file} as JSON: ${((e as Error).message.split('\n')[0] ?? '').trim()}.`);
  }
}

/** Reads a samples.json: an array of entries with at least `file`; paths resolve from its directory. */
export async function readSamples(file: string): Promise<EvalInput[]> {
  const raw = await readJson(file);
  if (!Array.isArray(raw) || raw.some((e) => !e || typeof e !== 'object' || typeof (e as SampleEntry).file !== 'string')) {
    throw new InputError(`${file} is not a samples.json: expected an array of {file, mask?, box?, label?} objects.`);
  }
  const dir = dirname(file);
  return (raw as SampleEntry[]).map((e) => ({
    file: resolve(dir, e.file),
    ...(e.className ? { label: e.className } : {}),
    ...(typeof e.label === 'number' ? { classIndex: e.label } : {}),
    ...(typeof e.mask === 'string' ? { mask: resolve(dir, e.mask) } : {}),
    ...(Array.isArray(e.box) ? { box: e.box } : {}),
  }));
}

/** Numeric labels from a labels.json ([{file, label}]) next to images, if any. */
async function readLabelIndices(dir: string): Promise<Map<string, number>> {
  const map = new Map<string, number>();
  try {
    const raw = JSON.parse(await readFile(join(dir, 'labels.json'), 'utf8')) as unknown;
    if (Array.isArray(raw)) {
      for (const e of raw as Array<{ file?: unknown; label?: unknown }>) {
        if (typeof e.file === 'string' && typeof e.label === 'number') map.set(basename(e.file), e.label);
      }
    }
  } catch {
    // no labels
  }
  return map;
}

/**
 * Expands --input arguments: a samples.json, or a directory holding one, through it; other
 * directories and files as `explain` does (labels from labels.json).
 */
export async function resolveEvalInputs(paths: readonly string[]): Promise<EvalInput[]> {
  const out: EvalInput[] = [];
  for (const p of paths) {
    if ((await isDir(p)) && (await stat(join(p, 'samples.json')).then(() => true, () => false))) {
      out.push(...(await readSamples(join(p, 'samples.json'))));
      continue;
    }
    if (extname(p).toLowerCase() === '.json') {
      out.push(...(await readSamples(p)));
      continue;
    }
    const files = await resolveInputFiles([p]);
    const labels = (await isDir(p)) ? await readLabelIndices(p) : new Map<string, number>();
    for (const f of files) {
      const idx = labels.get(basename(f.file));
      out.push({ ...f, ...(idx !== undefined ? { classIndex: idx } : {}) });
    }
  }
  return out;
}

/** Reads a mask image (PNG/JPEG): a pixel is inside when its first channel is > 127. */
async function readMaskImage(file: string, h: number, w: number): Promise<Uint8Array> {
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(await readFile(file));
  } catch {
    throw new InputError(`Mask not found: ${file}.`);
  }
  const kind = sniff(bytes);
  if (kind === 'npy') return (await masksFromNpy(file, bytes, h, w, 1))[0] as Uint8Array;
  if (kind === null) throw new InputError(`${file} is not a PNG, JPEG or .npy mask.`);
  const img = decodeImage(bytes, kind, file);
  if (img.width !== w || img.height !== h) {
    throw new InputError(`The mask ${file} is ${img.width}x${img.height}; expected ${w}x${h} (the model's input size, one mask per image).`);
  }
  return Uint8Array.from({ length: h * w }, (_, p) => ((img.data[4 * p] as number) > 127 ? 1 : 0));
}

/** Masks from a .npy array: (N, H, W), (N, H, W, 1) or (H, W); a value > 0.5 is inside. */
async function masksFromNpy(file: string, bytes: Uint8Array, h: number, w: number, n: number | null): Promise<Uint8Array[]> {
  const arr = parseNpy(bytes);
  const s = arr.shape;
  let count: number;
  if (s.length === 2 && s[0] === h && s[1] === w) count = 1;
  else if ((s.length === 3 || (s.length === 4 && s[3] === 1)) && s[1] === h && s[2] === w) count = s[0] as number;
  else {
    throw new InputError(`${file} holds masks of shape (${s.join(', ')}); expected (${n ?? 'N'}, ${h}, ${w}): one ${h}x${w} mask per image at the model's input size.`);
  }
  if (n !== null && count !== n) {
    throw new InputError(`${file} holds ${count} masks for ${n} images; expected shape (${n}, ${h}, ${w}).`);
  }
  const data = npyToFloat32(arr);
  return Array.from({ length: count }, (_, i) => Uint8Array.from(data.subarray(i * h * w, (i + 1) * h * w), (v) => (v > 0.5 ? 1 : 0)));
}

/** Matches JSON entries to the inputs: by file name when entries name files, else by order. */
function matchEntries<T extends { file?: string }>(entries: readonly T[], inputs: readonly EvalInput[], source: string): T[] {
  if (entries.every((e) => typeof e.file === 'string')) {
    const byName = new Map(entries.map((e) => [basename(e.file as string), e]));
    return inputs.map((inp) => {
      const e = byName.get(basename(inp.file));
      if (!e) throw new InputError(`${source} has no entry for the input ${basename(inp.file)}.`);
      return e;
    });
  }
  if (entries.length !== inputs.length) {
    throw new InputError(`${source} has ${entries.length} entries for ${inputs.length} input images; give one per image, in input order (or name the files).`);
  }
  return [...entries];
}

export interface GroundTruthFiles {
  masks?: Uint8Array[];
  boxes?: Box[];
  /** Where they came from, for messages and the report. */
  sources: string[];
}

/**
 * Ground truth for the inputs: `--masks` (PNG/JPEG files, one per image in input order; a .npy
 * (N, H, W); a samples.json or a directory holding one) and `--boxes` (a JSON array of
 * [x0, y0, x1, y1] per image, or of {file, box} entries such as samples.json). Without either,
 * what the inputs' samples.json gave. Everything must be at the model's input size.
 */
export async function loadGroundTruth(
  inputs: readonly EvalInput[],
  maskArgs: readonly string[],
  boxArgs: readonly string[],
  h: number,
  w: number,
): Promise<GroundTruthFiles> {
  const n = inputs.length;
  const gt: GroundTruthFiles = { sources: [] };
  if (maskArgs.length) {
    const first = maskArgs[0] as string;
    const jsonFile = maskArgs.length === 1 ? ((await isDir(first)) ? join(first, 'samples.json') : extname(first).toLowerCase() === '.json' ? first : null) : null;
    if (jsonFile) {
      const entries = matchEntries(await readSamples(jsonFile), inputs, jsonFile);
      gt.masks = await Promise.all(
        entries.map((e) => {
          if (!e.mask) throw new InputError(`${jsonFile}: the entry of ${basename(e.file)} has no "mask".`);
          return readMaskImage(e.mask, h, w);
        }),
      );
      if (!boxArgs.length && entries.every((e) => e.box)) gt.boxes = entries.map((e) => e.box as Box);
    } else if (maskArgs.length === 1 && extname(first).toLowerCase() === '.npy') {
      gt.masks = await masksFromNpy(first, new Uint8Array(await readFile(first)), h, w, n);
    } else {
      const files: string[] = [];
      for (const m of maskArgs) {
        if (await isDir(m)) {
          const names = (await readdir(m)).filter((f) => /\.(png|jpe?g)$/i.test(f)).sort();
          files.push(...names.map((f) => join(m, f)));
        } else files.push(m);
      }
      if (files.length !== n) throw new InputError(`Got ${files.length} mask files for ${n} input images; give one per image, in input order.`);
      gt.masks = await Promise.all(files.map((f) => readMaskImage(f, h, w)));
    }
    gt.sources.push(...maskArgs);
  } else if (inputs.length && inputs.every((i) => i.mask)) {
    gt.masks = await Promise.all(inputs.map((i) => readMaskImage(i.mask as string, h, w)));
    gt.sources.push('samples.json');
  }
  if (boxArgs.length) {
    if (boxArgs.length !== 1) throw new InputError('Give --boxes once: a JSON file with one box per image.');
    const file = (await isDir(boxArgs[0] as string)) ? join(boxArgs[0] as string, 'samples.json') : (boxArgs[0] as string);
    const raw = await readJson(file);
    if (!Array.isArray(raw)) throw new InputError(`${file}: expected a JSON array of boxes [x0, y0, x1, y1] or of {file, box} objects.`);
    const entries = (raw as unknown[]).map((e) => (Array.isArray(e) ? { box: e as unknown as Box } : (e as { file?: string; box?: Box })));
    const dir = dirname(file);
    const named = entries.map((e) => (typeof e.file === 'string' ? { ...e, file: resolve(dir, e.file) } : e));
    gt.boxes = matchEntries(named, inputs, file).map((e, i) => {
      if (!Array.isArray(e.box)) throw new InputError(`${file}: no box for image ${i} (${basename(inputs[i]?.file ?? '')}).`);
      return e.box;
    });
    gt.sources.push(file);
  } else if (!gt.boxes && inputs.length && inputs.every((i) => i.box)) {
    gt.boxes = inputs.map((i) => i.box as Box);
  }
  return gt;
}
