/**
 * @cnn-xai/viz: colormaps, display normalisation, heatmaps, overlays and grids for attribution maps.
 * Plain typed arrays in and out; no TensorFlow.js, no DOM or Node imports (PNG encoding lives in
 * `@cnn-xai/viz/node`, the ImageData adapter in toImageData is DOM-free until called).
 */

export { COLORMAPS, DIVERGING, colormap, colormapLut } from './colormaps.js';
export type { ColormapName } from './colormaps.js';
export { normalizeForDisplay, percentile, toGrayscale8 } from './normalize.js';
export type { DisplayMode, DisplayOptions } from './normalize.js';
export { renderHeatmap, overlay, colorbar, tile } from './render.js';
export type { Image, HeatmapOptions, OverlayOptions, RgbaImage, TileOptions } from './render.js';
export { resizeBilinear } from './resize.js';
export { toImageData } from './canvas.js';
