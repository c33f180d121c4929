import { readFile } from 'node:fs/promises';
import { encodeNpy, npyToFloat32, parseNpy } from '@cnn-xai/core';
import { writeBytes } from './outputs.js';

/** Reads a .npy file as float32 values and its shape (core's reader: float32/64, int32/64, uint8). */
export async function readNpyFile(path: string): Promise<{ data: Float32Array; shape: number[]; dtype: string }> {
  const arr = parseNpy(new Uint8Array(await readFile(path)));
  return { data: npyToFloat32(arr), shape: arr.shape, dtype: arr.dtype };
}

/** Writes float32 (or int32/uint8) values with a shape as a NumPy .npy file (format 1.0, C order). */
export async function writeNpyFile(path: string, data: Float32Array | Int32Array | Uint8Array, shape: readonly number[]): Promise<void> {
  const count = shape.reduce((a, b) => a * b, 1);
  if (count !== data.length) throw new Error(`writeNpyFile: shape (${shape.join(', ')}) holds ${count} values, data has ${data.length}.`);
  await writeBytes(path, encodeNpy(data, shape));
}
