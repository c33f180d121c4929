import { CnnXaiError } from '../errors.js';

/**
 * NumPy .npy files (format versions 1.0-3.0), little-endian float32/float64/int32/int64/uint8,
 * C order. Enough for attribution maps and image batches; NumPy reads what we write.
 */
export interface NpyArray {
  data: Float32Array | Float64Array | Int32Array | Uint8Array | BigInt64Array;
  shape: number[];
  dtype: 'float32' | 'float64' | 'int32' | 'int64' | 'uint8';
}

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY

const DESCR: Record<string, NpyArray['dtype']> = {
  '<f4': 'float32',
  '<f8': 'float64',
  '<i4': 'int32',
  '<i8': 'int64',
  '|u1': 'uint8',
  '<u1': 'uint8',
};

export function parseNpy(bytes: Uint8Array): NpyArray {
  const bad = (why: string): never => {
    throw new CnnXaiError('BAD_FILE', `Not a readable .npy file: ${why}.`, 'Save it with numpy.save (little-endian float32, C order).');
  };
  if (bytes.length < 10 || !MAGIC.every((b, i) => bytes[i] === b)) bad('missing the \\x93NUMPY magic');
  const major = bytes[6] as number;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLen = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const start = major === 1 ? 10 : 12;
  const header = new TextDecoder(major === 3 ? 'utf-8' : 'latin1').decode(bytes.subarray(start, start + headerLen));
  const descr = /'descr':\s*'([^']+)'/.exec(header)?.[1];
  const fortran = /'fortran_order':\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape':\s*\(([^)]*)\)/.exec(header)?.[1];
  if (!descr || !fortran || shapeText === undefined) return bad('unreadable header');
  const dtype = DESCR[descr as string];
  if (!dtype) return bad(`dtype ${descr} (supported: ${Object.keys(DESCR).join(', ')})`);
  if (fortran === 'True') bad('Fortran order (use np.ascontiguousarray)');
  const shape = (shapeText as string)
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map(Number);
  const count = shape.reduce((a, b) => a * b, 1);
  const offset = start + headerLen;
  // An aligned copy (Node's Buffer.slice would share memory instead of copying).
  const copy = new Uint8Array(bytes.byteLength - offset);
  copy.set(bytes.subarray(offset));
  const buf = copy.buffer;
  const need = count * ({ float32: 4, float64: 8, int32: 4, int64: 8, uint8: 1 } as const)[dtype as NpyArray['dtype']];
  if (copy.byteLength < need) bad(`expected ${need} data bytes, found ${copy.byteLength}`);
  const data =
    dtype === 'float32'
      ? new Float32Array(buf, 0, count)
      : dtype === 'float64'
        ? new Float64Array(buf, 0, count)
        : dtype === 'int32'
          ? new Int32Array(buf, 0, count)
          : dtype === 'int64'
            ? new BigInt64Array(buf, 0, count)
            : new Uint8Array(buf, 0, count);
  return { data, shape, dtype: dtype as NpyArray['dtype'] };
}

/** Values of a parsed array as float32 (int64 converted through Number). */
export function npyToFloat32(a: NpyArray): Float32Array {
  if (a.data instanceof Float32Array) return a.data;
  if (a.data instanceof BigInt64Array) return Float32Array.from(a.data, (v) => Number(v));
  return Float32Array.from(a.data as ArrayLike<number>);
}

export function encodeNpy(data: Float32Array | Int32Array | Uint8Array, shape: readonly number[]): Uint8Array {
  const descr = data instanceof Float32Array ? '<f4' : data instanceof Int32Array ? '<i4' : '|u1';
  const shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shapeText}, }`;
  // Pad with spaces so that magic + version + length + header + \n is a multiple of 64.
  const total = Math.ceil((10 + header.length + 1) / 64) * 64;
  header = header.padEnd(total - 10 - 1, ' ') + '\n';
  const out = new Uint8Array(total + data.byteLength);
  out.set(MAGIC, 0);
  out[6] = 1;
  out[7] = 0;
  new DataView(out.buffer).setUint16(8, header.length, true);
  for (let i = 0; i < header.length; i++) out[10 + i] = header.charCodeAt(i);
  out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), total);
  return out;
}
