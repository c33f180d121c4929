import { CnnXaiError, listNames } from './errors.js';
import type { AnyExplainer, ExplainerKind } from './types.js';

export interface Registry {
  /** Adds an explainer. Registering another object under a taken id is an error. */
  register(...explainers: AnyExplainer[]): Registry;
  /** The explainer with this id; throws `UNKNOWN_EXPLAINER` listing the registered ids. */
  get(id: string): AnyExplainer;
  has(id: string): boolean;
  /** Registered explainers in registration order, optionally of one kind or family. */
  list(filter?: { kind?: ExplainerKind; family?: string }): AnyExplainer[];
}

export function createRegistry(): Registry {
  const byId = new Map<string, AnyExplainer>();
  const registry: Registry = {
    register(...explainers) {
      for (const e of explainers) {
        const existing = byId.get(e.id);
        if (existing && existing !== e) {
          throw new CnnXaiError(
            'DUPLICATE_EXPLAINER',
            `An explainer with id "${e.id}" is already registered.`,
            'Give the new explainer another id, or use a registry of its own (createRegistry()).',
          );
        }
        byId.set(e.id, e);
      }
      return registry;
    },
    get(id) {
      const e = byId.get(id);
      if (!e) {
        const ids = [...byId.keys()];
        throw new CnnXaiError(
          'UNKNOWN_EXPLAINER',
          `No explainer "${id}" is registered.`,
          ids.length ? `Registered: ${listNames(ids)}.` : 'No explainers are registered: import a plugin package and call its register().',
        );
      }
      return e;
    },
    has: (id) => byId.has(id),
    list(filter) {
      return [...byId.values()].filter(
        (e) => (!filter?.kind || e.kind === filter.kind) && (!filter?.family || e.family === filter.family),
      );
    },
  };
  return registry;
}

/** The registry that plugin packages' `register()` fills by default. */
export const defaultRegistry: Registry = createRegistry();
