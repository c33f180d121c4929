import { CnnXaiError, type LayerInfo, type ModelTap } from '@cnn-xai/core';

interface LayerLike {
  name: string;
  layers?: LayerLike[];
  getConfig(): Record<string, unknown>;
}

/** The tfjs layer object behind a tap layer name (`outer/inner`, shared layers `name#1`). */
function sourceLayer(tap: ModelTap, name: string): LayerLike | undefined {
  let container: LayerLike | undefined = tap.model as unknown as LayerLike;
  let found: LayerLike | undefined;
  for (const part of name.split('/')) {
    const base = part.replace(/#\d+$/, '');
    found = container?.layers?.find((l) => l.name === base);
    if (!found) return undefined;
    container = found;
  }
  return found;
}

/** True for a layer that reduces the spatial resolution: a pooling layer or a convolution with a stride > 1. */
export function isDownsampling(tap: ModelTap, info: LayerInfo): boolean {
  if (info.index === 0 || info.outputShape.length !== 4) return false;
  let config: Record<string, unknown>;
  try {
    config = sourceLayer(tap, info.name)?.getConfig() ?? {};
  } catch {
    return false;
  }
  const strides = config['strides'] ?? (/Pool/.test(info.className) ? config['poolSize'] : undefined);
  const list = Array.isArray(strides) ? strides : strides === undefined || strides === null ? [] : [strides];
  return list.some((s) => typeof s === 'number' && s > 1);
}

/**
 * SISE's block-wise layer selection (the reference code's `layer_finder` with
 * `pool_input=True`, generalised to any graph): the layer feeding each spatial down-sampling
 * layer (pooling or strided convolution), skipping the input and looking through
 * ZeroPadding2D layers, plus the last layer with a 4-D output (the last block, before global
 * pooling or flattening), unless that layer is itself a down-sampling layer whose input is
 * already selected. Returned in execution order, low-level blocks first.
 */
export function blockLayers(tap: ModelTap): LayerInfo[] {
  const last = tap.lastSpatialLayer(); // NO_CONV_LAYER without a 4-D layer
  const picked = new Map<string, LayerInfo>();
  const feeder = (info: LayerInfo): LayerInfo | null => {
    let name = info.inbound[0];
    while (name !== undefined) {
      const l = tap.layer(name);
      if (l.index === 0) return null;
      if (l.className !== 'ZeroPadding2D') return l.outputShape.length === 4 ? l : null;
      name = l.inbound[0];
    }
    return null;
  };
  for (const info of tap.spatialLayers()) {
    if (!isDownsampling(tap, info)) continue;
    const f = feeder(info);
    if (f) picked.set(f.name, f);
  }
  const lastFeeder = isDownsampling(tap, last) ? feeder(last) : null;
  if (!(lastFeeder && picked.has(lastFeeder.name))) picked.set(last.name, last);
  return [...picked.values()].sort((a, b) => a.index - b.index);
}

/**
 * The layers SISE uses: the `layer` option (names, or one comma-separated string) in execution
 * order, or the automatic block-wise choice. Unknown names are UNKNOWN_LAYER, layers without
 * 4-D output NO_CONV_LAYER, a name given twice BAD_OPTION_VALUE.
 */
export function siseLayers(tap: ModelTap, layer: string | string[] | undefined): LayerInfo[] {
  if (layer === undefined) return blockLayers(tap);
  const names = (Array.isArray(layer) ? layer : layer.split(',')).map((s) => s.trim()).filter(Boolean);
  if (names.length === 0) throw new CnnXaiError('BAD_OPTION_VALUE', 'The layer list is empty.', 'Pass at least one layer name.');
  const twice = names.find((n, i) => names.indexOf(n) !== i);
  if (twice !== undefined) {
    throw new CnnXaiError('BAD_OPTION_VALUE', `Layer "${twice}" is listed twice.`, 'List each layer once.');
  }
  const infos = names.map((n) => {
    const info = tap.layer(n);
    if (info.outputShape.length !== 4 || info.index === 0) {
      const spatial = tap.spatialLayers().map((l) => l.name);
      throw new CnnXaiError(
        'NO_CONV_LAYER',
        `Layer "${n}" (${info.className}) has no spatial feature maps (output shape [${info.outputShape.map((d) => d ?? 'N').join(', ')}]).`,
        spatial.length ? `Pick layers with a 4-D output: ${spatial.join(', ')}.` : 'The model has no such layer.',
      );
    }
    return info;
  });
  return infos.sort((a, b) => a.index - b.index);
}
