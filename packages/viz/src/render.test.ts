import { describe, expect, it } from 'vitest';
import { colormap } from './colormaps.js';
import { colorbar, overlay, renderHeatmap, tile } from './render.js';
import type { Image } from './render.js';

function pixel(data: ArrayLike<number>, width: number, x: number, y: number): number[] {
  const o = (y * width + x) * 4;
  return [data[o]!, data[o + 1]!, data[o + 2]!, data[o + 3]!];
}

function solid(width: number, height: number, rgba: number[]): { data: Uint8ClampedArray; width: number; height: number } {
  const data = new Uint8ClampedArray(width * height * 4);
  for (let p = 0; p < width * height; p++) data.set(rgba, p * 4);
  return { data, width, height };
}

describe('renderHeatmap', () => {
  it('colours absolute values with inferno by default, opaque RGBA', () => {
    const out = renderHeatmap([0, 1, -2, 2], 2, 2, { clipPercentile: 100 });
    expect(out).toBeInstanceOf(Uint8ClampedArray);
    expect(out.length).toBe(2 * 2 * 4);
    const inferno = colormap('inferno');
    expect(pixel(out, 2, 0, 0)).toEqual([...inferno(0), 255]);
    expect(pixel(out, 2, 1, 0)).toEqual([...inferno(0.5), 255]);
    expect(pixel(out, 2, 0, 1)).toEqual([...inferno(1), 255]);
    expect(pixel(out, 2, 1, 1)).toEqual([...inferno(1), 255]);
  });

  it('uses coolwarm for signed maps with zero at the neutral middle', () => {
    const out = renderHeatmap([-2, 0, 2, 1], 4, 1, { mode: 'signed', clipPercentile: 100 });
    const cw = colormap('coolwarm');
    expect(pixel(out, 4, 0, 0)).toEqual([...cw(0), 255]);
    expect(pixel(out, 4, 1, 0)).toEqual([...cw(0.5), 255]);
    expect(pixel(out, 4, 2, 0)).toEqual([...cw(1), 255]);
    expect(pixel(out, 4, 3, 0)).toEqual([...cw(0.75), 255]);
    expect(pixel(out, 4, 1, 0).slice(0, 3).every((c) => Math.abs(c - 221) <= 2)).toBe(true);
  });

  it('honours the colormap option and the positive mode', () => {
    const out = renderHeatmap([-1, 0.5, 1], 3, 1, { mode: 'positive', colormap: 'gray', clipPercentile: 100 });
    expect(pixel(out, 3, 0, 0)).toEqual([0, 0, 0, 255]);
    expect(pixel(out, 3, 1, 0)).toEqual([128, 128, 128, 255]);
    expect(pixel(out, 3, 2, 0)).toEqual([255, 255, 255, 255]);
  });

  it('rejects a map that does not match the size', () => {
    expect(() => renderHeatmap([1, 2, 3], 2, 2)).toThrow(RangeError);
  });
});

describe('overlay', () => {
  const rgb: Image = { data: Uint8Array.from([10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 110, 120]), width: 2, height: 2, channels: 3 };

  it('returns the image unchanged when alpha is 0', () => {
    const out = overlay(rgb, [1, -3, 0.5, 2], 2, 2, { alpha: 0, mode: 'signed' });
    expect(out.width).toBe(2);
    expect(out.height).toBe(2);
    expect([...out.data]).toEqual([10, 20, 30, 255, 40, 50, 60, 255, 70, 80, 90, 255, 100, 110, 120, 255]);
  });

  it('leaves pixels without attribution untouched and paints full attributions at alpha', () => {
    const out = overlay(rgb, [0, 4, 0, 2], 2, 2, { alpha: 1, colormap: 'viridis', clipPercentile: 100 });
    expect(pixel(out.data, 2, 0, 0)).toEqual([10, 20, 30, 255]); // w = 0
    expect(pixel(out.data, 2, 1, 0)).toEqual([...colormap('viridis')(1), 255]); // w = 1, alpha = 1
    expect(pixel(out.data, 2, 0, 1)).toEqual([70, 80, 90, 255]);
    // w = 0.5, alpha = 1: half image, half heat.
    const heat = colormap('viridis')(0.5);
    const expected = [100, 110, 120].map((c, i) => Math.round(0.5 * c + 0.5 * heat[i]!));
    pixel(out.data, 2, 1, 1)
      .slice(0, 3)
      .forEach((c, i) => expect(Math.abs(c - expected[i]!)).toBeLessThanOrEqual(1));
  });

  it('uses alpha * |display value| as the weight, default alpha 0.5', () => {
    const grey: Image = { data: [100], width: 1, height: 1, channels: 1 };
    const out = overlay(grey, [-5], 1, 1, { mode: 'signed', colormap: 'gray' });
    // display -1 -> t = 0 (black), w = 1, weight 0.5: 0.5 * 100 + 0.5 * 0.
    expect([...out.data]).toEqual([50, 50, 50, 255]);
  });

  it("turns a grey image into RGB and keeps an RGBA image's alpha", () => {
    const grey: Image = { data: new Uint8Array([7, 200]), width: 2, height: 1, channels: 1 };
    expect([...overlay(grey, [0, 0], 2, 1).data]).toEqual([7, 7, 7, 255, 200, 200, 200, 255]);
    const rgba: Image = { data: [1, 2, 3, 128, 4, 5, 6, 0], width: 2, height: 1, channels: 4 };
    expect([...overlay(rgba, [0, 0], 2, 1).data]).toEqual([1, 2, 3, 128, 4, 5, 6, 0]);
  });

  it('enlarges the output by an integer scale with nearest neighbour', () => {
    const map = [0, 1, 2, 3];
    const base = overlay(rgb, map, 2, 2, { alpha: 0.7 });
    const big = overlay(rgb, map, 2, 2, { alpha: 0.7, scale: 3 });
    expect(big.width).toBe(6);
    expect(big.height).toBe(6);
    expect(big.data.length).toBe(6 * 6 * 4);
    for (let y = 0; y < 6; y++) {
      for (let x = 0; x < 6; x++) {
        expect(pixel(big.data, 6, x, y)).toEqual(pixel(base.data, 2, Math.floor(x / 3), Math.floor(y / 3)));
      }
    }
  });

  it('resizes a smaller map bilinearly to the image size', () => {
    // Map [0, 1] over a 4x1 grey image: display [0, 1] resized with half-pixel centres -> [0, 0.25, 0.75, 1].
    const img: Image = { data: [100, 100, 100, 100], width: 4, height: 1, channels: 1 };
    const out = overlay(img, [0, 1], 2, 1, { alpha: 1, colormap: 'gray', clipPercentile: 100 });
    expect(out.width).toBe(4);
    expect(out.height).toBe(1);
    // out = (1 - w) * 100 + w * gray(w), gray LUT entry round(w * 255):
    // w = 0.25 -> 75 + 0.25 * 64 = 91; w = 0.75 -> 25 + 0.75 * 191 = 168.25; w = 1 -> 255.
    expect([0, 1, 2, 3].map((x) => pixel(out.data, 4, x, 0)[0])).toEqual([100, 91, 168, 255]);
  });

  it('rejects inconsistent input', () => {
    expect(() => overlay({ ...rgb, data: [1, 2, 3] }, [0, 0, 0, 0], 2, 2)).toThrow(/image data/);
    expect(() => overlay(rgb, [0, 0, 0], 2, 2)).toThrow(/map has 3/);
    expect(() => overlay(rgb, [0, 0, 0, 0], 2, 2, { alpha: 1.5 })).toThrow(/alpha/);
    expect(() => overlay(rgb, [0, 0, 0, 0], 2, 2, { scale: 1.5 })).toThrow(/scale/);
    expect(() => overlay({ ...rgb, channels: 2 as 3 }, [0, 0, 0, 0], 2, 2)).toThrow(/channels/);
  });
});

describe('colorbar', () => {
  it('runs from t = 0 on the left to t = 1 on the right, same on every row', () => {
    const out = colorbar('viridis', 11, 3);
    expect(out.length).toBe(11 * 3 * 4);
    const f = colormap('viridis');
    for (let y = 0; y < 3; y++) {
      expect(pixel(out, 11, 0, y)).toEqual([...f(0), 255]);
      expect(pixel(out, 11, 5, y)).toEqual([...f(0.5), 255]);
      expect(pixel(out, 11, 10, y)).toEqual([...f(1), 255]);
    }
    expect(() => colorbar('gray', 0, 3)).toThrow(RangeError);
  });
});

describe('tile', () => {
  const red = solid(2, 2, [255, 0, 0, 255]);
  const blue = solid(3, 1, [0, 0, 255, 255]);

  it('places images side by side with a gap of background colour', () => {
    const out = tile([red, blue], { gap: 1, background: [0, 255, 0] });
    expect(out.width).toBe(2 + 1 + 3);
    expect(out.height).toBe(2);
    expect(pixel(out.data, 6, 0, 0)).toEqual([255, 0, 0, 255]);
    expect(pixel(out.data, 6, 1, 1)).toEqual([255, 0, 0, 255]);
    expect(pixel(out.data, 6, 2, 0)).toEqual([0, 255, 0, 255]); // gap
    expect(pixel(out.data, 6, 3, 0)).toEqual([0, 0, 255, 255]); // blue, top of its cell
    expect(pixel(out.data, 6, 5, 0)).toEqual([0, 0, 255, 255]);
    expect(pixel(out.data, 6, 3, 1)).toEqual([0, 255, 0, 255]); // below the shorter image
  });

  it('wraps into rows with columns, centring smaller images, default gap 4 on white', () => {
    const out = tile([red, blue, red], { columns: 2 });
    expect(out.width).toBe(2 + 4 + 3);
    expect(out.height).toBe(2 + 4 + 2);
    expect(pixel(out.data, out.width, 0, 6)).toEqual([255, 0, 0, 255]); // third image, second row
    expect(pixel(out.data, out.width, 2, 0)).toEqual([255, 255, 255, 255]); // gap
    expect(pixel(out.data, out.width, 6, 6)).toEqual([255, 255, 255, 255]); // empty cell
    const stacked = tile([blue, red], { columns: 1, gap: 0 });
    expect(stacked.width).toBe(3);
    expect(stacked.height).toBe(3);
    // red (2 wide) centred in a 3-wide column: floor((3 - 2) / 2) = 0 offset, so x = 0..1 red, x = 2 background.
    expect(pixel(stacked.data, 3, 0, 1)).toEqual([255, 0, 0, 255]);
    expect(pixel(stacked.data, 3, 2, 1)).toEqual([255, 255, 255, 255]);
  });

  it('rejects no images or malformed ones', () => {
    expect(() => tile([])).toThrow(RangeError);
    expect(() => tile([{ data: new Uint8ClampedArray(3), width: 1, height: 1 }])).toThrow(/RGBA/);
    expect(() => tile([red], { gap: -1 })).toThrow(/gap/);
  });
});
