/**
 * The bundled fixture models and sample images (copied into each app's build by
 * scripts/copy-fixtures.mjs, listed in fixtures/index.json), and models the reader brings.
 */
import { ModelTap } from '@cnn-xai/core';
import * as tf from '@tensorflow/tfjs-core';
import { loadLayersModel, type LayersModel } from '@tensorflow/tfjs-layers';
import { pickBackend } from './backend.js';

export interface SampleEntry {
  /** Absolute URL of the PNG. */
  url: string;
  label: number;
  className: string;
}

export interface ModelEntry {
  id: string;
  name: string;
  /** Absolute URL of model.json (or `files:` for a model loaded from local files). */
  url: string;
  inputShape: number[] | null;
  classes: string[];
  samples: SampleEntry[];
}

export interface LoadedModel {
  entry: ModelEntry;
  model: LayersModel;
  tap: ModelTap;
  /** [height, width, channels] of one input image. */
  size: [number, number, number];
  classes: string[];
}

/** Where the app put the fixtures (respects Vite's/Astro's base path). */
export const FIXTURES_BASE = `${import.meta.env.BASE_URL.replace(/\/?$/, '/')}fixtures/`;

let manifest: Promise<ModelEntry[]> | null = null;

/** The bundled models, with their sample images; URLs are made absolute. */
export function fixtureModels(): Promise<ModelEntry[]> {
  manifest ??= (async () => {
    const base = new URL(FIXTURES_BASE, location.href);
    const res = await fetch(new URL('index.json', base));
    if (!res.ok) throw new Error(`fixtures/index.json: HTTP ${res.status}`);
    const json = (await res.json()) as { models: ModelEntry[] };
    return json.models.map((m) => ({
      ...m,
      url: new URL(m.url, base).href,
      samples: m.samples.map((s) => ({ ...s, url: new URL(s.url, base).href })),
    }));
  })();
  return manifest;
}

const loaded = new Map<string, Promise<LoadedModel>>();

/** Wraps a LayersModel: its tap, input size and class names (numbered when unknown). */
export function wrapModel(entry: ModelEntry, model: LayersModel): LoadedModel {
  const shape = model.inputs[0]?.shape ?? [];
  if (shape.length !== 4) {
    throw new Error(`${entry.name}: the input has shape [${shape.join(', ')}]; explainers here need images [batch, height, width, channels].`);
  }
  const [, h, w, c] = shape as [number | null, number, number, number];
  const outShape = model.outputs[0]?.shape ?? [];
  const numClasses = (outShape[outShape.length - 1] as number | null) ?? entry.classes.length;
  const classes = Array.from({ length: numClasses }, (_, i) => entry.classes[i] ?? `class ${i}`);
  return { entry, model, tap: ModelTap.from(model), size: [h, w, c], classes };
}

/** Loads (once per page) a model by its manifest entry, on the chosen backend. */
export function loadModel(entry: ModelEntry): Promise<LoadedModel> {
  let p = loaded.get(entry.url);
  if (!p) {
    p = (async () => {
      await pickBackend();
      const model = await loadLayersModel(entry.url);
      return wrapModel(entry, model);
    })();
    p.catch(() => loaded.delete(entry.url));
    loaded.set(entry.url, p);
  }
  return p;
}

/** Loads a LayersModel from a URL (no caching: the reader may reload a changed file). */
export async function loadModelFromUrl(url: string): Promise<LoadedModel> {
  await pickBackend();
  const abs = new URL(url, location.href).href;
  const model = await loadLayersModel(abs);
  return wrapModel({ id: abs, name: abs.split('/').slice(-2).join('/'), url: abs, inputShape: null, classes: [], samples: [] }, model);
}

/**
 * Loads a LayersModel from files the reader picked (model.json plus its weight files) with
 * tf.io.browserFiles: read in the page, never uploaded.
 */
export async function loadModelFromFiles(files: readonly File[]): Promise<LoadedModel> {
  await pickBackend();
  const json = files.find((f) => f.name.endsWith('.json'));
  if (!json) throw new Error('Pick the model.json file together with its .bin weight files.');
  const weights = files.filter((f) => f !== json);
  const model = await loadLayersModel(tf.io.browserFiles([json, ...weights]));
  return wrapModel({ id: `files:${json.name}`, name: json.name, url: `files:${json.name}`, inputShape: null, classes: [], samples: [] }, model);
}
