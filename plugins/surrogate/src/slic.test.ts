import { describe, expect, it } from 'vitest';
import { createRandom } from '@cnn-xai/core';
import { enforceConnectivity, seedGrid, slic, toLab } from './slic.js';

/** A smooth colour image [H, W, 3] in [0, 1]: a few random Gaussian blobs per channel. */
function blobImage(h: number, w: number, seed: number): Float32Array {
  const r = createRandom(seed);
  const blobs = Array.from({ length: 8 }, () => ({ y: r.next() * h, x: r.next() * w, s: 3 + r.next() * 8, c: [r.next(), r.next(), r.next()] }));
  const out = new Float32Array(h * w * 3);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      for (let k = 0; k < 3; k++) {
        let v = 0.1;
        for (const b of blobs) v += (b.c[k] as number) * Math.exp(-((y - b.y) ** 2 + (x - b.x) ** 2) / (2 * b.s * b.s));
        out[(y * w + x) * 3 + k] = Math.min(1, v);
      }
    }
  }
  return out;
}

/** Every label 0..count-1 is used and each label's pixels form one 4-connected region. */
function expectConnectedSegments(labels: Int32Array, count: number, h: number, w: number): void {
  const size = new Array<number>(count).fill(0);
  const outside = labels.findIndex((l) => !(l >= 0 && l < count));
  expect(outside, `label ${labels[outside]} outside 0..${count - 1}`).toBe(-1);
  for (const l of labels) size[l] = (size[l] as number) + 1;
  expect(size.every((s) => s > 0), 'every label is used').toBe(true);
  const seen = new Uint8Array(h * w);
  for (let l = 0; l < count; l++) {
    const start = labels.indexOf(l);
    const stack = [start];
    seen[start] = 1;
    let reached = 0;
    while (stack.length) {
      const p = stack.pop() as number;
      reached++;
      const y = Math.floor(p / w);
      const x = p % w;
      for (const [dy, dx] of [[0, 1], [1, 0], [0, -1], [-1, 0]] as const) {
        const yy = y + dy;
        const xx = x + dx;
        const q = yy * w + xx;
        if (yy >= 0 && yy < h && xx >= 0 && xx < w && !seen[q] && labels[q] === l) {
          seen[q] = 1;
          stack.push(q);
        }
      }
    }
    expect(reached, `segment ${l} is not connected`).toBe(size[l]);
  }
}

describe('SLIC superpixels', () => {
  it('converts sRGB to CIELAB (D65): white, black, red, mid gray', () => {
    const { data, depth } = toLab([1, 1, 1, 0, 0, 0, 1, 0, 0, 0.5, 0.5, 0.5], 1, 4, 3);
    expect(depth).toBe(3);
    const at = (i: number): number[] => Array.from(data.subarray(i * 3, i * 3 + 3));
    // The min-max scaling keeps [0, 1] images as they are.
    expect(at(0)[0]).toBeCloseTo(100, 3);
    expect(Math.abs(at(0)[1] as number) + Math.abs(at(0)[2] as number)).toBeLessThan(0.01);
    expect(at(1)).toEqual([0, 0, 0]);
    // Pure red: L 53.24, a 80.09, b 67.20 (the usual sRGB/D65 table value).
    expect(at(2)[0]).toBeCloseTo(53.24, 1);
    expect(at(2)[1]).toBeCloseTo(80.09, 1);
    expect(at(2)[2]).toBeCloseTo(67.2, 1);
    expect(at(3)[0]).toBeCloseTo(53.39, 1);
    // Grayscale gives lightness only.
    const gray = toLab([0, 0.5, 1], 1, 3, 1);
    expect(gray.depth).toBe(1);
    expect(Array.from(gray.data).map((v) => Math.round(v * 100) / 100)).toEqual([0, 53.39, 100]);
  });

  it('seeds a grid of about the requested number of cells', () => {
    expect(seedGrid(28, 28, 16)).toEqual({ rows: 4, cols: 4 });
    expect(seedGrid(28, 28, 50)).toEqual({ rows: 7, cols: 7 });
    expect(seedGrid(20, 40, 8)).toEqual({ rows: 2, cols: 4 });
    expect(seedGrid(4, 4, 1000)).toEqual({ rows: 4, cols: 4 });
  });

  it('makes about the requested number of connected segments and labels every pixel', () => {
    const h = 64;
    const w = 48;
    const img = blobImage(h, w, 1);
    for (const k of [10, 25, 50, 100]) {
      const { labels, count } = slic(img, h, w, 3, { segments: k, compactness: 10 });
      expect(labels.length).toBe(h * w);
      expect(count, `asked for ${k}, got ${count}`).toBeGreaterThanOrEqual(Math.floor(0.6 * k));
      expect(count, `asked for ${k}, got ${count}`).toBeLessThanOrEqual(Math.ceil(1.4 * k));
      expectConnectedSegments(labels, count, h, w);
    }
  });

  it('splits a two-colour image along the colour edge (vertical off the seed grid, and diagonal)', () => {
    const h = 30;
    const w = 30;
    const palette = [
      [0.1, 0.2, 0.7],
      [0.9, 0.8, 0.1],
    ];
    const cases: Array<[string, (y: number, x: number) => number, number[]]> = [
      ['vertical edge at column 13', (_y, x) => (x < 13 ? 0 : 1), [4, 9, 16, 25]],
      ['diagonal edge', (y, x) => (y + x > 33 ? 1 : 0), [9, 16, 25, 36]],
    ];
    for (const [what, colour, ks] of cases) {
      const img = new Float32Array(h * w * 3);
      for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) img.set(palette[colour(y, x)] as number[], (y * w + x) * 3);
      for (const k of ks) {
        const { labels, count } = slic(img, h, w, 3, { segments: k, compactness: 10 });
        const colours = Array.from({ length: count }, () => new Set<number>());
        for (let p = 0; p < h * w; p++) (colours[labels[p] as number] as Set<number>).add(colour(Math.floor(p / w), p % w));
        colours.forEach((s, l) => expect(s.size, `${what}, k=${k}: segment ${l} mixes both colours`).toBe(1));
        expectConnectedSegments(labels, count, h, w);
      }
    }
  });

  it('is deterministic and does not depend on the value range (grayscale 0..255 vs 0..1)', () => {
    const h = 28;
    const w = 28;
    const r = createRandom(4);
    const gray = Float32Array.from({ length: h * w }, (_, p) => Math.round(255 * Math.abs(Math.sin(p / 37) * Math.cos(p / 91)) * (0.9 + 0.1 * r.next())));
    const a = slic(gray, h, w, 1, { segments: 16, compactness: 10 });
    const b = slic(gray, h, w, 1, { segments: 16, compactness: 10 });
    expect(Array.from(a.labels)).toEqual(Array.from(b.labels));
    const unit = Float32Array.from(gray, (v) => v / 255);
    expect(Array.from(slic(unit, h, w, 1, { segments: 16, compactness: 10 }).labels)).toEqual(Array.from(a.labels));
    expectConnectedSegments(a.labels, a.count, h, w);
  });

  it('a constant image gives the seed grid; high compactness gives near-regular cells', () => {
    const h = 24;
    const w = 24;
    const { labels, count } = slic(new Float32Array(h * w * 3).fill(0.5), h, w, 3, { segments: 16, compactness: 10 });
    expect(count).toBe(16);
    // Each 6 x 6 grid cell centre belongs to a different segment.
    const centres = new Set<number>();
    for (let i = 0; i < 4; i++) for (let j = 0; j < 4; j++) centres.add(labels[(i * 6 + 3) * w + j * 6 + 3] as number);
    expect(centres.size).toBe(16);
  });

  it('enforces connectivity: split labels become separate segments, tiny pieces join the closest colour (or the larger neighbour)', () => {
    // 4 x 6, old labels: label 0 in two separate pieces, label 1 in between, one stray pixel of 2.
    // prettier-ignore
    const old = Int32Array.from([
      0, 0, 1, 1, 0, 0,
      0, 0, 1, 1, 0, 0,
      0, 0, 1, 2, 0, 0,
      0, 0, 1, 1, 0, 0,
    ]);
    const { labels, count } = enforceConnectivity(old, 4, 6, 2);
    // prettier-ignore
    expect(Array.from(labels)).toEqual([
      0, 0, 1, 1, 2, 2,
      0, 0, 1, 1, 2, 2,
      0, 0, 1, 2, 2, 2,
      0, 0, 1, 1, 2, 2,
    ]);
    expect(count).toBe(3);
    // Without colours the stray pixel joined the larger neighbour (8 pixels against 7); with
    // colours it joins the middle piece, whose colour it has.
    const colours = Float64Array.from(old, (v, p) => (v === 0 ? (p % 6 < 2 ? 0 : 50) : 20));
    const merged = enforceConnectivity(old, 4, 6, 2, { data: colours, depth: 1 });
    // prettier-ignore
    expect(Array.from(merged.labels)).toEqual([
      0, 0, 1, 1, 2, 2,
      0, 0, 1, 1, 2, 2,
      0, 0, 1, 1, 2, 2,
      0, 0, 1, 1, 2, 2,
    ]);
  });
});
