import nunjucks from 'nunjucks';
import { jsonEncode, linkify, squeeze, urlEscape, xhtmlEscape } from './escape';

/**
 * nunjucks builds its `SafeString` with `Object.create(String.prototype, {...})` when it loads,
 * which leaves `String.prototype` in V8's slow dictionary mode: from then on every string method
 * call in the process (`charCodeAt`, `indexOf`, `slice`... on every request, in every layer) goes
 * through a generic property lookup, about four times slower. V8 turns a prototype back into a
 * fast one when a property is loaded through an object that inherits from it by code that has
 * type feedback, so that is what this does: it loads a method through a `String` wrapper from a
 * function called often enough to get a feedback vector. Idempotent and cheap (microseconds).
 * @internal
 */
export function restoreFastStringPrototype(): void {
  for (let i = 0; i < 64; i++) loadThroughString(new String(''));
}

/** @internal */
export function loadThroughString(wrapper: object): unknown {
  return (wrapper as { charCodeAt?: unknown }).charCodeAt;
}

restoreFastStringPrototype();

/**
 * Templates, rendered by nunjucks (Jinja2 syntax, the same family as Tornado's template language:
 * `{{ expr }}`, `{% if %}`, `{% for %}`, `{% extends %}` / `{% block %}`, `{% include %}`).
 * Output is HTML-escaped unless marked safe (`{{ value | safe }}`).
 * @module
 */

/** Options of {@link TemplateLoader}. */
export interface TemplateLoaderOptions {
  /** Escape `{{ }}` output (true by default). */
  autoescape?: boolean;
  /** Re-read and recompile templates on every render (debug mode); false by default. */
  noCache?: boolean;
}

/** Marks a string as safe HTML: templates output it without escaping. */
export function markSafe(html: string): unknown {
  return new nunjucks.runtime.SafeString(html);
}

/** Helpers every template sees, besides the handler's namespace. */
export const TEMPLATE_HELPERS: Readonly<Record<string, unknown>> = Object.freeze({
  escape: xhtmlEscape,
  xhtmlEscape,
  urlEscape,
  jsonEncode: (v: unknown) => markSafe(jsonEncode(v)),
  squeeze,
  linkify: (text: string, opts?: Parameters<typeof linkify>[1]) => markSafe(linkify(text, opts)),
});

/**
 * Loads templates from a directory and renders them. Compiled templates are cached unless
 * `noCache` is set; one loader per directory is shared by every request.
 * @example
 * ```ts
 * const loader = new TemplateLoader('./templates');
 * loader.render('page.html', { title: 'Hi' });
 * ```
 */
export class TemplateLoader {
  /** The nunjucks environment (add filters or globals on it). */
  readonly env: nunjucks.Environment;
  /** The directory templates are loaded from. */
  readonly root: string;

  constructor(root: string, opts: TemplateLoaderOptions = {}) {
    this.root = root;
    const loader = new nunjucks.FileSystemLoader(root, { noCache: opts.noCache ?? false });
    this.env = new nunjucks.Environment(loader, { autoescape: opts.autoescape ?? true });
  }

  /** Renders the template file `name` (relative to the root) with `context`. */
  render(name: string, context: object): string {
    return this.env.render(name, context);
  }

  /** Renders template source given as a string (compiled each call: prefer files on hot paths). */
  renderSource(source: string, context: object): string {
    return this.env.renderString(source, context);
  }
}
