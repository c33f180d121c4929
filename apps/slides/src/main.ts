/**
 * The deck: reveal.js with speaker notes and our live plugin. Maths in [data-tex] elements is
 * typeset with the bundled KaTeX (nothing is fetched). An appendix lists every explainer the
 * registry holds, with one live slide each, so new plugins reach the deck without new slides.
 */
import 'reveal.js/reveal.css';
import 'reveal.js/theme/white.css';
import 'katex/dist/katex.min.css';
import './deck.css';
import katex from 'katex';
import Reveal from 'reveal.js';
import Notes from 'reveal.js/plugin/notes';
import { quickOptions, registry } from '@cnn-xai/web';
import createLivePlugin from './live-plugin';

for (const el of document.querySelectorAll<HTMLElement>('[data-tex]')) {
  katex.render(el.dataset['tex'] ?? '', el, { displayMode: el.tagName === 'DIV', throwOnError: false, output: 'htmlAndMathml' });
}

/** Appendix: a table of the registry and one live slide per explainer. */
function appendix(): void {
  const host = document.getElementById('appendix');
  if (!host) return;
  const list = registry.list();
  const overview = document.createElement('section');
  overview.id = 'every-explainer';
  overview.innerHTML = `<h2>Every explainer in this build</h2>
    <p class="small">${list.length} registered; each has a live slide below (press ↓).</p>
    <div class="registry-grid">${list.map((e) => `<span><code>${e.id}</code> <small>${e.kind}</small></span>`).join('')}</div>
    <aside class="notes">Generated from the registry at load time: a plugin added in apps/web/src/plugins.ts shows up here with its own live slide.</aside>`;
  host.append(overview);
  for (const e of list) {
    const s = document.createElement('section');
    s.id = `live-${e.id}`;
    s.dataset['liveMethod'] = e.id;
    s.dataset['liveImage'] = 'images/fashion/9-sneaker.png';
    // Capped samples/steps, so every appendix slide draws in about a second.
    const quick = quickOptions(e);
    if (Object.keys(quick).length) s.dataset['liveOptions'] = JSON.stringify(quick);
    if (e.id === 'attention') s.dataset['liveModel'] = 'attention';
    const paper = e.paper ? `<p class="small">${e.paper.authors} (${e.paper.year})</p>` : '';
    s.innerHTML = `<h3>${e.name} <code class="small">${e.id}</code></h3><p class="small">${e.description}</p>${paper}<div class="live-stage"></div>`;
    host.append(s);
  }
}
appendix();

const live = createLivePlugin();
const deck = new Reveal({
  hash: true,
  slideNumber: 'c/t',
  transition: 'slide',
  pdfSeparateFragments: false,
  plugins: [Notes, live],
});
void deck.initialize();

(globalThis as { deck?: unknown }).deck = deck;
