import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-core/dist/public/chained_ops/register_all_chained_ops';
import { beforeAll, describe, expect, it } from 'vitest';
import { countTensors } from '../../../testing/src/index.js';
import { selectBackend } from '../backend.js';
import { AbortError, CnnXaiError } from '../errors.js';
import { batchRanges, mapBatches, yieldToEventLoop } from './batch.js';

describe('batchRanges', () => {
  it('splits [0, total) into consecutive ranges of at most size', () => {
    expect(batchRanges(10, 4)).toEqual([[0, 4], [4, 8], [8, 10]]);
    expect(batchRanges(8, 4)).toEqual([[0, 4], [4, 8]]);
    expect(batchRanges(3, 10)).toEqual([[0, 3]]);
    expect(batchRanges(0, 4)).toEqual([]);
    expect(batchRanges(3, 0)).toEqual([[0, 1], [1, 2], [2, 3]]);
    expect(batchRanges(5, 2.7)).toEqual([[0, 2], [2, 4], [4, 5]]);
  });
});

describe('mapBatches', () => {
  beforeAll(async () => {
    await selectBackend('wasm');
  });

  it('concatenates the batches in order and frees the parts', async () => {
    const calls: Array<[number, number]> = [];
    const progress: number[] = [];
    const before = countTensors();
    const out = await mapBatches(
      7,
      3,
      (s, e) => {
        calls.push([s, e]);
        return tf.tidy(() => tf.range(s, e).reshape([e - s, 1]).mul(2));
      },
      { progress: (f) => progress.push(f) },
    );
    expect(calls).toEqual([[0, 3], [3, 6], [6, 7]]);
    expect(out.shape).toEqual([7, 1]);
    expect(Array.from(out.dataSync())).toEqual([0, 2, 4, 6, 8, 10, 12]);
    expect(progress).toEqual([3 / 7, 6 / 7, 1]);
    out.dispose();
    expect(countTensors()).toBe(before);
  });

  it('a single batch is returned as is', async () => {
    const t = tf.ones([2, 2]);
    const out = await mapBatches(2, 8, () => t);
    expect(out).toBe(t);
    t.dispose();
  });

  it('stops when aborted, throws ABORTED and leaks nothing', async () => {
    const controller = new AbortController();
    let calls = 0;
    const before = countTensors();
    const run = mapBatches(
      10,
      2,
      () => {
        calls++;
        if (calls === 2) controller.abort();
        return tf.ones([2, 3]);
      },
      {
        throwIfAborted: () => {
          if (controller.signal.aborted) throw new AbortError('test');
        },
      },
    );
    await expect(run).rejects.toMatchObject({ code: 'ABORTED' });
    expect(calls).toBe(2);
    expect(countTensors()).toBe(before);
  });

  it('frees the finished parts when the function throws', async () => {
    const before = countTensors();
    let calls = 0;
    await expect(
      mapBatches(6, 2, () => {
        if (++calls === 3) throw new CnnXaiError('BAD_INPUT_SHAPE', 'boom');
        return tf.zeros([2]);
      }),
    ).rejects.toThrow('boom');
    expect(countTensors()).toBe(before);
  });

  it('yields to the event loop between batches (an abort from a timer gets through)', async () => {
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 0);
    let calls = 0;
    const before = countTensors();
    await expect(
      mapBatches(
        1000,
        1,
        () => {
          calls++;
          return tf.zeros([1]);
        },
        { throwIfAborted: () => controller.signal.throwIfAborted() },
      ),
    ).rejects.toBeDefined();
    expect(calls).toBeLessThan(1000);
    expect(countTensors()).toBe(before);
    await yieldToEventLoop();
  });
});
