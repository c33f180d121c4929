import { describe, expect, it } from 'vitest';
import { createRandom } from './random.js';

describe('createRandom', () => {
  it('the same seed gives the same stream; another seed another', () => {
    const a = createRandom(42);
    const b = createRandom(42);
    const xs = Array.from({ length: 100 }, () => a.next());
    expect(Array.from({ length: 100 }, () => b.next())).toEqual(xs);
    const c = createRandom(43);
    expect(Array.from({ length: 100 }, () => c.next())).not.toEqual(xs);
    expect(createRandom(7).normalArray(50)).toEqual(createRandom(7).normalArray(50));
    expect(createRandom(7).seed).toBe(7);
  });

  it('next() is in [0, 1) and roughly uniform', () => {
    const r = createRandom(1);
    const counts = new Array<number>(10).fill(0);
    for (let i = 0; i < 10_000; i++) {
      const v = r.next();
      expect(v >= 0 && v < 1).toBe(true);
      counts[Math.floor(v * 10)]! += 1;
    }
    for (const c of counts) expect(Math.abs(c - 1000)).toBeLessThan(150);
  });

  it('normal() has mean ~0 and std ~1 over 1e4 samples, and normalArray scales', () => {
    const r = createRandom(3);
    const xs = Array.from({ length: 10_000 }, () => r.normal());
    const mean = xs.reduce((s, v) => s + v, 0) / xs.length;
    const std = Math.sqrt(xs.reduce((s, v) => s + (v - mean) ** 2, 0) / xs.length);
    expect(Math.abs(mean)).toBeLessThan(0.04);
    expect(Math.abs(std - 1)).toBeLessThan(0.03);
    // About 68% within one sigma.
    expect(Math.abs(xs.filter((v) => Math.abs(v) < 1).length / xs.length - 0.6827)).toBeLessThan(0.02);
    const ys = createRandom(4).normalArray(10_000, 5, 2);
    const m2 = ys.reduce((s, v) => s + v, 0) / ys.length;
    expect(m2).toBeGreaterThan(4.9);
    expect(m2).toBeLessThan(5.1);
  });

  it('uniformArray respects its range; int(n) covers [0, n)', () => {
    const u = createRandom(5).uniformArray(1000, -2, 3);
    expect(u).toBeInstanceOf(Float32Array);
    expect(Math.min(...u)).toBeGreaterThanOrEqual(-2);
    expect(Math.max(...u)).toBeLessThan(3);
    const r = createRandom(6);
    const seen = new Set(Array.from({ length: 500 }, () => r.int(7)));
    expect([...seen].sort()).toEqual([0, 1, 2, 3, 4, 5, 6]);
  });

  it('fork gives an independent, reproducible stream', () => {
    const a = createRandom(9);
    const fa = a.fork();
    const b = createRandom(9);
    const fb = b.fork();
    const xa = Array.from({ length: 20 }, () => fa.next());
    expect(Array.from({ length: 20 }, () => fb.next())).toEqual(xa);
    expect(Array.from({ length: 20 }, () => a.next())).not.toEqual(xa);
  });
});
