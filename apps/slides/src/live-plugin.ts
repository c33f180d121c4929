/**
 * A reveal.js plugin that runs an explainer live on the slide being shown.
 *
 *   <section data-live-method="grad-cam"
 *            data-live-image="images/fashion/0-ankle-boot.png"   (relative to fixtures/; or "draw")
 *            data-live-options='{"layer": "conv5"}'              (the explainer's options, JSON)
 *            data-live-target="top"                              (a class index or "top")
 *            data-live-model="fashion"                           (optional: a fixture model whose id contains this)
 *            data-live-cycle="900">                              (optional: step through the classes every 900 ms)
 *     <div class="live-stage"></div>                             (where the canvases go; appended if absent)
 *   </section>
 *
 * When such a slide is shown the plugin explains the image and draws the overlay; with
 * data-live-image="draw" the input is a drawing pad and the map follows every stroke, one
 * explanation per animation frame. When the slide is left, a running explanation is aborted and
 * the slide's tensors (its input, any result not yet read) are released; `stats()` reports tensor
 * counts so tests can check nothing stays behind. In reveal's print view (?print-pdf) every live
 * slide is rendered once, so the PDF shows the maps.
 *
 * Follows reveal.js's plugin contract (js/reveal.d.ts: { id, init(deck), destroy() }, made by a
 * factory so each deck gets its own instance).
 */
import type { RevealApi, RevealPlugin } from 'reveal.js';
import type { Registry } from '@cnn-xai/core';
import {
  defaultDisplay,
  drawImage,
  drawLegend,
  drawOverlay,
  drawPixels,
  fetchImage,
  fixtureModels,
  FIXTURES_BASE,
  loadModel,
  pickBackend,
  notApplicable,
  registry as defaultRegistry,
  runExplainer,
  toInput,
  toPixels,
  type LoadedModel,
  type Pixels,
} from '@cnn-xai/web';
import * as tf from '@tensorflow/tfjs-core';

export interface LiveStats {
  /** Explanations drawn (all slides). */
  frames: number;
  /** ms of the last frames (explain + read back + draw), newest last, at most 200. */
  frameMs: number[];
  /** The slide element being run, if any. */
  active: string | null;
  /** tf.memory().numTensors when the current/last live slide was entered and after it was left. */
  tensorsAtEnter: number | null;
  tensorsAtLeave: number | null;
  backend: string | null;
  /** Print view: live slides rendered so far, and whether all are. */
  printed: number;
  printDone: boolean;
}

export interface LivePlugin extends RevealPlugin {
  id: 'live';
  stats(): LiveStats;
}

export interface LivePluginOptions {
  /** Where explainers are looked up (default: the one the site uses, filled in apps/web/src/plugins.ts). */
  registry?: Registry;
  /** Display size of the canvases, px. */
  size?: number;
}

interface Run {
  slide: HTMLElement;
  abort: AbortController;
  input: tf.Tensor4D | null;
  timers: number[];
  raf: number;
  busy: boolean;
  dirty: boolean;
}

const slideName = (s: HTMLElement): string => s.id || s.querySelector('h1,h2,h3')?.textContent?.trim() || 'slide';

export default function createLivePlugin(options: LivePluginOptions = {}): LivePlugin {
  const registry = options.registry ?? defaultRegistry;
  const size = options.size ?? 300;
  const stats: LiveStats = { frames: 0, frameMs: [], active: null, tensorsAtEnter: null, tensorsAtLeave: null, backend: null, printed: 0, printDone: false };
  let deck: RevealApi | null = null;
  let run: Run | null = null;
  /** The model a slide asks for (data-live-model: part of a fixture id), else the first fixture. */
  const model = async (want?: string): Promise<LoadedModel> => {
    const b = await pickBackend();
    stats.backend = b.backend;
    const all = await fixtureModels();
    const entry = (want && all.find((m) => m.id.includes(want))) || all[0];
    if (!entry) throw new Error('no fixture model in this build');
    return loadModel(entry);
  };

  function stage(slide: HTMLElement): { input: HTMLCanvasElement; heat: HTMLCanvasElement; legend: HTMLElement; caption: HTMLElement } {
    let el = slide.querySelector<HTMLElement>('.live-stage');
    if (!el) {
      el = document.createElement('div');
      el.className = 'live-stage';
      slide.append(el);
    }
    if (!el.querySelector('.live-heatmap')) {
      el.innerHTML = `<figure><canvas class="live-input" width="${size}" height="${size}"></canvas><figcaption class="live-input-caption">input</figcaption></figure><figure><canvas class="live-heatmap" width="${size}" height="${size}"></canvas><figcaption class="live-caption">…</figcaption><div class="live-legend"></div></figure>`;
    }
    return {
      input: el.querySelector('.live-input') as HTMLCanvasElement,
      heat: el.querySelector('.live-heatmap') as HTMLCanvasElement,
      legend: el.querySelector('.live-legend') as HTMLElement,
      caption: el.querySelector('.live-caption') as HTMLElement,
    };
  }

  function note(slide: HTMLElement, text: string): void {
    const el = stage(slide).caption;
    el.textContent = text;
    slide.dataset['liveState'] = 'unavailable';
  }

  /** Explains `input` for `target` and draws it; returns the ms it took. */
  async function frame(r: Run, m: LoadedModel, pixels: Pixels, target: number | 'top'): Promise<number> {
    const slide = r.slide;
    const id = slide.dataset['liveMethod'] as string;
    const ex = registry.get(id);
    const opts = JSON.parse(slide.dataset['liveOptions'] || '{}') as Record<string, unknown>;
    const t0 = performance.now();
    const res = await runExplainer(m, ex, r.input as tf.Tensor4D, target, opts, r.abort.signal);
    if (r.abort.signal.aborted) return 0;
    const s = stage(slide);
    if (res.map.image) drawImage(s.heat, res.map, size);
    else {
      const d = defaultDisplay(res.map.signed);
      drawLegend(s.legend, d, drawOverlay(s.heat, pixels, res.map, d, size));
    }
    const ms = performance.now() - t0;
    const cls = res.target !== null ? m.classes[res.target] ?? String(res.target) : 'custom';
    s.caption.textContent = `${ex.name} · class “${cls}” · ${ms.toFixed(0)} ms on ${tf.getBackend()}`;
    stats.frames++;
    stats.frameMs.push(ms);
    if (stats.frameMs.length > 200) stats.frameMs.shift();
    slide.dataset['liveState'] = 'done';
    slide.dataset['liveMs'] = ms.toFixed(1);
    return ms;
  }

  async function imagePixels(slide: HTMLElement, m: LoadedModel): Promise<Pixels> {
    const src = slide.dataset['liveImage'] || m.entry.samples[0]?.url || '';
    const url = new URL(src, new URL(FIXTURES_BASE, location.href)).href;
    const bitmap = await fetchImage(url);
    return toPixels(bitmap, m.size[0], m.size[1], m.size[2]);
  }

  async function enter(slide: HTMLElement | undefined): Promise<void> {
    if (!slide?.dataset['liveMethod']) return;
    const id = slide.dataset['liveMethod'];
    if (!registry.has(id)) {
      note(slide, `“${id}” is not available in this build (its plugin is not registered yet).`);
      return;
    }
    const r: Run = { slide, abort: new AbortController(), input: null, timers: [], raf: 0, busy: false, dirty: false };
    run = r;
    stats.active = slideName(slide);
    slide.dataset['liveState'] = 'running';
    try {
      const m = await model(slide.dataset['liveModel']);
      if (run !== r) return;
      stats.tensorsAtEnter = tf.memory().numTensors;
      const s = stage(slide);
      const targetAttr = slide.dataset['liveTarget'] ?? 'top';
      let target: number | 'top' = targetAttr === 'top' ? 'top' : Number(targetAttr);
      if (slide.dataset['liveImage'] === 'draw') {
        setUpPad(r, s.input, m);
        return;
      }
      const pixels = await imagePixels(slide, m);
      if (run !== r) return;
      drawPixels(s.input, pixels, size);
      r.input = toInput(pixels, m.size[2]);
      await frame(r, m, pixels, target);
      const cycle = Number(slide.dataset['liveCycle'] || 0);
      if (cycle > 0) {
        let k = typeof target === 'number' ? target : 0;
        const step = async (): Promise<void> => {
          if (run !== r || r.abort.signal.aborted) return;
          k = (k + 1) % m.classes.length;
          target = k;
          await frame(r, m, pixels, target).catch(() => 0);
          if (run === r) r.timers.push(window.setTimeout(() => void step(), cycle));
        };
        r.timers.push(window.setTimeout(() => void step(), cycle));
      }
    } catch (e) {
      if (r.abort.signal.aborted) return;
      const na = notApplicable(e);
      slide.dataset['liveState'] = na ? 'unsupported' : 'error';
      stage(slide).caption.textContent = `${na ? 'Does not apply to this model' : 'Error'}: ${e instanceof Error ? e.message.split('. ')[0] : String(e)}.`;
    }
  }

  /** The input is a drawing pad: each animation frame with new strokes runs one explanation. */
  function setUpPad(r: Run, pad: HTMLCanvasElement, m: LoadedModel): void {
    const ctx = pad.getContext('2d');
    if (!ctx) return;
    pad.classList.add('live-pad');
    ctx.fillStyle = '#000';
    ctx.fillRect(0, 0, pad.width, pad.height);
    let last: [number, number] | null = null;
    let down = false;
    const pos = (e: PointerEvent): [number, number] => {
      const b = pad.getBoundingClientRect();
      return [((e.clientX - b.left) / b.width) * pad.width, ((e.clientY - b.top) / b.height) * pad.height];
    };
    const draw = (p: [number, number]): void => {
      ctx.strokeStyle = '#fff';
      ctx.lineWidth = pad.width / 12;
      ctx.lineCap = 'round';
      ctx.beginPath();
      ctx.moveTo(...(last ?? p));
      ctx.lineTo(...p);
      ctx.stroke();
      last = p;
      r.dirty = true;
      if (!r.raf) r.raf = requestAnimationFrame(tick);
    };
    const tick = (): void => {
      r.raf = 0;
      if (run !== r || r.busy || !r.dirty) return;
      r.dirty = false;
      r.busy = true;
      const pixels = toPixels(pad, m.size[0], m.size[1], m.size[2]);
      r.input?.dispose();
      r.input = toInput(pixels, m.size[2]);
      void frame(r, m, pixels, 'top')
        .catch(() => 0)
        .finally(() => {
          r.busy = false;
          if (r.dirty && run === r) r.raf = requestAnimationFrame(tick);
        });
    };
    const onDown = (e: PointerEvent): void => {
      down = true;
      last = null;
      pad.setPointerCapture(e.pointerId);
      draw(pos(e));
      e.stopPropagation();
    };
    const onMove = (e: PointerEvent): void => {
      if (down) draw(pos(e));
    };
    const onUp = (): void => {
      down = false;
    };
    pad.addEventListener('pointerdown', onDown);
    pad.addEventListener('pointermove', onMove);
    pad.addEventListener('pointerup', onUp);
    r.abort.signal.addEventListener('abort', () => {
      pad.removeEventListener('pointerdown', onDown);
      pad.removeEventListener('pointermove', onMove);
      pad.removeEventListener('pointerup', onUp);
    });
    r.slide.dataset['liveState'] = 'ready';
    stage(r.slide).caption.textContent = 'Draw on the left: the map follows every stroke.';
  }

  /** Leaves the running slide: stops its loops, aborts a running explanation, releases its tensors. */
  function leave(): void {
    const r = run;
    if (!r) return;
    run = null;
    r.abort.abort();
    r.timers.forEach((t) => clearTimeout(t));
    if (r.raf) cancelAnimationFrame(r.raf);
    r.input?.dispose();
    r.input = null;
    stats.active = null;
    // An aborted explain() releases its own tensors when it unwinds; count once it has.
    void Promise.resolve().then(() => {
      stats.tensorsAtLeave = tf.memory().numTensors;
    });
  }

  /** Print view: render every live slide once, one after another. */
  async function renderAll(): Promise<void> {
    const slides = Array.from(document.querySelectorAll<HTMLElement>('.reveal .slides section[data-live-method]'));
    for (const slide of slides) {
      const id = slide.dataset['liveMethod'] as string;
      if (!registry.has(id)) {
        note(slide, `“${id}” is not available in this build.`);
      } else if (slide.dataset['liveImage'] === 'draw') {
        stage(slide).caption.textContent = 'Live in the deck: draw on the input and the map follows.';
      } else {
        await enter(slide);
        leave();
      }
      stats.printed++;
    }
    stats.printDone = true;
    document.documentElement.dataset['livePrinted'] = 'all';
  }

  return {
    id: 'live',
    init(d: RevealApi) {
      deck = d;
      // Canvases in place before reveal lays the slides out, so live slides are centred correctly.
      for (const slide of d.getRevealElement()?.querySelectorAll<HTMLElement>('section[data-live-method]') ?? []) stage(slide);
      // reveal.js 6 names it isPrintView at run time; its typings still say isPrintingPDF.
      const api = d as RevealApi & { isPrintView?: () => boolean; isPrintingPDF?: () => boolean };
      const printing = api.isPrintView?.() ?? api.isPrintingPDF?.() ?? /print-pdf/i.test(location.search);
      if (printing) {
        d.on('ready', () => void renderAll());
        return;
      }
      d.on('ready', (e: Event) => void enter((e as Event & { currentSlide?: HTMLElement }).currentSlide));
      d.on('slidechanged', (e: Event) => {
        leave();
        void enter((e as Event & { currentSlide?: HTMLElement }).currentSlide);
      });
      // Start TensorFlow.js, load the model and run it once in the background, so the first live
      // slide is quick (not awaited: the deck is usable at once).
      void model()
        .then(async (m) => {
          const out = tf.tidy(() => m.tap.predict(tf.zeros([1, ...m.size])));
          await out.data();
          out.dispose();
        })
        .catch(() => undefined);
    },
    destroy() {
      leave();
      deck = null;
    },
    stats: () => ({ ...stats, frameMs: [...stats.frameMs] }),
  };
}
