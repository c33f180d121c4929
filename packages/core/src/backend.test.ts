import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { defaultOrder, isCnnXaiError, selectBackend } from './index.js';

describe('selectBackend', () => {
  it('tries the Node order and reports why each skipped backend failed', async () => {
    expect(defaultOrder()).toEqual(['tensorflow', 'webgpu', 'wasm', 'cpu']);
    const choice = await selectBackend('auto');
    // On a machine without tfjs-node and without a GPU adapter the first usable backend is wasm;
    // where tfjs-node or a GPU exists, an earlier one wins and is reported as ok.
    const chosen = choice.attempts[choice.attempts.length - 1];
    expect(chosen?.ok).toBe(true);
    expect(chosen?.name).toBe(choice.backend);
    expect(tf.getBackend()).toBe(choice.backend);
    for (const failed of choice.attempts.slice(0, -1)) {
      expect(failed.ok).toBe(false);
      expect(failed.detail.length).toBeGreaterThan(5);
    }
    if (choice.backend === 'wasm') {
      const tfAttempt = choice.attempts.find((a) => a.name === 'tensorflow');
      expect(tfAttempt?.detail).toMatch(/tfjs-node-gpu: .*; @tensorflow\/tfjs-node: /);
    }
  });

  it('an explicit backend is used, and tensors computed on it are right', async () => {
    for (const name of ['cpu', 'wasm'] as const) {
      const c = await selectBackend(name);
      expect(c.backend).toBe(name);
      expect(tf.getBackend()).toBe(name);
      const y = tf.matMul(tf.tensor2d([[1, 2]]), tf.tensor2d([[3], [4]]));
      expect(y.dataSync()[0]).toBe(11);
      y.dispose();
    }
  });

  it('a single unavailable backend is a typed error with the reason; unknown names list the choices', async () => {
    await expect(selectBackend('webgl')).rejects.toSatisfy(
      (e: unknown) => isCnnXaiError(e, 'BACKEND_UNAVAILABLE') && /webgl: not available in Node/.test((e as Error).message),
    );
    await expect(selectBackend('metal' as never)).rejects.toSatisfy(
      (e: unknown) => isCnnXaiError(e, 'BACKEND_UNAVAILABLE') && /tensorflow, webgpu, webgl, wasm, cpu/.test((e as Error).message),
    );
  });

  it('a list falls through failures to the next backend', async () => {
    const c = await selectBackend(['webgl', 'cpu']);
    expect(c.backend).toBe('cpu');
    expect(c.attempts.map((a) => [a.name, a.ok])).toEqual([
      ['webgl', false],
      ['cpu', true],
    ]);
  });
});
