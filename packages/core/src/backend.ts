import * as tf from '@tensorflow/tfjs-core';
import { CnnXaiError } from './errors.js';

/**
 * Backend selection. In Node: `tensorflow` (tfjs-node-gpu, then tfjs-node, when installed),
 * `webgpu` (through the `webgpu` package, when a GPU adapter exists), `wasm`, `cpu`.
 * In a browser: `webgpu`, `webgl` (when the app registered @tensorflow/tfjs-backend-webgl),
 * `wasm`, `cpu`. Every choice that failed is reported with its reason.
 */
export type BackendName = 'tensorflow' | 'webgpu' | 'webgl' | 'wasm' | 'cpu';
export const BACKENDS: readonly BackendName[] = ['tensorflow', 'webgpu', 'webgl', 'wasm', 'cpu'];

export interface BackendAttempt {
  name: BackendName;
  ok: boolean;
  /** Why it was not used (when ok is false), or what provided it. */
  detail: string;
}

export interface BackendChoice {
  backend: BackendName;
  attempts: BackendAttempt[];
}

export const isNode = (): boolean =>
  typeof process !== 'undefined' && typeof process.versions === 'object' && !!process.versions.node;

/** Imports an optional module by a name bundlers do not try to resolve. */
async function importOptional(name: string): Promise<unknown> {
  const load = new Function('n', 'return import(n)') as (n: string) => Promise<unknown>;
  return load(name);
}

function reason(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  const line = msg.split('\n')[0] ?? msg;
  if (/Cannot find (package|module)|ERR_MODULE_NOT_FOUND/.test(msg)) return 'package not installed';
  return line.length > 160 ? `${line.slice(0, 157)}...` : line;
}

async function tryTensorflow(): Promise<string> {
  const errors: string[] = [];
  for (const pkg of ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node']) {
    try {
      await importOptional(pkg);
      if (tf.findBackend('tensorflow') || tf.engine().registryFactory['tensorflow']) return pkg;
      errors.push(`${pkg}: loaded, but its tfjs-core is not the one cnn-xai uses (versions differ)`);
    } catch (e) {
      errors.push(`${pkg}: ${reason(e)}`);
    }
  }
  throw new Error(errors.join('; '));
}

async function tryWebgpu(): Promise<string> {
  const nav = (globalThis as { navigator?: { gpu?: unknown } }).navigator;
  let source = 'navigator.gpu';
  if (!nav?.gpu) {
    if (!isNode()) throw new Error('this browser has no navigator.gpu');
    let mod: { create?: (opts: string[]) => unknown; globals?: Record<string, unknown> };
    try {
      mod = (await importOptional('webgpu')) as typeof mod;
    } catch (e) {
      throw new Error(`the webgpu package: ${reason(e)}`);
    }
    if (!mod.create) throw new Error('the webgpu package has no create()');
    if (mod.globals) Object.assign(globalThis, mod.globals);
    const gpu = mod.create([]);
    Object.defineProperty(globalThis, 'navigator', { value: { ...(nav ?? {}), gpu }, configurable: true, writable: true });
    source = 'the webgpu package (Dawn)';
  }
  const g = (globalThis as unknown as { navigator: { gpu: { requestAdapter(): Promise<unknown> } } }).navigator.gpu;
  const adapter = await g.requestAdapter();
  if (!adapter) throw new Error('no GPU adapter found');
  try {
    await importOptional('@tensorflow/tfjs-backend-webgpu');
  } catch (e) {
    throw new Error(`@tensorflow/tfjs-backend-webgpu: ${reason(e)}`);
  }
  return source;
}

async function prepare(name: BackendName): Promise<string> {
  switch (name) {
    case 'tensorflow':
      if (!isNode()) throw new Error('only in Node');
      return tryTensorflow();
    case 'webgpu':
      return tryWebgpu();
    case 'webgl':
      if (isNode()) throw new Error('not available in Node');
      if (!tf.engine().registryFactory['webgl']) throw new Error('not registered: import @tensorflow/tfjs-backend-webgl in the app');
      return 'registered by the app';
    case 'wasm':
      await import('@tensorflow/tfjs-backend-wasm');
      return '@tensorflow/tfjs-backend-wasm';
    case 'cpu':
      await import('@tensorflow/tfjs-backend-cpu');
      return '@tensorflow/tfjs-backend-cpu';
  }
}

export function defaultOrder(): BackendName[] {
  return isNode() ? ['tensorflow', 'webgpu', 'wasm', 'cpu'] : ['webgpu', 'webgl', 'wasm', 'cpu'];
}

/**
 * Picks the first backend that works from `preference` (a name, a list, or `auto` for the
 * platform's order) and makes it tf.js's active backend. A single named backend that fails is
 * an error; with a list, failures are reported and the next is tried.
 */
export async function selectBackend(preference: BackendName | readonly BackendName[] | 'auto' = 'auto'): Promise<BackendChoice> {
  const order = preference === 'auto' ? defaultOrder() : typeof preference === 'string' ? [preference] : [...preference];
  for (const n of order) {
    if (!BACKENDS.includes(n)) {
      throw new CnnXaiError('BACKEND_UNAVAILABLE', `Unknown backend "${String(n)}".`, `Use one of ${BACKENDS.join(', ')} or auto.`);
    }
  }
  const attempts: BackendAttempt[] = [];
  for (const name of order) {
    try {
      const detail = await prepare(name);
      const ok = await tf.setBackend(name);
      if (!ok) throw new Error('tf.setBackend returned false (initialisation failed)');
      await tf.ready();
      attempts.push({ name, ok: true, detail });
      return { backend: name, attempts };
    } catch (e) {
      attempts.push({ name, ok: false, detail: reason(e) });
    }
  }
  const summary = attempts.map((a) => `${a.name}: ${a.detail}`).join('; ');
  throw new CnnXaiError(
    'BACKEND_UNAVAILABLE',
    `No backend could start (${summary}).`,
    order.length === 1 ? 'Pick another with --backend (wasm and cpu always work).' : 'Install @tensorflow/tfjs-backend-wasm or -cpu.',
  );
}

let ensured: Promise<unknown> | null = null;

/** Makes sure some backend is active; picks one automatically the first time if none is. */
export async function ensureBackend(): Promise<string> {
  const current = activeBackend();
  if (current) return current;
  ensured ??= selectBackend('auto');
  await ensured;
  return tf.getBackend();
}

function activeBackend(): string | null {
  try {
    return (tf.engine() as unknown as { backendName: string | null }).backendName ?? null;
  } catch {
    return null;
  }
}
