/**
 * Bring your own model: load a tf.js LayersModel from a URL or from local files (read in the page
 * with tf.io.browserFiles, never uploaded), list its layers as the model tap sees them, and
 * explain images with it.
 */
import { describeBackend, pickBackend } from './backend.js';
import { Demo } from './demo.js';
import { errorText, h } from './dom.js';
import { FIXTURES_BASE, loadModelFromFiles, loadModelFromUrl, type LoadedModel } from './models.js';

export class BringYourOwnModel {
  private readonly out: HTMLElement;
  private readonly status: HTMLElement;
  private demo: Demo | null = null;

  constructor(private readonly root: HTMLElement) {
    const url = h('input', { type: 'url', class: 'xai-url', value: new URL(`${FIXTURES_BASE}models/fashion-cnn/model.json`, location.href).href, size: 60, 'aria-label': 'model.json URL' });
    const files = h('input', { type: 'file', multiple: true, accept: '.json,.bin,application/json,application/octet-stream', 'aria-label': 'model.json and weight files' });
    this.status = h('p', { class: 'xai-status', role: 'status', 'aria-live': 'polite' });
    this.out = h('div', { class: 'xai-byom-out' });
    root.replaceChildren(
      h(
        'div',
        { class: 'xai-panel' },
        h(
          'fieldset',
          {},
          h('legend', {}, 'From a URL'),
          url,
          ' ',
          h('button', { type: 'button', class: 'xai-load-url', onclick: () => void this.load(() => loadModelFromUrl(url.value)) }, 'Load'),
          h('p', { class: 'xai-muted' }, 'The server must allow cross-origin requests (CORS) for a model on another site.'),
        ),
        h(
          'fieldset',
          {},
          h('legend', {}, 'From your disk'),
          files,
          ' ',
          h('button', { type: 'button', class: 'xai-load-files', onclick: () => void this.load(() => loadModelFromFiles(Array.from(files.files ?? []))) }, 'Load'),
          h('p', { class: 'xai-muted' }, 'Pick model.json together with its weight files (group1-shard1of1.bin, ...). They are read in this page and never uploaded.'),
        ),
      ),
      this.status,
      this.out,
    );
    root.dataset['state'] = 'ready';
  }

  private async load(get: () => Promise<LoadedModel>): Promise<void> {
    this.root.dataset['state'] = 'loading';
    this.status.textContent = 'Loading…';
    this.demo?.destroy();
    try {
      const backend = await pickBackend();
      const m = await get();
      const layers = m.tap.layers;
      const rows = layers.map((l) =>
        h(
          'tr',
          {},
          h('td', {}, String(l.index)),
          h('td', {}, h('code', {}, l.name)),
          h('td', {}, l.className),
          h('td', {}, `[${l.outputShape.map((d) => (d === null ? 'N' : String(d))).join(', ')}]`),
          h('td', {}, l.activation),
          h('td', {}, l.inbound.join(', ')),
          h('td', {}, l.generic ? 'layer.apply' : 'own kernel'),
        ),
      );
      const spatial = m.tap.spatialLayers().map((l) => l.name);
      const demoEl = h('div', {});
      this.out.replaceChildren(
        h('h2', {}, `${m.entry.name}: ${layers.length} layers`),
        h('p', {}, `Input ${m.size.join(' x ')} (height x width x channels), ${m.classes.length} outputs. Layers with a 4-D output (usable by CAM methods): ${spatial.join(', ') || 'none'}.`),
        h(
          'table',
          { class: 'xai-layers' },
          h('thead', {}, h('tr', {}, ...['#', 'name', 'class', 'output shape', 'activation', 'reads', 'run by'].map((t) => h('th', {}, t)))),
          h('tbody', {}, ...rows),
        ),
        h('h2', {}, 'Explain with it'),
        h('p', { class: 'xai-muted' }, 'Upload or draw an image; it is resized to the model input and scaled to [0, 1].'),
        demoEl,
      );
      this.demo = new Demo(demoEl, { all: true, initial: 'grad-cam', model: m });
      this.status.textContent = `Loaded on ${describeBackend(backend)}.`;
      Object.assign(this.root.dataset, { state: 'loaded', layers: String(layers.length) });
    } catch (e) {
      this.status.replaceChildren(h('strong', { class: 'xai-error' }, 'Could not load the model: '), errorText(e));
      this.root.dataset['state'] = 'error';
    }
  }
}

export function mountByom(root: HTMLElement): BringYourOwnModel {
  return new BringYourOwnModel(root);
}
