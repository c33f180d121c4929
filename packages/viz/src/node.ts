/**
 * @cnn-xai/viz/node: Node-only helpers. A small PNG encoder (8-bit RGBA and 8-bit grey, no interlacing,
 * filter type 0 on every row) on node:zlib's deflate and our own CRC-32.
 */

import { deflateSync } from 'node:zlib';
import { crc32 } from './crc32.js';

const SIGNATURE = Uint8Array.of(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a);
const COLOR_GRAY = 0;
const COLOR_RGBA = 6;

/** Encodes RGBA bytes (width * height * 4, row-major) as a PNG file (colour type 6, 8 bits). */
export function encodePng(rgba: Uint8Array | Uint8ClampedArray, width: number, height: number): Uint8Array {
  return encode('encodePng', rgba, width, height, 4, COLOR_RGBA);
}

/** Encodes grey bytes (width * height, row-major) as a PNG file (colour type 0, 8 bits). */
export function encodePngGray(gray: Uint8Array | Uint8ClampedArray, width: number, height: number): Uint8Array {
  return encode('encodePngGray', gray, width, height, 1, COLOR_GRAY);
}

function encode(
  fn: string,
  pixels: Uint8Array | Uint8ClampedArray,
  width: number,
  height: number,
  bytesPerPixel: number,
  colorType: number,
): Uint8Array {
  // PNG allows dimensions up to 2^31 - 1.
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1 || width > 0x7fffffff || height > 0x7fffffff) {
    throw new RangeError(`${fn}: width and height must be integers in [1, 2^31 - 1], got ${width}x${height}`);
  }
  const rowBytes = width * bytesPerPixel;
  if (pixels.length !== rowBytes * height) {
    throw new RangeError(
      `${fn}: got ${pixels.length} bytes, expected ${width}x${height}x${bytesPerPixel} = ${rowBytes * height}`,
    );
  }

  const header = new Uint8Array(13);
  const hv = new DataView(header.buffer);
  hv.setUint32(0, width);
  hv.setUint32(4, height);
  header[8] = 8; // bit depth
  header[9] = colorType;
  header[10] = 0; // compression: deflate
  header[11] = 0; // filter method 0 (adaptive filters; we use type 0, None, on every row)
  header[12] = 0; // no interlace

  // Each scanline is its filter-type byte followed by the row's bytes.
  const raw = new Uint8Array((rowBytes + 1) * height);
  const src = new Uint8Array(pixels.buffer, pixels.byteOffset, pixels.length);
  for (let y = 0; y < height; y++) {
    const o = y * (rowBytes + 1);
    raw[o] = 0;
    raw.set(src.subarray(y * rowBytes, (y + 1) * rowBytes), o + 1);
  }
  const compressed = deflateSync(raw);

  const chunks = [chunk('IHDR', header), chunk('IDAT', compressed), chunk('IEND', new Uint8Array(0))];
  const total = SIGNATURE.length + chunks.reduce((n, c) => n + c.length, 0);
  const png = new Uint8Array(total);
  png.set(SIGNATURE, 0);
  let offset = SIGNATURE.length;
  for (const c of chunks) {
    png.set(c, offset);
    offset += c.length;
  }
  return png;
}

/** length (4 bytes, big-endian), type (4 ASCII bytes), data, CRC-32 of type + data. */
function chunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, data.length);
  for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
  out.set(data, 8);
  view.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)));
  return out;
}
