import * as tf from '@tensorflow/tfjs-core';
import { loadLayersModel, type LayersModel } from '@tensorflow/tfjs-layers';
import { CnnXaiError } from '../errors.js';

/**
 * Loads a tf.js LayersModel from its model.json object and the bytes of its weight files,
 * with no network and no file system (works in Node and in browsers).
 * `readWeights(path)` returns the bytes of a file named in the weights manifest.
 */
export async function loadLayersModelFromParts(
  modelJson: unknown,
  readWeights: (path: string) => Promise<Uint8Array> | Uint8Array,
): Promise<LayersModel> {
  const json = modelJson as {
    modelTopology?: unknown;
    weightsManifest?: Array<{ paths: string[]; weights: tf.io.WeightsManifestEntry[] }>;
  };
  if (!json || typeof json !== 'object' || !json.modelTopology || !Array.isArray(json.weightsManifest)) {
    throw new CnnXaiError('BAD_FILE', 'This is not a tf.js LayersModel model.json (no modelTopology or weightsManifest).', 'Convert the model with tensorflowjs_converter --output_format tfjs_layers_model.');
  }
  const specs: tf.io.WeightsManifestEntry[] = [];
  const chunks: Uint8Array[] = [];
  for (const group of json.weightsManifest) {
    for (const p of group.paths) chunks.push(await readWeights(p));
    specs.push(...group.weights);
  }
  const size = chunks.reduce((a, c) => a + c.byteLength, 0);
  const all = new Uint8Array(size);
  let off = 0;
  for (const c of chunks) {
    all.set(c, off);
    off += c.byteLength;
  }
  return loadLayersModel(
    tf.io.fromMemory({ modelTopology: json.modelTopology as object, weightSpecs: specs, weightData: all.buffer }),
  );
}
