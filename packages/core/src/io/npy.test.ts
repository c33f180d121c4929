import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { encodeNpy, npyToFloat32, parseNpy } from './npy.js';
import { errorOf } from '../../../testing/src/index.js';

const FIXTURE = fileURLToPath(new URL('../../../../fixtures/reference/fashion-cnn-torch/images.npy', import.meta.url));

/** A .npy file written by hand (what NumPy writes): version, header text, raw data bytes. */
function handMade(header: string, data: Uint8Array, major = 1): Uint8Array {
  const pre = major === 1 ? 10 : 12;
  const total = Math.ceil((pre + header.length + 1) / 64) * 64;
  const text = header.padEnd(total - pre - 1, ' ') + '\n';
  const out = new Uint8Array(total + data.length);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, major, 0]);
  const view = new DataView(out.buffer);
  if (major === 1) view.setUint16(8, text.length, true);
  else view.setUint32(8, text.length, true);
  for (let i = 0; i < text.length; i++) out[pre + i] = text.charCodeAt(i);
  out.set(data, total);
  return out;
}

describe('npy', () => {
  it('round-trips float32, int32 and uint8 arrays (encodeNpy -> parseNpy)', () => {
    const f = Float32Array.from({ length: 24 }, (_, i) => i / 7 - 1);
    const a = parseNpy(encodeNpy(f, [2, 3, 4]));
    expect(a).toMatchObject({ dtype: 'float32', shape: [2, 3, 4] });
    expect(Array.from(a.data as Float32Array)).toEqual(Array.from(f));
    const i = parseNpy(encodeNpy(Int32Array.from([-5, 0, 7]), [3]));
    expect(i).toMatchObject({ dtype: 'int32', shape: [3] });
    expect(Array.from(i.data as Int32Array)).toEqual([-5, 0, 7]);
    const u = parseNpy(encodeNpy(Uint8Array.from([0, 128, 255]), [1, 3]));
    expect(u.dtype).toBe('uint8');
    expect(Array.from(u.data as Uint8Array)).toEqual([0, 128, 255]);
  });

  it('writes what NumPy writes: magic, version 1.0, a 64-byte aligned header ending in a newline', () => {
    const bytes = encodeNpy(new Float32Array(6), [2, 3]);
    expect(Array.from(bytes.subarray(0, 8))).toEqual([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]);
    const headerLen = new DataView(bytes.buffer).getUint16(8, true);
    expect((10 + headerLen) % 64).toBe(0);
    const header = new TextDecoder().decode(bytes.subarray(10, 10 + headerLen));
    expect(header.startsWith("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }")).toBe(true);
    expect(header.endsWith('\n')).toBe(true);
    expect(bytes.length).toBe(10 + headerLen + 24);
    expect(new TextDecoder().decode(encodeNpy(new Float32Array(3), [3]).subarray(10, 70))).toContain("'shape': (3,)");
  });

  it('reads an encoded array from a Buffer slice at an unaligned offset', () => {
    const bytes = encodeNpy(Float32Array.from([1.5, -2.5]), [2]);
    const shifted = new Uint8Array(bytes.length + 3);
    shifted.set(bytes, 3);
    expect(Array.from(parseNpy(shifted.subarray(3)).data as Float32Array)).toEqual([1.5, -2.5]);
  });

  it('parses the fashion-cnn reference images: [32, 28, 28, 1] float32 in [0, 1]', () => {
    const a = parseNpy(new Uint8Array(readFileSync(FIXTURE)));
    expect(a.shape).toEqual([32, 28, 28, 1]);
    expect(a.dtype).toBe('float32');
    expect(a.data).toHaveLength(32 * 28 * 28);
    const v = npyToFloat32(a);
    let lo = Infinity;
    let hi = -Infinity;
    for (const x of v) {
      lo = Math.min(lo, x);
      hi = Math.max(hi, x);
    }
    expect(lo).toBeGreaterThanOrEqual(0);
    expect(hi).toBeLessThanOrEqual(1);
    expect(hi).toBeGreaterThan(0.5);
  });

  it('reads float64, int64 and version-2 headers; npyToFloat32 converts', () => {
    const f64 = new Float64Array([0.5, -1, 3]);
    const a = parseNpy(handMade("{'descr': '<f8', 'fortran_order': False, 'shape': (3,), }", new Uint8Array(f64.buffer)));
    expect(a.dtype).toBe('float64');
    expect(Array.from(npyToFloat32(a))).toEqual([0.5, -1, 3]);
    const i64 = new BigInt64Array([5n, -7n]);
    const b = parseNpy(handMade("{'descr': '<i8', 'fortran_order': False, 'shape': (1, 2), }", new Uint8Array(i64.buffer), 2));
    expect(b).toMatchObject({ dtype: 'int64', shape: [1, 2] });
    expect(Array.from(npyToFloat32(b))).toEqual([5, -7]);
    const scalar = parseNpy(handMade("{'descr': '<f4', 'fortran_order': False, 'shape': (), }", new Uint8Array(new Float32Array([2]).buffer)));
    expect(scalar.shape).toEqual([]);
    expect(Array.from(scalar.data as Float32Array)).toEqual([2]);
  });

  it.each([
    ['no magic', new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]), /magic/],
    ['big-endian data', handMade("{'descr': '>f4', 'fortran_order': False, 'shape': (1,), }", new Uint8Array(4)), /dtype >f4/],
    ['Fortran order', handMade("{'descr': '<f4', 'fortran_order': True, 'shape': (1,), }", new Uint8Array(4)), /Fortran/],
    ['truncated data', handMade("{'descr': '<f4', 'fortran_order': False, 'shape': (4,), }", new Uint8Array(8)), /expected 16 data bytes/],
    ['a broken header', handMade("{'shape': (4,)}", new Uint8Array(16)), /header/],
  ])('%s is BAD_FILE', (_, bytes, message) => {
    const e = errorOf(() => parseNpy(bytes));
    expect(e.code).toBe('BAD_FILE');
    expect(e.message).toMatch(message);
  });
});
