#!/usr/bin/env node
/**
 * Copies the bundled fixtures (tf.js models and sample images) into an app's public folder and writes
 * `index.json`, the manifest the browser kit reads: which models exist, their input shape, class names
 * and sample images. Models and image sets that land later (shapes-net) appear without code changes.
 *
 *   node apps/web/scripts/copy-fixtures.mjs <public/fixtures>
 */
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const fixtures = resolve(here, '../../../fixtures');
const out = resolve(process.cwd(), process.argv[2] ?? 'public/fixtures');

/**
 * Sample-image folder, display name and class names of the models we know, in the order the pages
 * offer them (the first is the default). Other models use the images named before the last dash of
 * their id and come after these. Class names come from the images' labels.json when it has them.
 */
const KNOWN = {
  'fashion-cnn': { images: 'fashion', name: 'Fashion-MNIST CNN (28x28 grey)' },
  'shapes-net': {
    images: 'shapes',
    name: 'Shapes net (64x64 colour, BatchNorm, residual, depthwise)',
    classes: ['circle', 'square', 'triangle', 'star', 'cross', 'ring'], // fixtures/src/shapes.ts SHAPES_CLASSES
  },
  'attention-cnn': { images: 'fashion', name: 'Fashion-MNIST CNN with an attention gate' },
};
const ORDER = Object.keys(KNOWN);
const rank = (id) => (ORDER.includes(id) ? ORDER.indexOf(id) : ORDER.length);

/** Samples from labels.json, or from file names `<index>-<class>.png` (masks `*-mask.png` skipped). */
function samplesOf(imagesDir, classes) {
  if (existsSync(join(imagesDir, 'labels.json'))) return readJson(join(imagesDir, 'labels.json'));
  if (!existsSync(imagesDir)) return [];
  return readdirSync(imagesDir)
    .map((file) => /^(\d+)-([a-z][a-z-]*)\.png$/.exec(file))
    .filter((m) => m && !m[2].endsWith('-mask') && classes.includes(m[2]))
    .sort((a, b) => Number(a[1]) - Number(b[1]))
    .map((m) => ({ file: m[0], label: classes.indexOf(m[2]), className: m[2] }));
}

const readJson = (p) => JSON.parse(readFileSync(p, 'utf8'));

function inputShapeOf(modelJson) {
  const layers = modelJson?.modelTopology?.model_config?.config?.layers ?? modelJson?.modelTopology?.config?.layers ?? [];
  for (const l of layers) {
    const shape = l?.config?.batch_input_shape ?? l?.config?.batchInputShape ?? l?.config?.batch_shape;
    if (Array.isArray(shape)) return shape.slice(1);
  }
  return null;
}

rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
const manifest = { models: [] };
const modelsDir = join(fixtures, 'models');
const ids = existsSync(modelsDir) ? readdirSync(modelsDir).sort((a, b) => rank(a) - rank(b) || a.localeCompare(b)) : [];
for (const id of ids) {
  const dir = join(modelsDir, id);
  if (!existsSync(join(dir, 'model.json'))) continue;
  const modelJson = readJson(join(dir, 'model.json'));
  const weightFiles = (modelJson.weightsManifest ?? []).flatMap((g) => g.paths);
  if (!weightFiles.every((f) => existsSync(join(dir, f)))) {
    console.warn(`copy-fixtures: ${id} lacks weight files, skipped`);
    continue;
  }
  mkdirSync(join(out, 'models', id), { recursive: true });
  for (const f of ['model.json', ...weightFiles]) copyFileSync(join(dir, f), join(out, 'models', id, f));

  const known = KNOWN[id] ?? { images: id.replace(/-[^-]*$/, ''), name: id };
  const imagesDir = join(fixtures, 'images', known.images);
  const samples = [];
  let classes = [...(known.classes ?? [])];
  const labels = samplesOf(imagesDir, classes);
  if (labels.length) {
    mkdirSync(join(out, 'images', known.images), { recursive: true });
    for (const s of labels) {
      if (!existsSync(join(imagesDir, s.file))) continue;
      copyFileSync(join(imagesDir, s.file), join(out, 'images', known.images, s.file));
      samples.push({ url: `images/${known.images}/${s.file}`, label: s.label, className: s.className ?? String(s.label) });
      if (s.className) classes[s.label] = s.className;
    }
  }
  if (existsSync(join(dir, 'classes.json'))) classes = readJson(join(dir, 'classes.json'));
  manifest.models.push({
    id,
    name: known.name,
    url: `models/${id}/model.json`,
    inputShape: inputShapeOf(modelJson),
    classes: Array.from(classes, (c, i) => c ?? `class ${i}`),
    samples,
  });
}
writeFileSync(join(out, 'index.json'), `${JSON.stringify(manifest, null, 1)}\n`);
console.log(`copy-fixtures: ${manifest.models.map((m) => `${m.id} (${m.samples.length} images)`).join(', ')} -> ${out}`);
