import { crc32 as zlibCrc32, inflateSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { crc32 } from './crc32.js';
import { encodePng, encodePngGray } from './node.js';
import { overlay } from './render.js';

interface Chunk {
  type: string;
  data: Uint8Array;
  crc: number;
}

interface Decoded {
  width: number;
  height: number;
  bitDepth: number;
  colorType: number;
  compression: number;
  filter: number;
  interlace: number;
  chunks: string[];
  pixels: Uint8Array;
}

const SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

/**
 * A deliberately small PNG reader for the tests: checks the signature and every chunk's CRC (with
 * node:zlib's crc32, independent of ours), reads IHDR, inflates the IDAT stream and undoes filter type 0.
 */
function decodePng(png: Uint8Array): Decoded {
  expect([...png.subarray(0, 8)]).toEqual(SIGNATURE);
  const view = new DataView(png.buffer, png.byteOffset, png.byteLength);
  const chunks: Chunk[] = [];
  let at = 8;
  while (at < png.length) {
    const length = view.getUint32(at);
    const type = String.fromCharCode(...png.subarray(at + 4, at + 8));
    const data = png.subarray(at + 8, at + 8 + length);
    const crc = view.getUint32(at + 8 + length);
    expect(crc, `CRC of ${type}`).toBe(zlibCrc32(png.subarray(at + 4, at + 8 + length)));
    chunks.push({ type, data, crc });
    at += 12 + length;
  }
  expect(at).toBe(png.length);
  const ihdr = chunks[0]!;
  expect(ihdr.type).toBe('IHDR');
  expect(ihdr.data.length).toBe(13);
  const h = new DataView(ihdr.data.buffer, ihdr.data.byteOffset, 13);
  const width = h.getUint32(0);
  const height = h.getUint32(4);
  const [bitDepth, colorType, compression, filter, interlace] = [...ihdr.data.subarray(8, 13)] as number[];
  const idat = Buffer.concat(chunks.filter((c) => c.type === 'IDAT').map((c) => c.data));
  const raw = new Uint8Array(inflateSync(idat));
  const bpp = colorType === 6 ? 4 : colorType === 0 ? 1 : Number.NaN;
  const rowBytes = width * bpp;
  expect(raw.length).toBe((rowBytes + 1) * height);
  const pixels = new Uint8Array(rowBytes * height);
  for (let y = 0; y < height; y++) {
    const o = y * (rowBytes + 1);
    expect(raw[o], `filter type of row ${y}`).toBe(0); // the only filter this reader undoes
    pixels.set(raw.subarray(o + 1, o + 1 + rowBytes), y * rowBytes);
  }
  return {
    width,
    height,
    bitDepth: bitDepth!,
    colorType: colorType!,
    compression: compression!,
    filter: filter!,
    interlace: interlace!,
    chunks: chunks.map((c) => c.type),
    pixels,
  };
}

function pseudoRandomBytes(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s >>> 24;
  }
  return out;
}

describe('crc32', () => {
  it('matches the standard check value and node:zlib', () => {
    expect(crc32(new TextEncoder().encode('123456789'))).toBe(0xcbf43926);
    expect(crc32(new Uint8Array(0))).toBe(0);
    const data = pseudoRandomBytes(5000, 7);
    expect(crc32(data)).toBe(zlibCrc32(data));
    // Chaining over two parts equals one pass.
    expect(crc32(data.subarray(1234), crc32(data.subarray(0, 1234)))).toBe(crc32(data));
  });
});

describe('encodePng (RGBA)', () => {
  it('writes signature, IHDR, IDAT and IEND with the right fields and CRCs, and round-trips', () => {
    const width = 3;
    const height = 2;
    const rgba = pseudoRandomBytes(width * height * 4, 1);
    const png = encodePng(rgba, width, height);
    expect(png).toBeInstanceOf(Uint8Array);
    const d = decodePng(png);
    expect(d.chunks).toEqual(['IHDR', 'IDAT', 'IEND']);
    expect([d.width, d.height]).toEqual([width, height]);
    expect([d.bitDepth, d.colorType, d.compression, d.filter, d.interlace]).toEqual([8, 6, 0, 0, 0]);
    expect([...d.pixels]).toEqual([...rgba]);
    // IEND is empty and its CRC is the well-known AE 42 60 82.
    expect([...png.subarray(png.length - 12)]).toEqual([0, 0, 0, 0, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82]);
  });

  it('round-trips a larger image, a Uint8ClampedArray and a view with an offset', () => {
    const width = 67;
    const height = 45;
    const rgba = pseudoRandomBytes(width * height * 4, 99);
    expect([...decodePng(encodePng(rgba, width, height)).pixels]).toEqual([...rgba]);
    const clamped = new Uint8ClampedArray(rgba.buffer);
    expect([...decodePng(encodePng(clamped, width, height)).pixels]).toEqual([...rgba]);
    const backing = new Uint8Array(8 + 4);
    backing.set([9, 8, 7, 6], 8);
    const view = backing.subarray(8);
    expect([...decodePng(encodePng(view, 1, 1)).pixels]).toEqual([9, 8, 7, 6]);
  });

  it('encodes an overlay end to end', () => {
    const image = { data: new Uint8Array(4 * 4 * 3).fill(90), width: 4, height: 4, channels: 3 as const };
    const map = Float32Array.from({ length: 4 }, (_, i) => i);
    const { data, width, height } = overlay(image, map, 2, 2, { scale: 2 });
    const d = decodePng(encodePng(data, width, height));
    expect([d.width, d.height]).toEqual([8, 8]);
    expect([...d.pixels]).toEqual([...data]);
  });

  it('rejects a buffer that does not match the size', () => {
    expect(() => encodePng(new Uint8Array(15), 2, 2)).toThrow(/expected 2x2x4 = 16/);
    expect(() => encodePng(new Uint8Array(0), 0, 0)).toThrow(RangeError);
    expect(() => encodePng(new Uint8Array(4), 1.5, 1)).toThrow(RangeError);
  });
});

describe('encodePngGray', () => {
  it('writes colour type 0 at 8 bits and round-trips', () => {
    const width = 5;
    const height = 3;
    const gray = pseudoRandomBytes(width * height, 3);
    const d = decodePng(encodePngGray(gray, width, height));
    expect([d.width, d.height]).toEqual([width, height]);
    expect([d.bitDepth, d.colorType, d.interlace]).toEqual([8, 0, 0]);
    expect([...d.pixels]).toEqual([...gray]);
    expect(() => encodePngGray(new Uint8Array(14), width, height)).toThrow(RangeError);
  });
});
