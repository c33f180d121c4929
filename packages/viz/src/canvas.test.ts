import { afterEach, describe, expect, it } from 'vitest';
import { toImageData } from './canvas.js';

class FakeImageData {
  constructor(
    readonly data: Uint8ClampedArray,
    readonly width: number,
    readonly height: number,
  ) {}
}

const g = globalThis as { ImageData?: unknown };

describe('toImageData', () => {
  afterEach(() => {
    delete g.ImageData;
  });

  it('fails with a clear message where there is no ImageData (Node)', () => {
    expect(g.ImageData).toBeUndefined();
    expect(() => toImageData(new Uint8ClampedArray(4), 1, 1)).toThrow(/ImageData is not available/);
  });

  it('constructs ImageData over the same bytes when called in a DOM-like environment', () => {
    g.ImageData = FakeImageData;
    const rgba = new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]);
    const img = toImageData(rgba, 2, 1) as unknown as FakeImageData;
    expect(img).toBeInstanceOf(FakeImageData);
    expect(img.width).toBe(2);
    expect(img.height).toBe(1);
    expect(img.data).toBeInstanceOf(Uint8ClampedArray);
    expect([...img.data]).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    rgba[0] = 42; // shared, not copied
    expect(img.data[0]).toBe(42);
  });

  it('checks the size', () => {
    g.ImageData = FakeImageData;
    expect(() => toImageData(new Uint8ClampedArray(7), 2, 1)).toThrow(RangeError);
    expect(() => toImageData(new Uint8ClampedArray(0), 0, 0)).toThrow(RangeError);
  });
});
