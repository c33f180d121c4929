import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeNpy, parseNpy } from '@cnn-xai/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { npyBatchShape } from './inputs.js';
import { readNpyFile, writeNpyFile } from './npy.js';

const PYTHON = '/usr/bin/python3';
const hasNumpy = existsSync(PYTHON) && spawnSync(PYTHON, ['-c', 'import numpy'], { stdio: 'ignore' }).status === 0;

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cnn-xai-npy-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const ramp = (n: number): Float32Array => Float32Array.from({ length: n }, (_, i) => (i - n / 3) * 0.125 + 1e-7 * i);

describe('.npy files', () => {
  it('round-trips float32 arrays of rank 1 to 4 through encode and parse', () => {
    for (const shape of [[5], [3, 4], [2, 3, 4], [2, 28, 28, 1]]) {
      const n = shape.reduce((a, b) => a * b, 1);
      const data = ramp(n);
      const bytes = encodeNpy(data, shape);
      expect((bytes.length - data.byteLength) % 64).toBe(0); // header padded to 64 bytes
      const back = parseNpy(bytes);
      expect(back.dtype).toBe('float32');
      expect(back.shape).toEqual(shape);
      expect(Array.from(back.data as Float32Array)).toEqual(Array.from(data));
    }
  });

  it('round-trips through files and rejects data that does not fill the shape', async () => {
    const path = join(dir, 'sub', 'a.npy');
    await writeNpyFile(path, ramp(24), [2, 3, 4]);
    const back = await readNpyFile(path);
    expect(back.shape).toEqual([2, 3, 4]);
    expect(Array.from(back.data)).toEqual(Array.from(ramp(24)));
    await expect(writeNpyFile(path, ramp(5), [2, 3])).rejects.toThrow(/holds 6 values/);
  });

  it.skipIf(!hasNumpy)(`NumPy reads what we write and we read what NumPy writes (${hasNumpy ? 'numpy found' : `skipped: ${PYTHON} cannot import numpy`})`, async () => {
    const ours = join(dir, 'ours.npy');
    const theirs = join(dir, 'theirs.npy');
    const data = ramp(2 * 5 * 3);
    await writeFile(ours, encodeNpy(data, [2, 5, 3]));
    const script = [
      'import numpy as np, sys',
      `a = np.load(${JSON.stringify(ours)})`,
      'assert a.dtype == np.float32 and a.shape == (2, 5, 3), (a.dtype, a.shape)',
      'print(repr(a.astype(np.float64).ravel().tolist()))',
      `b = np.arange(24, dtype=np.float64).reshape(2, 3, 4) / 7 - 1`,
      `np.save(${JSON.stringify(theirs)}, b.astype(np.float32))`,
      `np.save(${JSON.stringify(join(dir, 'f8.npy'))}, b)`,
    ].join('\n');
    const out = execFileSync(PYTHON, ['-c', script], { encoding: 'utf8' });
    const values = JSON.parse(out) as number[];
    expect(values).toEqual(Array.from(data));
    const expected = Array.from({ length: 24 }, (_, i) => Math.fround(i / 7 - 1));
    const a = await readNpyFile(theirs);
    expect(a.shape).toEqual([2, 3, 4]);
    expect(a.dtype).toBe('float32');
    expect(Array.from(a.data)).toEqual(expected);
    const b = await readNpyFile(join(dir, 'f8.npy'));
    expect(b.dtype).toBe('float64');
    expect(Array.from(b.data)).toEqual(expected);
  });
});

describe('.npy input shapes', () => {
  const grey = [28, 28, 1] as const;
  it('takes (N,H,W,C) and (H,W,C) as they are, and (N,H,W) or (H,W) for 1-channel models', () => {
    expect(npyBatchShape('x.npy', [3, 28, 28, 1], grey)).toEqual([3, 28, 28, 1]);
    expect(npyBatchShape('x.npy', [28, 28, 1], grey)).toEqual([1, 28, 28, 1]);
    expect(npyBatchShape('x.npy', [5, 28, 28], grey)).toEqual([5, 28, 28, 1]);
    expect(npyBatchShape('x.npy', [28, 28], grey)).toEqual([1, 28, 28, 1]);
    expect(npyBatchShape('x.npy', [2, 32, 32, 3], [32, 32, 3])).toEqual([2, 32, 32, 3]);
    expect(npyBatchShape('x.npy', [2, 40, 40, 3], [null, null, 3])).toEqual([2, 40, 40, 3]);
  });

  it('rejects other shapes with BAD_INPUT_SHAPE naming both shapes', () => {
    expect(() => npyBatchShape('x.npy', [2, 20, 20, 1], grey)).toThrow(/\(2, 20, 20, 1\) but the model takes \(N, 28, 28, 1\)/);
    expect(() => npyBatchShape('x.npy', [2, 32, 32], [32, 32, 3])).toThrow(expect.objectContaining({ code: 'BAD_INPUT_SHAPE' }));
  });
});
