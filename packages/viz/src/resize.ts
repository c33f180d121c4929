/**
 * Bilinear resize of a single-channel map (row-major, width * height values) with half-pixel centres:
 * output pixel (x, y) samples the source at ((x + 0.5) * srcW / dstW - 0.5, (y + 0.5) * srcH / dstH - 0.5),
 * with coordinates clamped to the edge pixels. This is the convention of tf.image.resizeBilinear with
 * halfPixelCenters, PIL and OpenCV, so a map keeps its alignment with the image when upsampled.
 */
export function resizeBilinear(
  map: ArrayLike<number>,
  srcWidth: number,
  srcHeight: number,
  dstWidth: number,
  dstHeight: number,
): Float32Array {
  checkSize('source', srcWidth, srcHeight);
  checkSize('target', dstWidth, dstHeight);
  if (map.length !== srcWidth * srcHeight) {
    throw new RangeError(
      `resizeBilinear: map has ${map.length} values, expected ${srcWidth}x${srcHeight} = ${srcWidth * srcHeight}`,
    );
  }
  const out = new Float32Array(dstWidth * dstHeight);

  // Per-column source indices and weights, computed once.
  const x0 = new Int32Array(dstWidth);
  const x1 = new Int32Array(dstWidth);
  const fx = new Float64Array(dstWidth);
  for (let x = 0; x < dstWidth; x++) {
    const [a, b, f] = sourceCoord(x, srcWidth, dstWidth);
    x0[x] = a;
    x1[x] = b;
    fx[x] = f;
  }

  for (let y = 0; y < dstHeight; y++) {
    const [y0, y1, fy] = sourceCoord(y, srcHeight, dstHeight);
    const row0 = y0 * srcWidth;
    const row1 = y1 * srcWidth;
    for (let x = 0; x < dstWidth; x++) {
      const a = x0[x] as number;
      const b = x1[x] as number;
      const f = fx[x] as number;
      const top = lerp(map[row0 + a] as number, map[row0 + b] as number, f);
      const bottom = lerp(map[row1 + a] as number, map[row1 + b] as number, f);
      out[y * dstWidth + x] = lerp(top, bottom, fy);
    }
  }
  return out;
}

function lerp(a: number, b: number, f: number): number {
  // Exact at f = 0 and f = 1 (and avoids 0 * Infinity when a neighbour is not used).
  if (f === 0) return a;
  if (f === 1) return b;
  return a + (b - a) * f;
}

/** Source neighbours and interpolation fraction for output index i along one axis. */
function sourceCoord(i: number, srcSize: number, dstSize: number): [number, number, number] {
  let s = ((i + 0.5) * srcSize) / dstSize - 0.5;
  if (s < 0) s = 0;
  if (s > srcSize - 1) s = srcSize - 1;
  const lo = Math.floor(s);
  const hi = Math.min(lo + 1, srcSize - 1);
  return [lo, hi, s - lo];
}

function checkSize(what: string, width: number, height: number): void {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new RangeError(`resizeBilinear: ${what} size must be positive integers, got ${width}x${height}`);
  }
}
