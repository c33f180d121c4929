/**
 * Form controls generated from an explainer's option schema (the same declaration the CLI's
 * --set and core's validation use): numbers, booleans, choices, layer pickers, strings.
 */
import type { ModelTap, OptionSpec, OptionsSchema } from '@cnn-xai/core';
import { h } from './dom.js';

export interface Controls {
  element: HTMLElement;
  /** The options the reader set that differ from the defaults (core fills in the rest and validates). */
  read(): Record<string, unknown>;
}

function layerChoices(tap: ModelTap | null): string[] {
  if (!tap) return [];
  return tap.spatialLayers().map((l) => l.name);
}

function control(name: string, spec: OptionSpec, tap: ModelTap | null, onChange: () => void): { el: HTMLElement; read(): unknown } {
  const id = `opt-${name}-${Math.random().toString(36).slice(2, 8)}`;
  const label = (input: HTMLElement): HTMLElement =>
    h('label', { class: 'xai-option', for: id, title: spec.description }, h('span', { class: 'xai-option-name' }, name), input);
  switch (spec.type) {
    case 'number': {
      const input = h('input', {
        id,
        name,
        type: 'number',
        value: String(spec.default),
        step: spec.integer ? '1' : 'any',
        min: spec.min !== undefined ? String(spec.min) : undefined,
        max: spec.max !== undefined ? String(spec.max) : undefined,
        onchange: onChange,
      });
      return { el: label(input), read: () => (input.value.trim() === '' ? spec.default : Number(input.value)) };
    }
    case 'boolean': {
      const input = h('input', { id, name, type: 'checkbox', checked: spec.default, onchange: onChange });
      return { el: label(input), read: () => input.checked };
    }
    case 'choice':
    case 'choice-or-value': {
      const input = h('select', { id, name, onchange: onChange }, ...spec.choices.map((c) => h('option', { value: c, selected: c === spec.default }, c)));
      return { el: label(input), read: () => input.value };
    }
    case 'layer': {
      const names = layerChoices(tap);
      const input = h(
        'select',
        { id, name, multiple: spec.multiple && names.length > 1 ? true : undefined, onchange: onChange },
        h('option', { value: '' }, 'default (last spatial layer)'),
        ...names.map((n) => h('option', { value: n }, n)),
      );
      return {
        el: label(input),
        read: () => {
          const picked = Array.from(input.selectedOptions, (o) => o.value).filter(Boolean);
          if (picked.length === 0) return undefined;
          return spec.multiple && picked.length > 1 ? picked : picked[0];
        },
      };
    }
    case 'string': {
      const input = h('input', { id, name, type: 'text', value: spec.default, onchange: onChange });
      return { el: label(input), read: () => input.value };
    }
  }
}

export function buildControls(schema: OptionsSchema, tap: ModelTap | null, onChange: () => void): Controls {
  const element = h('div', { class: 'xai-options' });
  const readers: Array<[string, OptionSpec, () => unknown]> = [];
  for (const [name, spec] of Object.entries(schema)) {
    const c = control(name, spec, tap, onChange);
    element.append(c.el);
    readers.push([name, spec, c.read]);
  }
  if (readers.length === 0) element.append(h('span', { class: 'xai-muted' }, 'No options.'));
  return {
    element,
    read() {
      const out: Record<string, unknown> = {};
      for (const [name, spec, read] of readers) {
        const v = read();
        if (v !== undefined && v !== spec.default) out[name] = v;
      }
      return out;
    },
  };
}
