import type { TapOptions } from '../tap/tap.js';

/**
 * Messages between the main thread and a cnn-xai worker thread. Tensors travel as Float32Array
 * buffers (transferred, not copied); a model travels once per worker as its artifacts.
 */
export interface ModelPayload {
  modelTopology: unknown;
  weightSpecs: unknown;
  weightData: ArrayBuffer | ArrayBuffer[];
}

/**
 * `predict`: the output; `gradient`: d(class score)/d(input); `layerGradient`: d(class score)/d(layer
 * activation) and the activation.
 */
export type Op = 'predict' | 'gradient' | 'layerGradient';

/** One result tensor of a run. */
export interface Part {
  shape: number[];
  data: Float32Array;
}

export type ToWorker =
  | { type: 'load'; key: number; artifacts: ModelPayload; tap: Required<TapOptions> }
  | {
      type: 'run';
      id: number;
      key: number;
      op: Op;
      /** For `layerGradient`: the layer. */
      layer: string | null;
      /** A named backward rule (`NAMED_RULES`) for the gradient ops, or null. */
      rule: string | null;
      shape: number[];
      data: Float32Array;
      /** For `gradient`: the class whose score is differentiated, per row. */
      classes: Int32Array | null;
    };

export interface WorkerError {
  name: string;
  message: string;
  code?: string;
  hint?: string;
}

export type FromWorker =
  | { type: 'ready'; backend: string }
  | { type: 'failed'; error: WorkerError }
  | { type: 'result'; id: number; parts: Part[] }
  | { type: 'error'; id: number; error: WorkerError };

export interface WorkerStart {
  backend: 'wasm' | 'cpu';
}
