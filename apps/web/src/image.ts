/**
 * Images in, model inputs out: samples, uploads (PNG/JPEG) and drawings are drawn onto a canvas
 * at the model's input size (centre-cropped to its aspect ratio) and read back as 8-bit pixels.
 * Everything happens in the page; nothing is sent anywhere.
 */
import type { Image } from '@cnn-xai/viz';
import * as tf from '@tensorflow/tfjs-core';

export type Pixels = Image & { channels: 1 | 3 };

/** Decodes an image file or blob (PNG, JPEG, WebP, ...). */
export async function decodeImage(blob: Blob): Promise<ImageBitmap> {
  if (!/^image\//.test(blob.type) && blob.type !== '') throw new Error(`Not an image: ${blob.type}`);
  return createImageBitmap(blob);
}

export async function fetchImage(url: string): Promise<ImageBitmap> {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
  return decodeImage(await res.blob());
}

/** Draws `source` centre-cropped into height x width and returns grey (channels 1) or RGB bytes. */
export function toPixels(
  source: CanvasImageSource & { width: number; height: number },
  height: number,
  width: number,
  channels: number,
): Pixels {
  const canvas = document.createElement('canvas');
  canvas.width = width;
  canvas.height = height;
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  if (!ctx) throw new Error('no 2D canvas');
  ctx.fillStyle = '#000';
  ctx.fillRect(0, 0, width, height);
  const sw = source.width;
  const sh = source.height;
  const scale = Math.max(width / sw, height / sh);
  const cw = width / scale;
  const ch = height / scale;
  ctx.imageSmoothingEnabled = true;
  ctx.imageSmoothingQuality = 'high';
  ctx.drawImage(source, (sw - cw) / 2, (sh - ch) / 2, cw, ch, 0, 0, width, height);
  const rgba = ctx.getImageData(0, 0, width, height).data;
  const c = channels === 1 ? 1 : 3;
  const data = new Uint8ClampedArray(width * height * c);
  for (let p = 0; p < width * height; p++) {
    const r = rgba[p * 4] as number;
    const g = rgba[p * 4 + 1] as number;
    const b = rgba[p * 4 + 2] as number;
    if (c === 1) data[p] = Math.round(0.299 * r + 0.587 * g + 0.114 * b);
    else data.set([r, g, b], p * 3);
  }
  return { data, width, height, channels: c };
}

/** The model input [1, H, W, C], values pixel / 255 (the fixtures' input range). */
export function toInput(px: Pixels, channels: number): tf.Tensor4D {
  const { width, height } = px;
  const values = new Float32Array(width * height * channels);
  for (let p = 0; p < width * height; p++) {
    for (let k = 0; k < channels; k++) {
      const src = px.channels === 1 ? (px.data[p] as number) : (px.data[p * 3 + Math.min(k, 2)] as number);
      values[p * channels + k] = src / 255;
    }
  }
  return tf.tensor4d(values, [1, height, width, channels]);
}
