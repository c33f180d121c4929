/**
 * The entry of a cnn-xai worker thread (Node `worker_threads`). It starts its own tf.js engine
 * on the backend the main thread uses (a wasm instance of its own), loads models sent to it and
 * runs forward passes and input gradients through the same `ModelTap` code as the main thread,
 * so a batch split between threads gives what one thread would.
 */
import { parentPort, workerData } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs-core';
import { loadLayersModel, type LayersModel } from '@tensorflow/tfjs-layers';
import { CnnXaiError } from '../errors.js';
import { ModelTap } from '../tap/tap.js';
import { runOp, scoresOf } from './ops.js';
import type { FromWorker, ToWorker, WorkerError, WorkerStart } from './protocol.js';

/** Models kept per worker; the oldest is released when a fifth arrives. */
const KEEP = 4;
const port = parentPort;
interface Loaded {
  model: LayersModel;
  tap: ModelTap;
}
const models = new Map<number, Promise<Loaded>>();

function describe(e: unknown): WorkerError {
  if (e instanceof CnnXaiError) return { name: e.name, message: e.message, code: e.code, ...(e.hint ? { hint: e.hint } : {}) };
  if (e instanceof Error) return { name: e.name, message: e.message };
  return { name: 'Error', message: String(e) };
}

function post(msg: FromWorker, transfer: ArrayBuffer[] = []): void {
  port?.postMessage(msg, transfer);
}

async function start(): Promise<void> {
  const { backend } = workerData as WorkerStart;
  if (backend === 'wasm') await import('@tensorflow/tfjs-backend-wasm');
  else await import('@tensorflow/tfjs-backend-cpu');
  if (!(await tf.setBackend(backend))) throw new Error(`tf.setBackend('${backend}') failed in the worker`);
  await tf.ready();
}

function load(msg: Extract<ToWorker, { type: 'load' }>): void {
  const loading = (async () => {
    const { artifacts } = msg;
    const model = await loadLayersModel(
      tf.io.fromMemory({
        modelTopology: artifacts.modelTopology as object,
        weightSpecs: artifacts.weightSpecs as tf.io.WeightsManifestEntry[],
        weightData: artifacts.weightData,
      }),
    );
    return { model, tap: new ModelTap(model, msg.tap) };
  })();
  loading.catch(() => undefined);
  models.set(msg.key, loading);
  while (models.size > KEEP) {
    const [oldest, entry] = models.entries().next().value as [number, Promise<Loaded>];
    models.delete(oldest);
    // Released after the runs queued before this message.
    chain = chain.then(() =>
      entry.then(
        ({ model, tap }) => {
          tap.dispose();
          model.dispose();
        },
        () => undefined,
      ),
    );
  }
}

async function run(msg: Extract<ToWorker, { type: 'run' }>): Promise<void> {
  try {
    const entry = models.get(msg.key);
    if (!entry) throw new Error(`model ${msg.key} was not sent to this worker`);
    let tap: ModelTap;
    try {
      ({ tap } = await entry);
    } catch (e) {
      // The main thread then runs this model itself (auto) or reports it (explicit workers).
      post({ type: 'error', id: msg.id, error: { ...describe(e), name: 'WorkerModelError' } });
      return;
    }
    const results = tf.tidy(() => runOp(tap, tf.tensor(msg.data, msg.shape), msg.op, scoresOf(msg.classes), msg.layer, msg.rule));
    // On the cpu backend dataSync() is the tensor's own storage: copied before it is transferred
    // (on wasm it is a fresh copy already).
    const own = tf.getBackend() !== 'wasm';
    const parts = results.map((t) => {
      const d = t.dataSync() as Float32Array;
      return { shape: t.shape, data: own ? new Float32Array(d) : d };
    });
    tf.dispose(results);
    post({ type: 'result', id: msg.id, parts }, parts.map((p) => p.data.buffer as ArrayBuffer));
  } catch (e) {
    post({ type: 'error', id: msg.id, error: describe(e) });
  }
}

// Messages are handled in the order they arrive: a model's `load` before the runs that use it.
let chain: Promise<void> = start().then(
  () => post({ type: 'ready', backend: tf.getBackend() }),
  (e) => post({ type: 'failed', error: describe(e) }),
);
port?.on('message', (msg: ToWorker) => {
  if (msg.type === 'load') load(msg);
  else chain = chain.then(() => run(msg));
});
