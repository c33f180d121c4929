/**
 * The comparison page: every registered explainer on one image, side by side, with default options.
 */
import { AbortError, type AnyExplainer, type Target } from '@cnn-xai/core';
import type * as tf from '@tensorflow/tfjs-core';
import { describeBackend, pickBackend } from './backend.js';
import { errorText, h } from './dom.js';
import { toInput, toPixels, type Pixels } from './image.js';
import { fixtureModels, loadModel, type LoadedModel, type ModelEntry } from './models.js';
import { ImagePicker, type PickedImage } from './picker.js';
import { registry } from './plugins.js';
import { defaultDisplay, drawImage, drawLegend, drawOverlay, drawPixels } from './render.js';
import { quickOptions, notApplicable, QUICK_CAPS } from './quick.js';
import { predict, runExplainer } from './run.js';

export class Compare {
  private readonly picker: ImagePicker;
  private readonly grid: HTMLElement;
  private readonly status: HTMLElement;
  private readonly modelSel: HTMLSelectElement;
  private readonly targetSel: HTMLSelectElement;
  private readonly inputCanvas: HTMLCanvasElement;
  private readonly cancelBtn: HTMLButtonElement;
  private readonly quick: HTMLInputElement;
  private models: ModelEntry[] = [];
  private loaded: LoadedModel | null = null;
  private pixels: Pixels | null = null;
  private input: tf.Tensor4D | null = null;
  private abort: AbortController | null = null;
  private generation = 0;

  constructor(private readonly root: HTMLElement) {
    root.classList.add('xai-compare');
    this.picker = new ImagePicker((p) => void this.picked(p));
    this.grid = h('div', { class: 'xai-grid' });
    this.status = h('p', { class: 'xai-status', role: 'status', 'aria-live': 'polite' }, 'Starting TensorFlow.js…');
    this.modelSel = h('select', { 'aria-label': 'Model', onchange: () => void this.switchModel() });
    this.targetSel = h('select', { 'aria-label': 'Class to explain', class: 'xai-target', onchange: () => void this.runAll() });
    this.inputCanvas = h('canvas', { class: 'xai-input', width: 140, height: 140 });
    this.cancelBtn = h('button', { type: 'button', class: 'xai-cancel', disabled: true, onclick: () => this.abort?.abort() }, 'Cancel');
    this.quick = h('input', { type: 'checkbox', class: 'xai-quick', checked: new URLSearchParams(location.search).get('quick') !== '0', onchange: () => void this.runAll() });
    const caps = Object.entries(QUICK_CAPS).map(([k, v]) => `${k} ≤ ${v}`).join(', ');
    root.replaceChildren(
      h(
        'div',
        { class: 'xai-panel' },
        h('fieldset', { class: 'xai-source' }, h('legend', {}, 'Image'), h('label', {}, 'Model ', this.modelSel), this.picker.element),
        h(
          'fieldset',
          { class: 'xai-method' },
          h('legend', {}, 'Run'),
          h('figure', {}, this.inputCanvas),
          h('label', {}, 'Class ', this.targetSel),
          h('label', { title: 'Untick for every method at its default options (some take tens of seconds).' }, this.quick, ` Quick preview (${caps})`),
          h('div', { class: 'xai-actions' }, h('button', { type: 'button', class: 'xai-run', onclick: () => void this.runAll() }, 'Run all'), this.cancelBtn),
        ),
      ),
      this.status,
      this.grid,
    );
    root.dataset['state'] = 'loading';
    void this.start();
  }

  private async start(): Promise<void> {
    try {
      await pickBackend();
      this.models = await fixtureModels();
      for (const m of this.models) this.modelSel.append(h('option', { value: m.id }, m.name));
      await this.switchModel();
    } catch (e) {
      this.status.textContent = `Error: ${errorText(e)}`;
      this.root.dataset['state'] = 'error';
    }
  }

  private async switchModel(): Promise<void> {
    const entry = this.models.find((m) => m.id === this.modelSel.value) ?? this.models[0];
    if (!entry) throw new Error('No fixture models in this build.');
    this.loaded = await loadModel(entry);
    this.picker.setSamples(entry.samples);
    this.targetSel.replaceChildren(
      h('option', { value: 'top' }, 'predicted class'),
      ...this.loaded.classes.map((c, i) => h('option', { value: String(i) }, `${i}: ${c}`)),
    );
    const boot = entry.samples.findIndex((s) => s.className === 'ankle-boot');
    if (entry.samples.length) await this.picker.pickSample(Math.max(0, boot));
  }

  private async picked(p: PickedImage): Promise<void> {
    const m = this.loaded;
    if (!m) return;
    this.pixels = toPixels(p.source, m.size[0], m.size[1], m.size[2]);
    this.input?.dispose();
    this.input = toInput(this.pixels, m.size[2]);
    drawPixels(this.inputCanvas, this.pixels, 140);
    const pred = await predict(m, this.input);
    const first = this.targetSel.options[0];
    if (first) first.textContent = `predicted: ${m.classes[pred.top]} (${((pred.probs[pred.top] as number) * 100).toFixed(1)}%)`;
    await this.runAll();
  }

  async runAll(): Promise<void> {
    const m = this.loaded;
    const input = this.input;
    const pixels = this.pixels;
    if (!m || !input || !pixels) return;
    this.abort?.abort();
    const ac = new AbortController();
    this.abort = ac;
    const gen = ++this.generation;
    const tv = this.targetSel.value;
    const target: Target = tv === 'top' ? 'top' : Number(tv);
    const explainers = registry.list();
    const backend = await pickBackend();
    this.root.dataset['state'] = 'running';
    this.root.dataset['backend'] = backend.backend;
    this.cancelBtn.disabled = false;
    const cells = explainers.map((ex) => this.cell(ex));
    this.grid.replaceChildren(...cells.map((c) => c.el));
    const t0 = performance.now();
    let done = 0;
    let failed = 0;
    let unsupported = 0;
    for (const [i, ex] of explainers.entries()) {
      if (gen !== this.generation) return;
      const cell = cells[i] as ReturnType<Compare['cell']>;
      if (ac.signal.aborted) {
        cell.info.textContent = 'cancelled';
        continue;
      }
      this.status.textContent = `Running ${ex.name} (${i + 1} of ${explainers.length}) on ${backend.backend}…`;
      cell.el.dataset['state'] = 'running';
      try {
        const options = this.quick.checked ? quickOptions(ex) : {};
        if (Object.keys(options).length) cell.opts.textContent = Object.entries(options).map(([k, v]) => `${k}=${String(v)}`).join(' ');
        const r = await runExplainer(m, ex, input, target, options, ac.signal, (f) => (cell.progress.value = f));
        if (gen !== this.generation) return;
        if (r.map.image) drawImage(cell.canvas, r.map, 140);
        else {
          const opts = defaultDisplay(r.map.signed);
          drawLegend(cell.legend, opts, drawOverlay(cell.canvas, pixels, r.map, opts, 140));
        }
        cell.info.textContent = `${r.ms.toFixed(0)} ms · class ${r.target ?? '?'}`;
        cell.el.dataset['state'] = 'done';
        cell.el.dataset['ms'] = r.ms.toFixed(1);
        done++;
      } catch (e) {
        if (gen !== this.generation) return;
        const cancelled = e instanceof AbortError || ac.signal.aborted;
        const na = !cancelled && notApplicable(e);
        cell.info.textContent = cancelled ? 'cancelled' : na ? `does not apply to this model: ${errorText(e)}` : `failed: ${errorText(e)}`;
        cell.info.title = errorText(e);
        cell.el.dataset['state'] = cancelled ? 'cancelled' : na ? 'unsupported' : 'error';
        if (na) unsupported++;
        else if (!cancelled) failed++;
      }
      cell.progress.hidden = true;
    }
    if (gen !== this.generation) return;
    this.cancelBtn.disabled = true;
    const total = performance.now() - t0;
    this.status.textContent = `${done} of ${explainers.length} explainers in ${(total / 1000).toFixed(1)} s on ${describeBackend(backend)}${unsupported ? `; ${unsupported} do not apply to this model` : ''}${failed ? `; ${failed} failed` : ''}${ac.signal.aborted ? '; cancelled' : ''}.`;
    Object.assign(this.root.dataset, {
      state: ac.signal.aborted ? 'cancelled' : 'done',
      count: String(done),
      failed: String(failed),
      unsupported: String(unsupported),
      ms: total.toFixed(0),
    });
  }

  private cell(ex: AnyExplainer): { el: HTMLElement; canvas: HTMLCanvasElement; legend: HTMLElement; info: HTMLElement; opts: HTMLElement; progress: HTMLProgressElement } {
    const canvas = h('canvas', { class: 'xai-heatmap', width: 140, height: 140 });
    const legend = h('div', { class: 'xai-legend xai-legend-small' });
    const info = h('div', { class: 'xai-cell-info' }, 'waiting');
    const opts = h('code', { class: 'xai-cell-opts' });
    const progress = h('progress', { max: 1, value: 0 });
    const el = h('figure', { class: 'xai-cell', dataset: { id: ex.id, state: 'waiting' } }, canvas, h('figcaption', {}, h('strong', {}, ex.name), h('code', {}, ex.id), opts, info, progress), legend);
    return { el, canvas, legend, info, opts, progress };
  }
}

export function mountCompare(root: HTMLElement): Compare {
  return new Compare(root);
}
