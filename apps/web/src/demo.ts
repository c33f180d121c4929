/**
 * The live demo island: pick an image (sample, upload, drawing) and a class, set the explainer's
 * options (controls generated from its schema), see the heatmap overlay with its legend, the
 * backend and the time taken. Long methods show progress and can be cancelled.
 *
 * Mount with `mountDemo(element, config)`, or put `data-xai-demo='{"families":["cam"]}'` on an
 * element and call `mountAll()`.
 */
import { AbortError, type AnyExplainer, type Target } from '@cnn-xai/core';
import { COLORMAPS, type ColormapName, type DisplayMode } from '@cnn-xai/viz';
import type * as tf from '@tensorflow/tfjs-core';
import { describeBackend, pickBackend, type BackendReport } from './backend.js';
import { buildControls, type Controls } from './controls.js';
import { errorText, h } from './dom.js';
import { deletionInsertion, drawCurves } from './evaluate.js';
import { notApplicable, quickOptions, QUICK_CAPS } from './quick.js';
import { toInput, toPixels, type Pixels } from './image.js';
import { fixtureModels, loadModel, type LoadedModel, type ModelEntry } from './models.js';
import { ImagePicker, type PickedImage } from './picker.js';
import { defaultDisplay, drawImage, drawLegend, drawOverlay, drawPixels, type DrawOptions, type MapData } from './render.js';
import { predict, runExplainer, selectExplainers, type Prediction } from './run.js';

export interface DemoConfig {
  /** Explainer ids to offer (in this order). */
  ids?: string[];
  /** Families whose explainers to offer. */
  families?: string[];
  exclude?: string[];
  /** Offer every registered explainer. */
  all?: boolean;
  /** The explainer selected first. */
  initial?: string;
  /** Initial options of the first explainer. */
  options?: Record<string, unknown>;
  /** Also draw deletion and insertion curves (evaluation chapter). */
  curves?: boolean;
  /** A model to use instead of the bundled fixtures (bring your own model). */
  model?: LoadedModel;
  /** Start with the first bundled model whose id contains this (e.g. "attention"), when there is one. */
  preferModel?: string;
}

type State = 'loading' | 'ready' | 'running' | 'done' | 'cancelled' | 'error' | 'unavailable' | 'unsupported';

/** Milliseconds from navigation start to the first heatmap drawn on this page (for the status line and tests). */
let firstHeatmapAt: number | null = null;

export class Demo {
  private readonly root: HTMLElement;
  private readonly picker: ImagePicker;
  private readonly explainers: AnyExplainer[];
  private readonly els: {
    model: HTMLSelectElement;
    method: HTMLSelectElement;
    about: HTMLElement;
    target: HTMLSelectElement;
    options: HTMLElement;
    mode: HTMLSelectElement;
    colormap: HTMLSelectElement;
    alpha: HTMLInputElement;
    run: HTMLButtonElement;
    cancel: HTMLButtonElement;
    progress: HTMLProgressElement;
    input: HTMLCanvasElement;
    heatmap: HTMLCanvasElement;
    legend: HTMLElement;
    caption: HTMLElement;
    status: HTMLElement;
    curves: HTMLElement;
  };
  private models: ModelEntry[] = [];
  private loaded: LoadedModel | null = null;
  private backend: BackendReport | null = null;
  private controls: Controls | null = null;
  private picked: PickedImage | null = null;
  private pixels: Pixels | null = null;
  private input: tf.Tensor4D | null = null;
  private prediction: Prediction | null = null;
  private abort: AbortController | null = null;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private displayTouched = false;
  private runs = 0;
  /** The run in progress; the next waits for it to unwind (tf.js engine scopes are global). */
  private pending: Promise<void> = Promise.resolve();

  constructor(root: HTMLElement, private readonly config: DemoConfig) {
    this.root = root;
    root.classList.add('xai-demo');
    const { available, missing } = selectExplainers(config);
    this.explainers = available;
    const sel = (props: Record<string, unknown> = {}, ...children: Node[]): HTMLSelectElement => h('select', props, ...children);
    this.els = {
      model: sel({ 'aria-label': 'Model', onchange: () => void this.switchModel() }),
      method: sel({ 'aria-label': 'Method', onchange: () => this.methodChanged() }),
      about: h('p', { class: 'xai-about' }),
      target: sel({ 'aria-label': 'Class to explain', class: 'xai-target', onchange: () => this.schedule() }),
      options: h('div'),
      mode: sel(
        { 'aria-label': 'Display', onchange: () => this.displayChanged() },
        ...(['positive', 'absolute', 'signed'] as const).map((m) => h('option', { value: m }, m)),
      ),
      colormap: sel({ 'aria-label': 'Colormap', onchange: () => this.displayChanged() }, ...COLORMAPS.map((c) => h('option', { value: c }, c))),
      alpha: h('input', { type: 'range', min: '0', max: '1', step: '0.05', value: '0.7', 'aria-label': 'Heat opacity', oninput: () => this.displayChanged() }),
      run: h('button', { type: 'button', class: 'xai-run', onclick: () => void this.run() }, 'Explain'),
      cancel: h('button', { type: 'button', class: 'xai-cancel', disabled: true, onclick: () => this.abort?.abort() }, 'Cancel'),
      progress: h('progress', { class: 'xai-progress', max: 1, value: 0 }),
      input: h('canvas', { class: 'xai-input', width: 280, height: 280, 'aria-label': 'Input image' }),
      heatmap: h('canvas', { class: 'xai-heatmap', width: 280, height: 280, 'aria-label': 'Heatmap overlay' }),
      legend: h('div', { class: 'xai-legend' }),
      caption: h('figcaption', {}),
      status: h('p', { class: 'xai-status', role: 'status', 'aria-live': 'polite' }, 'Starting TensorFlow.js…'),
      curves: h('div', { class: 'xai-curves' }),
    };
    this.picker = new ImagePicker((p) => void this.imagePicked(p));
    const notes = missing.length
      ? h(
          'p',
          { class: 'xai-unavailable' },
          `Not available in this build: ${missing.join(', ')}. `,
          h('span', { class: 'xai-muted' }, 'Its plugin is not registered in apps/web/src/plugins.ts yet; the page shows it once it is.'),
        )
      : null;
    if (available.length === 0) {
      root.replaceChildren(h('div', { class: 'xai-demo-unavailable' }, notes ?? 'No explainer is available in this build.'));
      this.setState('unavailable');
      return;
    }
    for (const e of available) this.els.method.append(h('option', { value: e.id }, `${e.name} (${e.id})`));
    if (config.initial && available.some((e) => e.id === config.initial)) this.els.method.value = config.initial;
    const e = this.els;
    root.replaceChildren(
      h(
        'div',
        { class: 'xai-panel' },
        h('fieldset', { class: 'xai-source' }, h('legend', {}, 'Image'), config.model ? null : h('label', { class: 'xai-model' }, 'Model ', e.model), this.picker.element),
        h(
          'fieldset',
          { class: 'xai-method' },
          h('legend', {}, 'Explanation'),
          h('label', {}, 'Method ', e.method),
          e.about,
          h('label', {}, 'Class ', e.target),
          e.options,
          h('details', { class: 'xai-display' }, h('summary', {}, 'Display'), h('label', {}, 'Map ', e.mode), h('label', {}, 'Colormap ', e.colormap), h('label', {}, 'Opacity ', e.alpha)),
          h('div', { class: 'xai-actions' }, e.run, e.cancel, e.progress),
        ),
      ),
      h(
        'div',
        { class: 'xai-figures' },
        h('figure', {}, e.input, h('figcaption', {}, 'Input')),
        h('figure', {}, e.heatmap, e.caption, e.legend),
        config.curves ? e.curves : null,
      ),
      e.status,
      ...(notes ? [notes] : []),
    );
    this.setState('loading');
    void this.start();
  }

  private setState(s: State): void {
    this.root.dataset['state'] = s;
    const busy = s === 'running';
    if (this.els) {
      this.els.cancel.disabled = !busy;
      this.els.run.disabled = busy || s === 'loading';
    }
  }

  private get explainer(): AnyExplainer {
    return this.explainers.find((e) => e.id === this.els.method.value) ?? (this.explainers[0] as AnyExplainer);
  }

  private async start(): Promise<void> {
    try {
      this.backend = await pickBackend();
      this.root.dataset['backend'] = this.backend.backend;
      this.root.dataset['backendMs'] = this.backend.ms.toFixed(0);
      this.root.dataset['backendReadyAt'] = performance.now().toFixed(0);
      if (this.config.model) {
        this.models = [this.config.model.entry];
        this.loaded = this.config.model;
      } else {
        this.models = await fixtureModels();
        if (this.models.length === 0) throw new Error('No fixture models in this build (fixtures/index.json is empty).');
        for (const m of this.models) this.els.model.append(h('option', { value: m.id }, m.name));
        const prefer = this.config.preferModel;
        const first = (prefer && this.models.find((m) => m.id.includes(prefer))) || (this.models[0] as ModelEntry);
        this.els.model.value = first.id;
        this.loaded = await loadModel(first);
      }
      this.root.dataset['modelReadyAt'] = performance.now().toFixed(0);
      this.modelReady(this.config.options);
      this.setState('ready');
      if (this.loaded.entry.samples.length) await this.picker.pickSample(this.defaultSample());
      else this.els.status.textContent = `Model ready on ${this.backend.backend}. Upload an image or draw one.`;
    } catch (e) {
      this.fail(e);
    }
  }

  /** A sample the default explainer shows well: the first one (an ankle boot for fashion-cnn). */
  private defaultSample(): number {
    const samples = this.loaded?.entry.samples ?? [];
    const i = samples.findIndex((s) => s.className === 'ankle-boot');
    return Math.max(0, i);
  }

  private async switchModel(): Promise<void> {
    const entry = this.models.find((m) => m.id === this.els.model.value);
    if (!entry) return;
    this.abort?.abort();
    this.setState('loading');
    try {
      this.loaded = await loadModel(entry);
      this.modelReady();
      this.setState('ready');
      if (entry.samples.length) await this.picker.pickSample(0);
      else if (this.picked) await this.imagePicked(this.picked);
    } catch (e) {
      this.fail(e);
    }
  }

  /** Class list and option controls for the current model and method. */
  private modelReady(options?: Record<string, unknown>): void {
    const m = this.loaded as LoadedModel;
    this.picker.setSamples(m.entry.samples);
    this.els.target.replaceChildren(
      h('option', { value: 'top' }, 'predicted class'),
      ...m.classes.map((c, i) => h('option', { value: String(i) }, `${i}: ${c}`)),
    );
    this.buildOptions(options);
  }

  private buildOptions(given?: Record<string, unknown>): void {
    const ex = this.explainer;
    this.controls = buildControls(ex.options, this.loaded?.tap ?? null, () => this.schedule());
    // Sample and step counts start capped, so a method shows its map in about a second; the note says so.
    const quick = quickOptions(ex);
    const initial = { ...quick, ...given };
    {
      for (const [k, v] of Object.entries(initial)) {
        const el = this.controls.element.querySelector<HTMLInputElement | HTMLSelectElement>(`[name="${k}"]`);
        if (!el) continue;
        if (el instanceof HTMLInputElement && el.type === 'checkbox') el.checked = Boolean(v);
        else el.value = String(v);
      }
    }
    const capped = Object.keys(quick).filter((k) => !(given && k in given));
    this.els.options.replaceChildren(
      this.controls.element,
      capped.length
        ? h('p', { class: 'xai-muted xai-quick-note' }, `Started with ${capped.map((k) => `${k} = ${String(quick[k])}`).join(', ')} (defaults: ${capped.map((k) => String(ex.options[k]?.default)).join(', ')}) for a quick first map; raise ${capped.length > 1 ? 'them' : 'it'} for the full method. Caps: ${Object.entries(QUICK_CAPS).map(([k, v]) => `${k} ≤ ${v}`).join(', ')}.`)
        : '',
    );
    const paper = ex.paper;
    this.els.about.replaceChildren(
      ex.description,
      paper ? h('span', { class: 'xai-paper' }, ' ', h('a', { href: paper.url, rel: 'noopener' }, `${paper.authors} (${paper.year})`)) : '',
    );
  }

  private methodChanged(): void {
    this.buildOptions();
    this.schedule();
  }

  private displayChanged(): void {
    this.displayTouched = true;
    this.redraw();
  }

  private async imagePicked(p: PickedImage): Promise<void> {
    this.picked = p;
    const m = this.loaded;
    if (!m) return;
    const [hgt, wid, ch] = m.size;
    this.pixels = toPixels(p.source, hgt, wid, ch);
    this.input?.dispose();
    this.input = toInput(this.pixels, ch);
    drawPixels(this.els.input, this.pixels);
    this.prediction = await predict(m, this.input);
    this.labelTargets();
    this.schedule(0);
  }

  private labelTargets(): void {
    const m = this.loaded;
    const pred = this.prediction;
    if (!m || !pred) return;
    const opts = Array.from(this.els.target.options);
    const pct = (i: number): string => `${((pred.probs[i] as number) * 100).toFixed(1)}%`;
    (opts[0] as HTMLOptionElement).textContent = `predicted: ${m.classes[pred.top]} (${pct(pred.top)})`;
    m.classes.forEach((c, i) => {
      const o = opts[i + 1];
      if (o) o.textContent = `${i}: ${c} — ${pct(i)}, logit ${(pred.logits[i] as number).toFixed(2)}`;
    });
  }

  /** Runs soon (coalescing quick successive changes). */
  private schedule(delay = 120): void {
    if (!this.input) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.run(), delay);
  }

  private last: { map: MapData; kind: string } | null = null;

  private display(signed: boolean): DrawOptions {
    if (!this.displayTouched) {
      const d = defaultDisplay(signed);
      this.els.mode.value = d.mode;
      this.els.colormap.value = d.colormap;
      this.els.alpha.value = String(d.alpha);
    }
    return { mode: this.els.mode.value as DisplayMode, colormap: this.els.colormap.value as ColormapName, alpha: Number(this.els.alpha.value) };
  }

  private redraw(): void {
    if (!this.last || !this.pixels) return;
    const { map, kind } = this.last;
    if (map.image) {
      drawImage(this.els.heatmap, map);
      this.els.legend.replaceChildren(h('span', { class: 'xai-muted' }, 'An image the method produced (min-max scaled).'));
      return;
    }
    const opts = this.display(map.signed);
    const full = drawOverlay(this.els.heatmap, this.pixels, map, opts);
    drawLegend(this.els.legend, opts, full);
  }

  /** Explains the current image with the current settings. */
  async run(): Promise<void> {
    const m = this.loaded;
    const input = this.input;
    if (!m || !input || !this.controls) return;
    this.abort?.abort();
    const ac = new AbortController();
    this.abort = ac;
    const runId = ++this.runs;
    const previous = this.pending;
    let finished!: () => void;
    this.pending = new Promise((r) => (finished = r));
    try {
      await previous;
      if (runId !== this.runs) return;
      await this.runNow(m, input, ac, runId);
    } finally {
      finished();
    }
  }

  private async runNow(m: LoadedModel, input: tf.Tensor4D, ac: AbortController, runId: number): Promise<void> {
    const ex = this.explainer;
    const tv = this.els.target.value;
    const target: Target = tv === 'top' ? 'top' : Number(tv);
    const options = (this.controls as Controls).read();
    this.setState('running');
    this.els.progress.value = 0;
    this.els.status.textContent = `Running ${ex.name} on ${this.backend?.backend ?? '?'}…`;
    try {
      const r = await runExplainer(m, ex, input, target, options, ac.signal, (f) => {
        if (runId === this.runs) this.els.progress.value = f;
      });
      if (runId !== this.runs) return;
      this.last = { map: r.map, kind: ex.kind };
      this.redraw();
      firstHeatmapAt ??= performance.now();
      const cls = r.target !== null ? `${r.target}: ${m.classes[r.target] ?? '?'}` : 'custom target';
      this.els.caption.textContent = `${ex.id} for class ${cls}`;
      const extras = Object.entries(r.extras)
        .map(([k, v]) => `${k} = ${typeof v === 'number' ? v.toPrecision(4) : JSON.stringify(v)}`)
        .join(', ');
      this.els.status.replaceChildren(
        h('strong', {}, `${ex.name}: ${r.ms.toFixed(0)} ms`),
        ` on ${describeBackend(this.backend as BackendReport)}. `,
        `Image: ${this.picked?.caption ?? '?'}. `,
        extras ? `${extras}. ` : '',
        h('span', { class: 'xai-muted' }, `First heatmap on this page after ${(firstHeatmapAt / 1000).toFixed(2)} s.`),
      );
      this.els.progress.value = 1;
      if (this.config.curves && r.target !== null && !r.map.image) {
        this.els.curves.textContent = 'Computing deletion and insertion curves…';
        const curves = await deletionInsertion(m, input, r.map, r.target, ac.signal);
        if (runId !== this.runs) return;
        drawCurves(this.els.curves, curves, m.classes[r.target] ?? String(r.target));
      }
      Object.assign(this.root.dataset, {
        ms: r.ms.toFixed(1),
        method: ex.id,
        target: String(r.target),
        firstHeatmapMs: firstHeatmapAt.toFixed(0),
        runs: String(runId),
      });
      this.setState('done');
    } catch (e) {
      if (runId !== this.runs) return;
      if (e instanceof AbortError || ac.signal.aborted) {
        this.els.status.textContent = `${ex.name} cancelled.`;
        this.root.dataset['runs'] = String(runId);
        this.setState('cancelled');
      } else if (notApplicable(e)) {
        this.root.dataset['runs'] = String(runId);
        this.els.status.replaceChildren(h('strong', {}, `${ex.name} does not apply to this model. `), errorText(e));
        this.els.heatmap.getContext('2d')?.clearRect(0, 0, this.els.heatmap.width, this.els.heatmap.height);
        this.els.legend.replaceChildren();
        this.setState('unsupported');
      } else {
        this.root.dataset['runs'] = String(runId);
        this.fail(e);
      }
    }
  }

  private fail(e: unknown): void {
    this.els.status.replaceChildren(h('strong', { class: 'xai-error' }, 'Error: '), errorText(e));
    this.setState('error');
  }

  /** Stops a running explanation and releases the input tensor. */
  destroy(): void {
    this.abort?.abort();
    this.input?.dispose();
    this.input = null;
  }
}

export function mountDemo(root: HTMLElement, config: DemoConfig): Demo {
  return new Demo(root, config);
}

/** Mounts every `[data-xai-demo]` element in the document (its value is the JSON config). */
export function mountAll(doc: Document = document): Demo[] {
  return Array.from(doc.querySelectorAll<HTMLElement>('[data-xai-demo]')).map((el) => {
    const config = JSON.parse(el.dataset['xaiDemo'] || '{}') as DemoConfig;
    el.removeAttribute('data-xai-demo');
    return mountDemo(el, config);
  });
}
