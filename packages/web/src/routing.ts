import { RoutingError } from './errors';
import { urlEscape } from './escape';
import type { RequestHandler } from './request-handler';

/**
 * Routing: URL patterns to handler classes (Tornado's `tornado.routing` / `URLSpec`).
 *
 * Patterns are anchored at both ends. A string pattern is compiled once to a `RegExp` (Python's
 * `(?P<name>...)` is accepted as `(?<name>...)`); a pattern without regex syntax is matched by plain
 * string comparison. Positional groups become `pathArgs`, named groups `pathKwargs`; a pattern may
 * use one kind or the other, never both.
 * @module
 */

/** A `RequestHandler` subclass (its constructor). */
// biome-ignore lint/suspicious/noExplicitAny: handler constructors take the framework's arguments
export type HandlerClass = new (...args: any[]) => RequestHandler;

/** Arguments passed to a handler's `initialize`. */
export type InitArgs = Record<string, unknown>;

/** A routing table entry: `[pattern, Handler, initArgs?, name?]`, or a {@link URLSpec} (see {@link url}). */
export type RuleSpec =
  | URLSpec
  | [pattern: string | RegExp, handler: HandlerClass, initArgs?: InitArgs | null, name?: string | null];

const META_RE = /^(?:[^\\.^$*+?()[\]{}|]|\\[^A-Za-z0-9])*$/;

/** What a path pattern captured: raw (still percent-encoded) positional and named groups. */
export interface PathMatch {
  args: (string | undefined)[];
  kwargs: Record<string, string | undefined> | null;
}

const NO_ARGS: PathMatch = Object.freeze({ args: [], kwargs: null }) as PathMatch;

/** Matches a request path against an anchored pattern. */
export class PathMatches {
  /** The compiled, anchored pattern. */
  readonly regex: RegExp;
  /** The number of capture groups. */
  readonly groupCount: number;
  /** The names of the named groups, or `null` for positional patterns. */
  readonly groupNames: string[] | null;
  /** For patterns without regex syntax: the exact path that matches. */
  readonly literal: string | null;
  readonly #reverse: string[] | null;

  constructor(pattern: string | RegExp, ruleName = String(pattern)) {
    let source = typeof pattern === 'string' ? pattern.replace(/\(\?P</g, '(?<') : pattern.source;
    const flags = typeof pattern === 'string' ? '' : pattern.flags.replace(/[gy]/g, '');
    if (!source.endsWith('$')) source += '$';
    if (!source.startsWith('^')) source = `^${source}`;
    try {
      this.regex = new RegExp(source, flags);
    } catch (e) {
      throw new RoutingError(`invalid pattern for rule ${ruleName}: ${(e as Error).message}`);
    }
    const probe = new RegExp(`(?:${source.slice(1, -1)})|`, flags).exec('')!;
    this.groupCount = probe.length - 1;
    const names = probe.groups ? Object.keys(probe.groups) : [];
    if (names.length > 0 && names.length !== this.groupCount) {
      throw new RoutingError(
        `rule ${ruleName} mixes positional and named groups; use one kind or make the others non-capturing (?:...)`,
      );
    }
    this.groupNames = names.length > 0 ? names : null;
    const body = source.slice(1, -1);
    this.literal = !flags.includes('i') && META_RE.test(body) ? body.replace(/\\(.)/g, '$1') : null;
    this.#reverse = findGroups(body, this.groupCount);
  }

  /** Matches `path`; `null` when it does not match. */
  match(path: string): PathMatch | null {
    if (this.literal !== null) return path === this.literal ? NO_ARGS : null;
    const m = this.regex.exec(path);
    if (m === null) return null;
    if (this.groupCount === 0) return NO_ARGS;
    if (this.groupNames !== null) return { args: [], kwargs: { ...m.groups } };
    return { args: m.slice(1), kwargs: null };
  }

  /**
   * Builds a path for this pattern from group values (URL-escaped, `/` kept). Throws a
   * `RoutingError` when the pattern is too complex to reverse or the argument count is wrong.
   */
  reverse(...args: unknown[]): string {
    if (this.#reverse === null) throw new RoutingError(`cannot reverse url regex ${this.regex.source}`);
    if (args.length !== this.groupCount) {
      throw new RoutingError(
        `required number of arguments (${this.groupCount}) not found for ${this.regex.source}`,
      );
    }
    const parts = this.#reverse;
    let out = parts[0]!;
    for (let i = 0; i < args.length; i++) {
      const a = args[i];
      const s = a instanceof Uint8Array ? Buffer.from(a).toString('utf8') : String(a);
      out += urlEscape(s, false) + parts[i + 1]!;
    }
    return out;
  }
}

/** Splits a simple pattern into literal pieces around its groups (Tornado's `_find_groups`). */
function findGroups(body: string, groupCount: number): string[] | null {
  if (countChar(body, '(') !== groupCount) return null;
  const pieces: string[] = [];
  const frags = body.split('(');
  for (let i = 0; i < frags.length; i++) {
    let frag = frags[i]!;
    if (i > 0) {
      const close = frag.indexOf(')');
      if (close < 0) return null;
      frag = frag.slice(close + 1);
    }
    const lit = reUnescape(frag);
    if (lit === null) return null;
    pieces.push(lit);
  }
  return pieces;
}

function countChar(s: string, c: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) if (s[i] === c) n++;
  return n;
}

function reUnescape(s: string): string | null {
  if (/\\[A-Za-z0-9]/.test(s)) return null;
  return s.replace(/\\(.)/g, '$1');
}

/** Matches the request's host name against an anchored pattern. */
export class HostMatches {
  readonly regex: RegExp;
  readonly pattern: string;
  constructor(hostPattern: string | RegExp) {
    let source = typeof hostPattern === 'string' ? hostPattern : hostPattern.source;
    if (!source.endsWith('$')) source += '$';
    if (!source.startsWith('^')) source = `^${source}`;
    this.pattern = source;
    this.regex = new RegExp(source, 'i');
  }
  /** Whether `hostName` matches. */
  match(hostName: string): boolean {
    return this.regex.test(hostName);
  }
}

/**
 * One routing rule: a path pattern, the handler class, the arguments for its `initialize` and an
 * optional name for {@link Application.reverseUrl}.
 */
export class URLSpec {
  readonly matcher: PathMatches;
  readonly handlerClass: HandlerClass;
  readonly initArgs: InitArgs;
  readonly name: string | null;
  constructor(
    pattern: string | RegExp,
    handlerClass: HandlerClass,
    initArgs?: InitArgs | null,
    name?: string | null,
  ) {
    if (typeof handlerClass !== 'function') {
      throw new RoutingError(`rule ${name ?? String(pattern)}: handler must be a RequestHandler class`);
    }
    this.matcher = new PathMatches(pattern, name ? `'${name}' (${String(pattern)})` : `'${String(pattern)}'`);
    this.handlerClass = handlerClass;
    this.initArgs = initArgs ?? {};
    this.name = name ?? null;
    this.found = { cls: handlerClass, initArgs: this.initArgs, match: null };
  }
  /** @internal — the routing result for matches without groups (shared, no per-request allocation). */
  readonly found: { cls: HandlerClass; initArgs: InitArgs; match: PathMatch | null };
  /** The compiled pattern. */
  get regex(): RegExp {
    return this.matcher.regex;
  }
  /** Builds a URL path from group values. */
  reverse(...args: unknown[]): string {
    return this.matcher.reverse(...args);
  }
  toString(): string {
    return `URLSpec(${this.matcher.regex.source}, ${this.handlerClass.name}, name=${this.name})`;
  }
}

/**
 * Makes a routing rule; the same as the tuple form `[pattern, Handler, initArgs, name]`.
 * @example
 * ```ts
 * new Application([url('/story/([0-9]+)', StoryHandler, { db }, 'story')]);
 * ```
 */
export function url(
  pattern: string | RegExp,
  handlerClass: HandlerClass,
  initArgs?: InitArgs | null,
  name?: string | null,
): URLSpec {
  return new URLSpec(pattern, handlerClass, initArgs, name);
}

/** Turns a {@link RuleSpec} into a {@link URLSpec}. */
export function toURLSpec(spec: RuleSpec): URLSpec {
  if (spec instanceof URLSpec) return spec;
  if (!Array.isArray(spec) || spec.length < 2 || spec.length > 4) {
    throw new RoutingError(`a rule is [pattern, Handler, initArgs?, name?]; got ${String(spec)}`);
  }
  return new URLSpec(spec[0], spec[1], spec[2], spec[3]);
}

/** The rules of one host pattern. */
export interface HostRules {
  host: HostMatches;
  rules: URLSpec[];
  /** The literal-path index of `rules` (built on first use, dropped when rules are added). */
  exact?: ExactPaths | null;
}

/**
 * An index of the literal patterns of a rule list, so that a request for one of them needs no
 * scan: `paths` maps a literal path to the first rule with that pattern; rules before
 * `firstPattern` are all literal, so a path found there wins (rule order is kept) and a path not
 * found can only match from `firstPattern` on.
 */
export interface ExactPaths {
  /** Literal path → index of its first rule; `null` when there are few (a scan is cheaper than hashing the path). */
  paths: Map<string, number> | null;
  firstPattern: number;
}

/** Up to this many literal rules before the first pattern rule, they are compared one by one. */
export const EXACT_INDEX_MIN = 8;

/** Builds the {@link ExactPaths} index of `rules`. */
export function exactPaths(rules: readonly URLSpec[]): ExactPaths {
  const paths = new Map<string, number>();
  let firstPattern = rules.length;
  for (let i = 0; i < rules.length; i++) {
    const literal = rules[i]!.matcher.literal;
    if (literal === null) {
      if (firstPattern === rules.length) firstPattern = i;
    } else if (!paths.has(literal)) {
      paths.set(literal, i);
    }
  }
  return { paths: firstPattern > EXACT_INDEX_MIN ? paths : null, firstPattern };
}
