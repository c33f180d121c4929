import { readFile, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { CnnXaiError } from './errors.js';
import { loadLayersModelFromParts } from './io/model.js';

/** Loads a tf.js LayersModel from a directory holding model.json, or from a model.json path. */
export async function loadModel(path: string): Promise<LayersModel> {
  let file = path;
  try {
    if ((await stat(path)).isDirectory()) file = join(path, 'model.json');
  } catch {
    throw new CnnXaiError('BAD_FILE', `No model at ${path}.`, 'Give a directory with a model.json or the path of a model.json.');
  }
  let json: unknown;
  try {
    json = JSON.parse(await readFile(file, 'utf8'));
  } catch (e) {
    throw new CnnXaiError('BAD_FILE', `Cannot read ${file}: ${(e as Error).message}.`, 'Give a tf.js LayersModel model.json.');
  }
  const dir = dirname(file);
  return loadLayersModelFromParts(json, async (p) => new Uint8Array(await readFile(join(dir, p))));
}
