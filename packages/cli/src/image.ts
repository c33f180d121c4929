import jpeg from 'jpeg-js';
import pngjs from 'pngjs';
import { InputError } from './errors.js';

/** 8-bit RGBA pixels, row-major. */
export interface RgbaImage {
  data: Uint8Array;
  width: number;
  height: number;
}

export type FileKind = 'png' | 'jpeg' | 'npy';

/** Recognises a file by its first bytes, whatever its extension says. */
export function sniff(bytes: Uint8Array): FileKind | null {
  const b = (i: number): number => bytes[i] ?? -1;
  if (b(0) === 0x89 && b(1) === 0x50 && b(2) === 0x4e && b(3) === 0x47) return 'png';
  if (b(0) === 0xff && b(1) === 0xd8 && b(2) === 0xff) return 'jpeg';
  if (b(0) === 0x93 && b(1) === 0x4e && b(2) === 0x55 && b(3) === 0x4d && b(4) === 0x50 && b(5) === 0x59) return 'npy';
  return null;
}

const reason = (e: unknown): string => ((e instanceof Error ? e.message : String(e)).split('\n')[0] ?? '').trim();

/** Decodes a PNG or JPEG file to RGBA. */
export function decodeImage(bytes: Uint8Array, kind: 'png' | 'jpeg', file: string): RgbaImage {
  try {
    if (kind === 'png') {
      const png = pngjs.PNG.sync.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
      return { data: new Uint8Array(png.data.buffer, png.data.byteOffset, png.data.byteLength), width: png.width, height: png.height };
    }
    const img = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: true, maxMemoryUsageInMB: 1024 });
    return { data: img.data, width: img.width, height: img.height };
  } catch (e) {
    throw new InputError(`Cannot decode ${file} as ${kind.toUpperCase()}: ${reason(e)}. Give a valid PNG, JPEG or .npy file.`);
  }
}

/** True when some pixel has R, G and B that differ (a colour image, not grey stored as RGB). */
export function hasColour(img: RgbaImage): boolean {
  const d = img.data;
  for (let i = 0; i < d.length; i += 4) {
    if (d[i] !== d[i + 1] || d[i + 1] !== d[i + 2]) return true;
  }
  return false;
}

/**
 * RGBA bytes to `channels` float values in [0, 1], HWC order. One channel: luminance
 * 0.299 R + 0.587 G + 0.114 B (exactly the grey value for grey images). Three: RGB (grey images
 * repeat their value). Four: RGBA. Alpha is otherwise ignored.
 */
export function toChannels(img: RgbaImage, channels: number): Float32Array {
  const n = img.width * img.height;
  const out = new Float32Array(n * channels);
  const d = img.data;
  for (let p = 0; p < n; p++) {
    const r = d[4 * p] as number;
    const g = d[4 * p + 1] as number;
    const b = d[4 * p + 2] as number;
    if (channels === 1) {
      out[p] = r === g && g === b ? r / 255 : (0.299 * r + 0.587 * g + 0.114 * b) / 255;
    } else {
      for (let c = 0; c < channels; c++) out[p * channels + c] = (d[4 * p + c] as number) / 255;
    }
  }
  return out;
}
