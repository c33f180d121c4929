/**
 * Colormaps as tables of anchor colours with linear interpolation (in sRGB) between anchors.
 *
 * How the anchors were made (the tables below are derived numbers, not copied tables):
 * - viridis, inferno: matplotlib's 256-entry listed colormaps, read as a continuous curve (entry i at
 *   t = i/255, linear in between) and sampled at t = k/32, k = 0..32. Largest difference from that curve,
 *   after rounding to 8 bits: under 2 per channel. (16 anchors would be off by about 6 per channel.)
 * - turbo: Google's published 256-entry turbo table, sampled the same way (under 2.5 per channel).
 * - coolwarm: Moreland's diverging map ("Diverging Color Maps for Scientific Visualization", 2009),
 *   computed from its definition: the end points RGB (59,76,192) and (180,4,38) are interpolated in the
 *   Msh space (polar CIELAB, D65 white) through an unsaturated white of M = 88, with the paper's hue spin;
 *   sampled at t = k/64 because the red end bends sharply (under 2.5 per channel).
 * - jet: matplotlib's piecewise-linear segment definition, stored exactly at the union of its breakpoints.
 * - gray: black to white.
 */

export type ColormapName = 'viridis' | 'inferno' | 'turbo' | 'jet' | 'gray' | 'coolwarm';

export const COLORMAPS: readonly ColormapName[] = Object.freeze([
  'viridis',
  'inferno',
  'turbo',
  'jet',
  'gray',
  'coolwarm',
] as const);

/** Colormaps whose middle (t = 0.5) is the neutral colour: use them for signed maps. */
export const DIVERGING: ReadonlySet<ColormapName> = new Set<ColormapName>(['coolwarm']);

interface AnchorTable {
  /** Anchor positions in [0, 1], increasing, first 0 and last 1; absent means evenly spaced. */
  readonly stops?: readonly number[];
  /** Flat r, g, b triples in [0, 1], one per anchor. */
  readonly rgb: readonly number[];
}

// prettier-ignore
const VIRIDIS: AnchorTable = {
  rgb: [
    0.2670, 0.0049, 0.3294, 0.2770, 0.0502, 0.3755, 0.2823, 0.0946, 0.4170, 0.2829, 0.1354, 0.4530,
    0.2789, 0.1749, 0.4830, 0.2708, 0.2133, 0.5066, 0.2593, 0.2507, 0.5244, 0.2454, 0.2867, 0.5370,
    0.2302, 0.3213, 0.5455, 0.2148, 0.3545, 0.5510, 0.2000, 0.3864, 0.5545, 0.1861, 0.4173, 0.5567,
    0.1733, 0.4474, 0.5579, 0.1613, 0.4770, 0.5581, 0.1497, 0.5064, 0.5573, 0.1384, 0.5358, 0.5551,
    0.1281, 0.5651, 0.5509, 0.1209, 0.5945, 0.5442, 0.1203, 0.6238, 0.5343, 0.1310, 0.6529, 0.5208,
    0.1554, 0.6815, 0.5032, 0.1930, 0.7096, 0.4812, 0.2415, 0.7366, 0.4545, 0.2986, 0.7624, 0.4230,
    0.3629, 0.7867, 0.3866, 0.4330, 0.8091, 0.3453, 0.5081, 0.8292, 0.2992, 0.5873, 0.8470, 0.2489,
    0.6694, 0.8622, 0.1954, 0.7529, 0.8751, 0.1427, 0.8359, 0.8861, 0.1025, 0.9166, 0.8961, 0.1008,
    0.9932, 0.9062, 0.1439,
  ],
};

// prettier-ignore
const INFERNO: AnchorTable = {
  rgb: [
    0.0015, 0.0005, 0.0139, 0.0139, 0.0112, 0.0716, 0.0420, 0.0280, 0.1406, 0.0815, 0.0432, 0.2144,
    0.1285, 0.0473, 0.2896, 0.1823, 0.0405, 0.3539, 0.2370, 0.0366, 0.3956, 0.2894, 0.0453, 0.4182,
    0.3399, 0.0618, 0.4292, 0.3897, 0.0803, 0.4331, 0.4393, 0.0986, 0.4317, 0.4889, 0.1164, 0.4259,
    0.5386, 0.1339, 0.4157, 0.5882, 0.1516, 0.4011, 0.6375, 0.1704, 0.3822, 0.6858, 0.1910, 0.3591,
    0.7328, 0.2143, 0.3321, 0.7776, 0.2414, 0.3016, 0.8195, 0.2728, 0.2685, 0.8578, 0.3090, 0.2333,
    0.8918, 0.3500, 0.1965, 0.9210, 0.3954, 0.1584, 0.9451, 0.4448, 0.1188, 0.9640, 0.4974, 0.0776,
    0.9774, 0.5526, 0.0380, 0.9855, 0.6100, 0.0245, 0.9879, 0.6692, 0.0596, 0.9847, 0.7296, 0.1222,
    0.9759, 0.7909, 0.1973, 0.9623, 0.8522, 0.2867, 0.9486, 0.9109, 0.3962, 0.9518, 0.9608, 0.5247,
    0.9884, 0.9984, 0.6449,
  ],
};

// prettier-ignore
const TURBO: AnchorTable = {
  rgb: [
    0.1900, 0.0718, 0.2322, 0.2249, 0.1632, 0.4502, 0.2509, 0.2517, 0.6324, 0.2680, 0.3373, 0.7790,
    0.2762, 0.4199, 0.8897, 0.2755, 0.4996, 0.9648, 0.2594, 0.5777, 0.9986, 0.2153, 0.6567, 0.9806,
    0.1602, 0.7332, 0.9252, 0.1130, 0.8034, 0.8482, 0.0927, 0.8634, 0.7655, 0.1179, 0.9101, 0.6900,
    0.1922, 0.9474, 0.5993, 0.2992, 0.9758, 0.4953, 0.4210, 0.9935, 0.3912, 0.5400, 0.9991, 0.3005,
    0.6384, 0.9910, 0.2365, 0.7205, 0.9669, 0.2073, 0.7994, 0.9277, 0.2042, 0.8704, 0.8768, 0.2146,
    0.9290, 0.8173, 0.2261, 0.9707, 0.7523, 0.2262, 0.9921, 0.6810, 0.2059, 0.9963, 0.5952, 0.1724,
    0.9853, 0.5018, 0.1324, 0.9610, 0.4084, 0.0921, 0.9253, 0.3229, 0.0577, 0.8797, 0.2521, 0.0349,
    0.8230, 0.1909, 0.0195, 0.7547, 0.1367, 0.0093, 0.6747, 0.0895, 0.0045, 0.5830, 0.0492, 0.0049,
    0.4796, 0.0158, 0.0106,
  ],
};

// prettier-ignore
const COOLWARM: AnchorTable = {
  rgb: [
    0.2314, 0.2980, 0.7529, 0.2493, 0.3254, 0.7774, 0.2676, 0.3525, 0.8008, 0.2861, 0.3793, 0.8231,
    0.3050, 0.4060, 0.8444, 0.3242, 0.4323, 0.8644, 0.3438, 0.4582, 0.8832, 0.3637, 0.4838, 0.9007,
    0.3838, 0.5089, 0.9169, 0.4043, 0.5336, 0.9318, 0.4250, 0.5577, 0.9452, 0.4460, 0.5813, 0.9573,
    0.4672, 0.6042, 0.9679, 0.4886, 0.6264, 0.9769, 0.5101, 0.6479, 0.9845, 0.5316, 0.6687, 0.9906,
    0.5533, 0.6886, 0.9952, 0.5749, 0.7077, 0.9982, 0.5965, 0.7259, 0.9997, 0.6180, 0.7431, 0.9996,
    0.6394, 0.7594, 0.9981, 0.6605, 0.7746, 0.9949, 0.6814, 0.7888, 0.9903, 0.7020, 0.8019, 0.9842,
    0.7223, 0.8138, 0.9765, 0.7421, 0.8246, 0.9675, 0.7615, 0.8342, 0.9569, 0.7804, 0.8426, 0.9450,
    0.7987, 0.8497, 0.9317, 0.8164, 0.8556, 0.9170, 0.8335, 0.8602, 0.9011, 0.8498, 0.8634, 0.8838,
    0.8654, 0.8654, 0.8654, 0.8824, 0.8578, 0.8434, 0.8979, 0.8490, 0.8209, 0.9118, 0.8388, 0.7980,
    0.9243, 0.8274, 0.7746, 0.9352, 0.8148, 0.7509, 0.9447, 0.8010, 0.7268, 0.9526, 0.7860, 0.7026,
    0.9591, 0.7699, 0.6781, 0.9641, 0.7527, 0.6535, 0.9676, 0.7343, 0.6288, 0.9697, 0.7149, 0.6041,
    0.9703, 0.6945, 0.5794, 0.9694, 0.6730, 0.5548, 0.9671, 0.6506, 0.5302, 0.9634, 0.6273, 0.5058,
    0.9583, 0.6031, 0.4817, 0.9519, 0.5780, 0.4577, 0.9440, 0.5520, 0.4340, 0.9348, 0.5252, 0.4107,
    0.9243, 0.4976, 0.3876, 0.9125, 0.4691, 0.3650, 0.8994, 0.4398, 0.3428, 0.8851, 0.4097, 0.3210,
    0.8695, 0.3786, 0.2997, 0.8528, 0.3464, 0.2788, 0.8349, 0.3131, 0.2585, 0.8160, 0.2783, 0.2388,
    0.7959, 0.2415, 0.2196, 0.7748, 0.2018, 0.2010, 0.7528, 0.1574, 0.1830, 0.7298, 0.1033, 0.1657,
    0.7059, 0.0157, 0.1490,
  ],
};

// Classic jet, exactly: red ramps up over [0.35, 0.66] and down to 0.5 over [0.89, 1]; green ramps up over
// [0.125, 0.375] and down over [0.64, 0.91]; blue starts at 0.5, reaches 1 at 0.11 and falls over [0.34, 0.65].
// prettier-ignore
const JET: AnchorTable = {
  stops: [0, 0.11, 0.125, 0.34, 0.35, 0.375, 0.64, 0.65, 0.66, 0.89, 0.91, 1],
  rgb: [
    0, 0, 0.5,
    0, 0, 1,
    0, 0, 1,
    0, 0.86, 1,
    0, 0.9, 0.96774,
    0.08065, 1, 0.8871,
    0.93548, 1, 0.03226,
    0.96774, 0.96296, 0,
    1, 0.92593, 0,
    1, 0.07407, 0,
    0.90909, 0, 0,
    0.5, 0, 0,
  ],
};

const GRAY: AnchorTable = { rgb: [0, 0, 0, 1, 1, 1] };

const TABLES: Readonly<Record<ColormapName, AnchorTable>> = {
  viridis: VIRIDIS,
  inferno: INFERNO,
  turbo: TURBO,
  jet: JET,
  gray: GRAY,
  coolwarm: COOLWARM,
};

function tableFor(name: ColormapName): AnchorTable {
  const table = Object.prototype.hasOwnProperty.call(TABLES, name) ? TABLES[name] : undefined;
  if (table === undefined) {
    throw new RangeError(`unknown colormap "${String(name)}" (known: ${COLORMAPS.join(', ')})`);
  }
  return table;
}

/** Evaluates a table at t in [0, 1] (already clamped), writing r, g, b in [0, 1] into `out`. */
function evaluate(table: AnchorTable, t: number, out: Float64Array): void {
  const rgb = table.rgb;
  const count = rgb.length / 3;
  let i: number; // left anchor index
  let f: number; // fraction between anchor i and i + 1
  const stops = table.stops;
  if (stops === undefined) {
    const x = t * (count - 1);
    i = Math.min(Math.floor(x), count - 2);
    f = x - i;
  } else {
    i = 0;
    while (i < count - 2 && t > (stops[i + 1] as number)) i++;
    const a = stops[i] as number;
    const b = stops[i + 1] as number;
    f = b > a ? (t - a) / (b - a) : 0;
  }
  const j = i * 3;
  for (let c = 0; c < 3; c++) {
    const lo = rgb[j + c] as number;
    const hi = rgb[j + 3 + c] as number;
    out[c] = lo + (hi - lo) * f;
  }
}

function clamp01(t: number): number {
  // NaN maps to the start of the map rather than poisoning the output.
  if (!(t > 0)) return 0;
  return t < 1 ? t : 1;
}

/**
 * The colormap as a function from t in [0, 1] to RGB integers 0..255. t outside [0, 1] is clamped
 * (NaN counts as 0).
 */
export function colormap(name: ColormapName): (t: number) => [number, number, number] {
  const table = tableFor(name);
  const tmp = new Float64Array(3);
  return (t: number): [number, number, number] => {
    evaluate(table, clamp01(t), tmp);
    return [
      Math.round((tmp[0] as number) * 255),
      Math.round((tmp[1] as number) * 255),
      Math.round((tmp[2] as number) * 255),
    ];
  };
}

/**
 * A lookup table of n colours (default 256) sampled evenly from t = 0 to t = 1: r, g, b bytes,
 * n * 3 long. Entry i is colormap(name)(i / (n - 1)).
 */
export function colormapLut(name: ColormapName, n = 256): Uint8ClampedArray {
  if (!Number.isInteger(n) || n < 1) {
    throw new RangeError(`colormapLut: n must be a positive integer, got ${n}`);
  }
  const f = colormap(name);
  const lut = new Uint8ClampedArray(n * 3);
  for (let i = 0; i < n; i++) {
    const [r, g, b] = f(n === 1 ? 0 : i / (n - 1));
    lut[i * 3] = r;
    lut[i * 3 + 1] = g;
    lut[i * 3 + 2] = b;
  }
  return lut;
}
