/**
 * A seeded random stream (xoshiro128**, seeded through splitmix32), so stochastic methods
 * give the same maps for the same seed on every backend and platform.
 */
export interface RandomStream {
  readonly seed: number;
  /** Uniform in [0, 1). */
  next(): number;
  /** Standard normal (Box-Muller). */
  normal(): number;
  /** Fills a new Float32Array of length n, uniform in [lo, hi). */
  uniformArray(n: number, lo?: number, hi?: number): Float32Array;
  /** Fills a new Float32Array of length n with N(mean, std^2). */
  normalArray(n: number, mean?: number, std?: number): Float32Array;
  /** Integer in [0, n). */
  int(n: number): number;
  /** An independent stream derived from this one (for batches or sub-methods). */
  fork(): RandomStream;
}

function splitmix32(a: number): () => number {
  return () => {
    a = (a + 0x9e3779b9) | 0;
    let z = a;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) >>> 0;
  };
}

export function createRandom(seed = 0): RandomStream {
  const init = splitmix32(seed >>> 0);
  let s0 = init(), s1 = init(), s2 = init(), s3 = init();
  let spare: number | undefined;
  const nextU32 = (): number => {
    const result = Math.imul(rotl(Math.imul(s1, 5), 7), 9) >>> 0;
    const t = s1 << 9;
    s2 ^= s0;
    s3 ^= s1;
    s1 ^= s2;
    s0 ^= s3;
    s2 ^= t;
    s3 = rotl(s3, 11);
    return result;
  };
  const next = (): number => nextU32() / 4294967296;
  const normal = (): number => {
    if (spare !== undefined) {
      const v = spare;
      spare = undefined;
      return v;
    }
    let u = 0;
    while (u === 0) u = next();
    const v = next();
    const r = Math.sqrt(-2 * Math.log(u));
    spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  };
  return {
    seed,
    next,
    normal,
    uniformArray(n, lo = 0, hi = 1) {
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = lo + (hi - lo) * next();
      return out;
    },
    normalArray(n, mean = 0, std = 1) {
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = mean + std * normal();
      return out;
    },
    int: (n) => Math.floor(next() * n),
    fork: () => createRandom(nextU32()),
  };
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}
