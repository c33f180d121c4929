/**
 * Picks the image to explain: a bundled sample, an uploaded PNG/JPEG, or a drawing. The image is
 * kept at its own resolution and converted to the model's input size on demand, so switching
 * models re-uses it. Uploads are decoded in the page (createImageBitmap); nothing leaves it.
 */
import { h, errorText } from './dom.js';
import { decodeImage, fetchImage } from './image.js';
import type { SampleEntry } from './models.js';

export type ImageSource = CanvasImageSource & { width: number; height: number };

export interface PickedImage {
  source: ImageSource;
  /** 'sample:<url>', 'upload:<name>' or 'drawing'. */
  key: string;
  /** The true class of a sample, when known. */
  label?: number;
  caption: string;
}

export class ImagePicker {
  readonly element: HTMLElement;
  private readonly samplesEl: HTMLElement;
  private readonly pad: HTMLCanvasElement;
  private readonly padBox: HTMLElement;
  private readonly message: HTMLElement;
  private samples: SampleEntry[] = [];
  current: PickedImage | null = null;

  constructor(private readonly onPick: (p: PickedImage) => void) {
    this.samplesEl = h('div', { class: 'xai-samples', role: 'list' });
    const file = h('input', {
      type: 'file',
      accept: 'image/png,image/jpeg,image/webp',
      class: 'xai-upload',
      'aria-label': 'Upload an image (PNG or JPEG)',
      onchange: () => {
        const f = file.files?.[0];
        if (f) void this.upload(f);
        file.value = '';
      },
    });
    this.pad = h('canvas', { class: 'xai-pad', width: 280, height: 280, 'aria-label': 'Drawing pad' });
    this.padBox = h(
      'div',
      { class: 'xai-pad-box', hidden: true },
      this.pad,
      h('div', {}, h('button', { type: 'button', onclick: () => this.clearPad() }, 'Clear'), h('span', { class: 'xai-muted' }, ' Draw with the mouse or a finger; the explanation follows each stroke.')),
    );
    this.message = h('span', { class: 'xai-picker-message', role: 'status' });
    this.element = h(
      'div',
      { class: 'xai-picker' },
      this.samplesEl,
      h(
        'div',
        { class: 'xai-picker-actions' },
        h('label', { class: 'xai-button' }, 'Upload…', file),
        h('button', { type: 'button', class: 'xai-draw', onclick: () => this.startDrawing() }, 'Draw'),
        this.message,
      ),
      this.padBox,
    );
    this.setUpPad();
  }

  /** Shows the samples of a model (none for a model the reader brought). */
  setSamples(samples: SampleEntry[]): void {
    this.samples = samples;
    this.samplesEl.replaceChildren(
      ...samples.map((s, i) =>
        h(
          'button',
          { type: 'button', class: 'xai-sample', title: s.className, role: 'listitem', 'aria-label': `Sample ${i + 1}: ${s.className}`, onclick: () => void this.pickSample(i) },
          h('img', { src: s.url, alt: s.className, width: 40, height: 40 }),
        ),
      ),
    );
  }

  async pickSample(i: number): Promise<void> {
    const s = this.samples[i];
    if (!s) return;
    this.samplesEl.querySelectorAll('.xai-sample').forEach((b, j) => b.classList.toggle('selected', j === i));
    this.padBox.hidden = true;
    try {
      const source = await fetchImage(s.url);
      this.emit({ source, key: `sample:${s.url}`, label: s.label, caption: `sample: ${s.className}` });
    } catch (e) {
      this.message.textContent = errorText(e);
    }
  }

  async upload(file: File): Promise<void> {
    this.samplesEl.querySelectorAll('.xai-sample').forEach((b) => b.classList.remove('selected'));
    this.padBox.hidden = true;
    try {
      const source = await decodeImage(file);
      this.emit({ source, key: `upload:${file.name}:${file.size}`, caption: `upload: ${file.name} (${source.width}x${source.height}, resized)` });
    } catch (e) {
      this.message.textContent = `Could not read ${file.name}: ${errorText(e)}`;
    }
  }

  private emit(p: PickedImage): void {
    this.message.textContent = '';
    this.current = p;
    this.onPick(p);
  }

  private clearPad(): void {
    const ctx = this.pad.getContext('2d');
    if (!ctx) return;
    ctx.fillStyle = '#000';
    ctx.fillRect(0, 0, this.pad.width, this.pad.height);
    this.emit({ source: this.pad, key: 'drawing', caption: 'drawing' });
  }

  startDrawing(): void {
    this.samplesEl.querySelectorAll('.xai-sample').forEach((b) => b.classList.remove('selected'));
    this.padBox.hidden = false;
    this.clearPad();
  }

  private setUpPad(): void {
    const pad = this.pad;
    let drawing = false;
    let last: [number, number] | null = null;
    const pos = (e: PointerEvent): [number, number] => {
      const r = pad.getBoundingClientRect();
      return [((e.clientX - r.left) / r.width) * pad.width, ((e.clientY - r.top) / r.height) * pad.height];
    };
    const stroke = (to: [number, number]): void => {
      const ctx = pad.getContext('2d');
      if (!ctx) return;
      ctx.strokeStyle = '#fff';
      ctx.lineWidth = 22;
      ctx.lineCap = 'round';
      ctx.lineJoin = 'round';
      ctx.beginPath();
      const from = last ?? to;
      ctx.moveTo(from[0], from[1]);
      ctx.lineTo(to[0], to[1]);
      ctx.stroke();
      last = to;
    };
    pad.addEventListener('pointerdown', (e) => {
      drawing = true;
      last = null;
      pad.setPointerCapture(e.pointerId);
      stroke(pos(e));
    });
    pad.addEventListener('pointermove', (e) => {
      if (drawing) stroke(pos(e));
    });
    const end = (): void => {
      if (!drawing) return;
      drawing = false;
      last = null;
      this.emit({ source: pad, key: 'drawing', caption: 'drawing' });
    };
    pad.addEventListener('pointerup', end);
    pad.addEventListener('pointercancel', end);
  }
}
