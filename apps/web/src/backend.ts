/**
 * Backend choice in the browser. TensorFlow.js can run on WebGPU, WebGL, wasm or plain JS (cpu);
 * which is fastest depends on the reader's machine (a real GPU favours WebGPU/WebGL; without one,
 * as in headless Chromium, wasm wins by 5-15x). The first visit measures a small conv
 * forward+backward pass on the backends that start, keeps the fastest, and remembers it in
 * localStorage; `?backend=NAME` overrides it.
 */
import { selectBackend, type BackendName } from '@cnn-xai/core';
import * as tf from '@tensorflow/tfjs-core';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import wasmPlain from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm?url';
import wasmSimd from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm?url';
import wasmThreaded from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-threaded-simd.wasm?url';

// Without this the wasm backend looks for its binaries next to the page, 404s, and tf.js falls
// back to cpu without saying so.
setWasmPaths({
  'tfjs-backend-wasm.wasm': wasmPlain,
  'tfjs-backend-wasm-simd.wasm': wasmSimd,
  'tfjs-backend-wasm-threaded-simd.wasm': wasmThreaded,
});

export type BrowserBackend = 'webgpu' | 'webgl' | 'wasm' | 'cpu';
export const BROWSER_BACKENDS: readonly BrowserBackend[] = ['webgpu', 'webgl', 'wasm', 'cpu'];

export interface BackendTrial {
  name: BrowserBackend;
  ok: boolean;
  /** Median ms of the benchmark (when measured). */
  ms?: number;
  detail: string;
}

export interface BackendReport {
  backend: BrowserBackend;
  /** How it was chosen. */
  how: 'measured' | 'remembered' | 'requested';
  trials: BackendTrial[];
  /** ms spent choosing (measurement included). */
  ms: number;
}

const STORE_KEY = 'cnn-xai.backend.v1';

function reasonOf(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  return (msg.split('\n')[0] ?? msg).slice(0, 200);
}

/** Starts one backend and makes it active. */
async function use(name: BrowserBackend): Promise<string> {
  if (name === 'webgpu') {
    // core's selector imports the webgpu backend by a bare name, which a browser cannot resolve,
    // so the bundled module is registered here and set directly.
    const gpu = (navigator as unknown as { gpu?: { requestAdapter(): Promise<unknown> } }).gpu;
    if (!gpu) throw new Error('this browser has no navigator.gpu');
    if (!(await gpu.requestAdapter())) throw new Error('no GPU adapter');
    await import('@tensorflow/tfjs-backend-webgpu');
    if (!(await tf.setBackend('webgpu'))) throw new Error('tf.setBackend returned false');
    await tf.ready();
    return 'navigator.gpu';
  }
  if (name === 'webgl') await import('@tensorflow/tfjs-backend-webgl');
  const choice = await selectBackend(name as BackendName);
  return choice.attempts.at(-1)?.detail ?? name;
}

/** A small conv forward+backward, the shape of work every gradient explainer does. Median ms of 3 warm runs. */
async function bench(): Promise<number> {
  const [x, w1, w2] = tf.tidy(() => [
    tf.randomUniform([1, 28, 28, 1], 0, 1, 'float32', 1),
    tf.randomNormal([3, 3, 1, 16], 0, 0.3, 'float32', 2),
    tf.randomNormal([3, 3, 16, 32], 0, 0.3, 'float32', 3),
  ]) as [tf.Tensor4D, tf.Tensor4D, tf.Tensor4D];
  const f = (v: tf.Tensor): tf.Scalar => {
    const a = tf.relu(tf.conv2d(v as tf.Tensor4D, w1, 1, 'same'));
    const b = tf.relu(tf.conv2d(tf.maxPool(a, 2, 2, 'valid'), w2, 1, 'same'));
    return tf.sum(b);
  };
  const g = tf.grad(f);
  const once = async (): Promise<number> => {
    const t0 = performance.now();
    const r = tf.tidy(() => g(x));
    await r.data();
    r.dispose();
    return performance.now() - t0;
  };
  try {
    await once(); // compiles shaders / warms caches
    const times = [await once(), await once(), await once()].sort((a, b) => a - b);
    return times[1] as number;
  } finally {
    tf.dispose([x, w1, w2]);
  }
}

function stored(): { backend: BrowserBackend; trials: BackendTrial[] } | null {
  try {
    const v = JSON.parse(localStorage.getItem(STORE_KEY) ?? 'null') as { backend?: string; trials?: BackendTrial[] } | null;
    if (v && BROWSER_BACKENDS.includes(v.backend as BrowserBackend)) return { backend: v.backend as BrowserBackend, trials: v.trials ?? [] };
  } catch {
    /* storage disabled */
  }
  return null;
}

function remember(backend: BrowserBackend, trials: BackendTrial[]): void {
  try {
    localStorage.setItem(STORE_KEY, JSON.stringify({ backend, trials }));
  } catch {
    /* storage disabled */
  }
}

/** Forgets the measured choice; the next page load measures again. */
export function forgetBackend(): void {
  try {
    localStorage.removeItem(STORE_KEY);
  } catch {
    /* storage disabled */
  }
}

/** Remembers a backend the reader picked (the next page loads use it). */
export function preferBackend(name: BrowserBackend): void {
  remember(name, stored()?.trials ?? []);
}

/** The WebGL renderer string, e.g. "ANGLE (..., SwiftShader Device ...)", or null without WebGL. */
function webglRenderer(): string | null {
  try {
    const canvas = document.createElement('canvas');
    const gl = (canvas.getContext('webgl2') ?? canvas.getContext('webgl')) as WebGLRenderingContext | null;
    if (!gl) return null;
    const info = gl.getExtension('WEBGL_debug_renderer_info');
    const name = String(gl.getParameter(info ? info.UNMASKED_RENDERER_WEBGL : gl.RENDERER));
    gl.getExtension('WEBGL_lose_context')?.loseContext();
    return name;
  } catch {
    return null;
  }
}

/** Renderers that emulate a GPU on the CPU: slower than wasm for these networks (TOOLCHAIN.md measured 5-15x). */
const SOFTWARE = /swiftshader|llvmpipe|softpipe|software|basic render driver/i;

async function softwareGpu(name: BrowserBackend): Promise<string | null> {
  if (name === 'webgl') {
    const r = webglRenderer();
    return r && SOFTWARE.test(r) ? r : null;
  }
  if (name === 'webgpu') {
    type Adapter = { info?: { vendor?: string; architecture?: string; description?: string; isFallbackAdapter?: boolean }; isFallbackAdapter?: boolean };
    const gpu = (navigator as unknown as { gpu?: { requestAdapter(): Promise<Adapter | null> } }).gpu;
    const adapter = gpu ? await gpu.requestAdapter() : null;
    if (!adapter) return null; // use() reports it
    const info = adapter.info ?? {};
    const text = `${info.vendor ?? ''} ${info.architecture ?? ''} ${info.description ?? ''}`.trim();
    return info.isFallbackAdapter || adapter.isFallbackAdapter || SOFTWARE.test(text) ? text || 'fallback adapter' : null;
  }
  return null;
}

/**
 * Times every backend that starts and keeps the fastest. Two shortcuts keep the first visit quick:
 * a GPU backend running on a software renderer is skipped (it loses to wasm), and cpu is only
 * timed when wasm did not start (wasm runs the same kernels compiled to SIMD code).
 * `?measure=all` times everything.
 */
async function measure(): Promise<{ backend: BrowserBackend; trials: BackendTrial[] }> {
  const all = new URLSearchParams(location.search).get('measure') === 'all';
  const trials: BackendTrial[] = [];
  for (const name of BROWSER_BACKENDS) {
    try {
      if (!all) {
        const soft = await softwareGpu(name);
        if (soft) {
          trials.push({ name, ok: false, detail: `skipped: software renderer (${soft.slice(0, 80)})` });
          continue;
        }
        if (name === 'cpu' && trials.some((t) => t.name === 'wasm' && t.ok)) {
          trials.push({ name, ok: false, detail: 'skipped: wasm works' });
          continue;
        }
      }
      const detail = await use(name);
      const ms = await bench();
      trials.push({ name, ok: true, ms, detail });
    } catch (e) {
      trials.push({ name, ok: false, detail: reasonOf(e) });
    }
  }
  const ok = trials.filter((t) => t.ok).sort((a, b) => (a.ms as number) - (b.ms as number));
  const best = ok[0];
  if (!best) throw new Error(`No TensorFlow.js backend could start: ${trials.map((t) => `${t.name}: ${t.detail}`).join('; ')}`);
  if (tf.getBackend() !== best.name) await use(best.name);
  return { backend: best.name, trials };
}

let chosen: Promise<BackendReport> | null = null;

/**
 * Picks the backend once per page (every demo on the page shares it): the one named in
 * `?backend=`, else the one remembered from an earlier visit, else the fastest by measurement.
 */
export function pickBackend(): Promise<BackendReport> {
  chosen ??= (async () => {
    const t0 = performance.now();
    const requested = new URLSearchParams(location.search).get('backend');
    if (requested && BROWSER_BACKENDS.includes(requested as BrowserBackend)) {
      const name = requested as BrowserBackend;
      try {
        const detail = await use(name);
        return { backend: name, how: 'requested', trials: [{ name, ok: true, detail }], ms: performance.now() - t0 };
      } catch (e) {
        console.warn(`cnn-xai: backend ${name} could not start (${reasonOf(e)}); measuring instead`);
      }
    }
    const known = stored();
    if (known) {
      try {
        await use(known.backend);
        return { backend: known.backend, how: 'remembered', trials: known.trials, ms: performance.now() - t0 };
      } catch {
        forgetBackend();
      }
    }
    const m = await measure();
    remember(m.backend, m.trials);
    return { backend: m.backend, how: 'measured', trials: m.trials, ms: performance.now() - t0 };
  })();
  return chosen;
}

/** A one-line description for status bars: "wasm (measured: wasm 5 ms, webgl 60 ms, cpu 20 ms)". */
export function describeBackend(r: BackendReport): string {
  const timings = r.trials
    .filter((t) => t.ok && t.ms !== undefined)
    .map((t) => `${t.name} ${(t.ms as number).toFixed(1)} ms`)
    .join(', ');
  const failed = r.trials.filter((t) => !t.ok).map((t) => `${t.name}: ${t.detail}`);
  const how = r.how === 'requested' ? 'requested in the URL' : r.how === 'remembered' ? 'remembered from an earlier measurement' : 'measured';
  return `${r.backend} (${how}${timings ? `; conv forward+backward: ${timings}` : ''}${failed.length ? `; unavailable: ${failed.join('; ')}` : ''})`;
}
