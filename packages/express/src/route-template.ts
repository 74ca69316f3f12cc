/**
 * The full route template of an Express request (`/api/orgs/:org/repos/:repo`), computed without
 * patching Express: the router already records the matched `Route` object on `req.route`; what it
 * does not record is the chain of mount paths above it. We find that chain by walking the app's
 * router stack (read only) from the top-level app down to the layer that holds `req.route`, and
 * read each layer's path template:
 *
 * - Express 5 (`router` >= 2.3): `layer.rawPath` is the path as registered, and `layer.match()` is a
 *   pure function that says which alternative of an array path matched (`pattern`).
 * - Express 4: layers keep only the RegExp path-to-regexp 0.1 compiled and its `keys`; the template
 *   is recovered from the RegExp source (the compiler's output is regular: a param is
 *   `(?:\/([^\/]+?))`, `*` is `(.*)`), and anything unrecognised falls back to the RegExp source,
 *   which is stable and low-cardinality.
 *
 * semantic-conventions `http.route`: "The matched route, that is, the path template ... MUST be
 * low-cardinality"; SPEC.md section 3: "template from the framework, never derived from the path,
 * includes mount prefixes". The leaf template is always `req.route.path` as the user wrote it.
 *
 * Cost: the walk runs once per `Route` object (cached in a WeakMap). When the route is reachable
 * through a single chain of single-path layers (the common case) the cached answer is a string and
 * a request pays one WeakMap lookup; otherwise only the candidate chains are matched against the
 * request path with Express's own matchers.
 */

/** A path as Express accepts it: a string, a RegExp, or (nested) arrays of them. */
type PathSpec = string | RegExp | readonly PathSpec[];

/** The parts of Express's (4 or 5) internal `Layer` this module reads. Never written. */
export interface ExpressLayer {
  handle: unknown;
  name?: string;
  route?: ExpressRoute;
  // Express 5 (`router` package)
  rawPath?: PathSpec;
  slash?: boolean;
  match?: (path: string) => false | { path: string; pattern?: unknown } | boolean;
  // Express 4
  regexp?: RegExp & { fast_slash?: boolean; fast_star?: boolean };
  keys?: ReadonlyArray<{ name: string | number; optional?: boolean }>;
}

/** `req.route`: the Route object the router dispatched to. */
export interface ExpressRoute {
  path: PathSpec;
  stack?: unknown;
}

/** An Express application, as far as this module is concerned. */
export interface ExpressApp {
  (...args: never[]): unknown;
  handle?: unknown;
  set?: unknown;
  parent?: unknown;
  mountpath?: PathSpec;
  lazyrouter?: unknown;
  _router?: { stack?: unknown };
  router?: { stack?: unknown };
}

/** One way a layer can match: its template and how to test a path against it. */
interface Alternative {
  readonly template: string;
}

/** What is known about one layer, computed once. */
interface LayerInfo {
  /** Templates of the layer's path alternatives; undefined when they cannot be recovered. */
  readonly alternatives: readonly Alternative[] | undefined;
  /** Test `path`: the matched prefix length and which alternative matched, or undefined. */
  match(path: string): { length: number; alt: number } | undefined;
}

/** Longest mount chain followed (a deeper tree is almost certainly a cycle). */
const MAX_DEPTH = 16;
/** Most chains kept per route (a router mounted in more places than this is disambiguated among the first ones). */
const MAX_CHAINS = 8;

const layerInfos = new WeakMap<object, LayerInfo>();

type CacheEntry =
  | { readonly kind: 'fixed'; readonly root: object; readonly template: string }
  | { readonly kind: 'match'; readonly root: object; readonly chains: readonly (readonly ExpressLayer[])[] }
  | { readonly kind: 'none'; readonly root: object; readonly generation: number };

const routeCache = new WeakMap<object, CacheEntry>();

/**
 * Sub-apps mounted with `app.use(path, subApp)` sit behind an anonymous `mounted_app` wrapper the
 * parent's stack cannot see through; a sub-app knows its parent (`subApp.parent`, set by Express),
 * so every sub-app a request passed through is remembered here, per parent.
 */
const subApps = new WeakMap<object, Set<ExpressApp>>();
/** Bumped whenever a new sub-app is learnt, so a cached "not found" is retried. */
let generation = 0;

/** Whether a value is an Express application (a function with `handle` and `set`). */
export function isExpressApp(v: unknown): v is ExpressApp {
  return (
    typeof v === 'function' &&
    typeof (v as ExpressApp).handle === 'function' &&
    typeof (v as ExpressApp).set === 'function'
  );
}

/** The top-level application `app` is mounted under (itself when it is not mounted); learns the chain. */
export function topApp(app: ExpressApp): ExpressApp {
  let current = app;
  for (let depth = 0; depth < MAX_DEPTH; depth++) {
    const parent = current.parent;
    if (!isExpressApp(parent)) return current;
    learnSubApp(parent, current);
    current = parent;
  }
  return current;
}

function learnSubApp(parent: ExpressApp, child: ExpressApp): void {
  let set = subApps.get(parent);
  if (set === undefined) {
    set = new Set();
    subApps.set(parent, set);
  }
  if (!set.has(child)) {
    set.add(child);
    generation++;
  }
}

/** The router stack of an app: `app._router.stack` (Express 4), `app.router.stack` (Express 5). */
function appStack(app: ExpressApp): readonly ExpressLayer[] | undefined {
  // Express 4 defines `app.router` as a getter that throws; it has `lazyrouter` and `_router`.
  const router = typeof app.lazyrouter === 'function' ? app._router : app.router;
  const stack = router?.stack;
  return Array.isArray(stack) ? (stack as ExpressLayer[]) : undefined;
}

/**
 * The route template for a request whose router dispatched to `route`, or undefined when it cannot
 * be determined (a request that matched no route never gets here).
 *
 * @param root the top-level app (see {@link topApp})
 * @param route `req.route`
 * @param pathname the request path as Express routed it (`req.originalUrl` without the query)
 */
export function resolveRouteTemplate(
  root: ExpressApp,
  route: ExpressRoute,
  pathname: string,
): string | undefined {
  let entry = routeCache.get(route);
  if (
    entry === undefined ||
    entry.root !== root ||
    (entry.kind === 'none' && entry.generation !== generation)
  ) {
    entry = build(root, route);
    routeCache.set(route, entry);
  }
  if (entry.kind === 'fixed') return entry.template;
  if (entry.kind === 'none') return undefined;
  for (const chain of entry.chains) {
    const t = matchChain(chain, route, pathname);
    if (t !== undefined) return t;
  }
  return undefined;
}

function build(root: ExpressApp, route: ExpressRoute): CacheEntry {
  const chains: ExpressLayer[][] = [];
  const stack = appStack(root);
  if (stack !== undefined) collect(stack, root, route, [], chains, new Set());
  if (chains.length === 0) return { kind: 'none', root, generation };
  if (chains.length === 1) {
    const chain = chains[0] as ExpressLayer[];
    const parts: string[] = [];
    let fixed = true;
    for (let i = 0; i < chain.length - 1; i++) {
      const alts = info(chain[i] as ExpressLayer).alternatives;
      if (alts === undefined) return { kind: 'none', root, generation };
      if (alts.length !== 1) {
        fixed = false;
        break;
      }
      parts.push((alts[0] as Alternative).template);
    }
    const leaf = leafTemplates(route);
    if (fixed && leaf.length === 1) {
      return { kind: 'fixed', root, template: joinTemplate(parts, leaf[0] as string) };
    }
  }
  for (const chain of chains) {
    for (let i = 0; i < chain.length - 1; i++) {
      if (info(chain[i] as ExpressLayer).alternatives === undefined)
        return { kind: 'none', root, generation };
    }
  }
  return { kind: 'match', root, chains };
}

/** Depth-first search for the layers leading to `route`, in router order (the order Express tries them). */
function collect(
  stack: readonly ExpressLayer[],
  app: ExpressApp,
  route: ExpressRoute,
  prefix: ExpressLayer[],
  out: ExpressLayer[][],
  visiting: Set<unknown>,
): void {
  if (prefix.length >= MAX_DEPTH || visiting.has(stack)) return;
  visiting.add(stack);
  for (const layer of stack) {
    if (out.length >= MAX_CHAINS) break;
    if (layer === null || typeof layer !== 'object') continue;
    if (layer.route !== undefined) {
      if (layer.route === route) out.push([...prefix, layer]);
      continue;
    }
    const handle = layer.handle;
    if (typeof handle !== 'function') continue;
    if (isExpressApp(handle)) {
      // `router.use(subApp)`: the app itself is the handle.
      const s = appStack(handle);
      if (s !== undefined) collect(s, handle, route, [...prefix, layer], out, visiting);
    } else if (Array.isArray((handle as { stack?: unknown }).stack)) {
      // a Router (Express 4 and 5 routers are functions with a `stack`)
      collect(
        (handle as unknown as { stack: ExpressLayer[] }).stack,
        app,
        route,
        [...prefix, layer],
        out,
        visiting,
      );
    } else if (handle.name === 'mounted_app') {
      // `app.use(path, subApp)`: Express wraps the sub-app; use the sub-apps known to have this parent.
      const children = subApps.get(app);
      if (children === undefined) continue;
      for (const child of children) {
        if (!sameMount(layer, child.mountpath)) continue;
        const s = appStack(child);
        if (s !== undefined) collect(s, child, route, [...prefix, layer], out, visiting);
      }
    }
  }
  visiting.delete(stack);
}

/** Whether a `mounted_app` layer is the one that mounts a sub-app with this `mountpath`. */
function sameMount(layer: ExpressLayer, mountpath: PathSpec | undefined): boolean {
  const alts = info(layer).alternatives;
  if (alts === undefined || mountpath === undefined) return true; // cannot tell: let path matching decide
  const expected = flatten(mountpath).map((p) => normaliseMount(templateOf(p)));
  if (expected.length !== alts.length) return false;
  return alts.every((a, i) => normaliseMount(a.template) === expected[i]);
}

function normaliseMount(t: string): string {
  return t.length > 0 && t.endsWith('/') ? t.slice(0, -1) : t;
}

function matchChain(
  chain: readonly ExpressLayer[],
  route: ExpressRoute,
  pathname: string,
): string | undefined {
  let path = pathname;
  const parts: string[] = [];
  for (let i = 0; i < chain.length - 1; i++) {
    const li = info(chain[i] as ExpressLayer);
    const m = li.match(path);
    if (m === undefined || li.alternatives === undefined) return undefined;
    // Express only strips a prefix that ends at a path separator (router `trimPrefix`).
    const next = path.charCodeAt(m.length);
    if (m.length > 0 && m.length < path.length && next !== 0x2f /* / */) return undefined;
    parts.push((li.alternatives[m.alt] as Alternative).template);
    path = path.slice(m.length);
    if (path === '' || path.charCodeAt(0) !== 0x2f) path = `/${path}`;
  }
  const leafLayer = chain[chain.length - 1] as ExpressLayer;
  const leaf = leafTemplates(route);
  if (leaf.length === 1) {
    return info(leafLayer).match(path) === undefined ? undefined : joinTemplate(parts, leaf[0] as string);
  }
  const m = routeAlternative(leafLayer, route, path);
  return m === undefined ? undefined : joinTemplate(parts, leaf[m] as string);
}

/** Which alternative of an array route path matches `path`. */
function routeAlternative(layer: ExpressLayer, route: ExpressRoute, path: string): number | undefined {
  const li = info(layer);
  const m = li.match(path);
  if (m === undefined) return undefined;
  if (li.alternatives !== undefined && li.alternatives.length === leafTemplates(route).length) return m.alt;
  return 0;
}

const leafCache = new WeakMap<object, readonly string[]>();

/** The route's own path templates (one per alternative of an array path). */
function leafTemplates(route: ExpressRoute): readonly string[] {
  let t = leafCache.get(route);
  if (t === undefined) {
    t = flatten(route.path).map(templateOf);
    if (t.length === 0) t = [''];
    leafCache.set(route, t);
  }
  return t;
}

function flatten(p: PathSpec): Array<string | RegExp> {
  if (Array.isArray(p)) return (p as PathSpec[]).flatMap((x) => flatten(x));
  return [p as string | RegExp];
}

/** A path as a template string: strings as written, a RegExp as its source (stable, low-cardinality). */
export function templateOf(p: unknown): string {
  if (typeof p === 'string') return p;
  if (p instanceof RegExp) return p.source;
  return String(p);
}

/**
 * Mount prefixes then the leaf, without doubled slashes; a `/` leaf under a prefix is the prefix
 * itself (`/api` + `/` → `/api`, as @koa/router names it), and nothing at all is `/`.
 */
export function joinTemplate(prefixes: readonly string[], leaf: string): string {
  let out = '';
  for (const p of prefixes) {
    if (p === '' || p === '/') continue;
    out = append(out, p.endsWith('/') ? p.slice(0, -1) : p);
  }
  if (leaf === '/' || leaf === '') return out === '' ? '/' : out;
  return append(out, leaf);
}

function append(base: string, part: string): string {
  if (base === '') return part;
  if (part.startsWith('/')) return base + part;
  return `${base}/${part}`;
}

// ---------------------------------------------------------------------------------------------
// Per-layer templates and matching

function info(layer: ExpressLayer): LayerInfo {
  let i = layerInfos.get(layer);
  if (i === undefined) {
    // Express 4 layers carry the compiled RegExp; the `router` package (Express 5) does not.
    i = layer.regexp instanceof RegExp ? express4Info(layer) : express5Info(layer);
    layerInfos.set(layer, i);
  }
  return i;
}

/** Express 5 / `router` 2.x: the registered path is `rawPath` (router >= 2.3); `match()` is pure there. */
function express5Info(layer: ExpressLayer): LayerInfo {
  const raw = layer.rawPath;
  if (raw === undefined) {
    // router < 2.3 keeps no template and its `match()` writes to the shared layer: give up.
    return { alternatives: undefined, match: () => undefined };
  }
  const list = Array.isArray(raw) ? flatten(raw) : [raw as string | RegExp];
  const alternatives = list.map((p) => ({ template: templateOf(p) }));
  return {
    alternatives,
    match(path) {
      const fn = layer.match;
      if (typeof fn !== 'function') return undefined;
      let m: ReturnType<NonNullable<ExpressLayer['match']>>;
      try {
        m = fn.call(layer, path);
      } catch {
        return undefined; // e.g. a malformed %-escape in a param: Express would not have matched either
      }
      if (m === false || m === true || m === null || typeof m !== 'object') return undefined;
      const alt = list.length === 1 ? 0 : list.indexOf(m.pattern as string | RegExp);
      return { length: typeof m.path === 'string' ? m.path.length : 0, alt: alt === -1 ? 0 : alt };
    },
  };
}

/** Express 4: recover templates from the RegExp path-to-regexp 0.1 produced. */
function express4Info(layer: ExpressLayer): LayerInfo {
  const re = layer.regexp;
  if (!(re instanceof RegExp)) return { alternatives: undefined, match: () => undefined };
  if (re.fast_slash) {
    return { alternatives: [{ template: '' }], match: () => ({ length: 0, alt: 0 }) };
  }
  if (re.fast_star) {
    return { alternatives: [{ template: '*' }], match: (path) => ({ length: path.length, alt: 0 }) };
  }
  const sources = splitAlternatives(re.source);
  const keys = layer.keys ?? [];
  const cursor = { k: 0 };
  const alternatives: Alternative[] = [];
  const matchers: RegExp[] = [];
  for (const src of sources) {
    const template = reverseExpress4(src, keys, cursor);
    alternatives.push({ template: template ?? src });
    matchers.push(sources.length === 1 ? re : new RegExp(src, re.flags));
    if (template === undefined) cursor.k = Number.NaN; // keys can no longer be attributed
  }
  return {
    alternatives,
    match(path) {
      for (let i = 0; i < matchers.length; i++) {
        const m = (matchers[i] as RegExp).exec(path);
        if (m !== null) return { length: m[0].length, alt: i };
      }
      return undefined;
    },
  };
}

/** path-to-regexp 0.1 joins array alternatives as `^a|^b`; split at top-level `|` before `^`. */
function splitAlternatives(source: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let inClass = false;
  let start = 0;
  for (let i = 0; i < source.length; i++) {
    const c = source[i];
    if (c === '\\') {
      i++;
      continue;
    }
    if (inClass) {
      if (c === ']') inClass = false;
      continue;
    }
    if (c === '[') inClass = true;
    else if (c === '(') depth++;
    else if (c === ')') depth--;
    else if (c === '|' && depth === 0 && source[i + 1] === '^') {
      out.push(source.slice(start, i));
      start = i + 1;
    }
  }
  out.push(source.slice(start));
  return out;
}

/** Index of the `)` closing the group opened at `open`, or -1. */
function closeParen(s: string, open: number): number {
  let depth = 0;
  let inClass = false;
  for (let i = open; i < s.length; i++) {
    const c = s[i];
    if (c === '\\') {
      i++;
      continue;
    }
    if (inClass) {
      if (c === ']') inClass = false;
      continue;
    }
    if (c === '[') inClass = true;
    else if (c === '(') depth++;
    else if (c === ')') {
      depth--;
      if (depth === 0) return i;
    }
  }
  return -1;
}

const TERMINATORS = ['(?=\\/|$)', '(?:\\/|$)', '$'];

/**
 * Undo path-to-regexp 0.1 (Express 4): `^\/orgs(?:\/([^\/]+?))\/?(?=\/|$)` → `/orgs/:org`. Only the
 * compiler's own constructs are recognised; anything else (a user RegExp, custom groups) returns
 * undefined and the caller uses the RegExp source instead.
 */
export function reverseExpress4(
  source: string,
  keys: ReadonlyArray<{ name: string | number; optional?: boolean }>,
  cursor: { k: number },
): string | undefined {
  if (!source.startsWith('^')) return undefined;
  let s = source.slice(1);
  for (const t of TERMINATORS) {
    if (s.endsWith(t)) {
      s = s.slice(0, -t.length);
      break;
    }
  }
  if (s.endsWith('\\/?')) s = s.slice(0, -3);
  let out = '';
  let i = 0;
  let k = cursor.k;
  while (i < s.length) {
    const c = s[i] as string;
    if (c === '\\') {
      if (i + 1 >= s.length) return undefined;
      out += s[i + 1];
      i += 2;
      continue;
    }
    if (s.startsWith('(?:', i)) {
      // a parameter: (?:[\.][\/](capture)[star])[?]
      let j = i + 3;
      let lead = '';
      if (s.startsWith('\\.', j)) {
        lead += '.';
        j += 2;
      }
      if (s.startsWith('\\/', j)) {
        lead += '/';
        j += 2;
      }
      if (s[j] !== '(') return undefined;
      const end = closeParen(s, j);
      if (end === -1) return undefined;
      j = end + 1;
      let star = false;
      if (s.startsWith('((?:[', j)) {
        const e2 = closeParen(s, j);
        if (e2 === -1) return undefined;
        j = e2 + 1;
        star = true;
      }
      if (s[j] !== ')') return undefined;
      j++;
      const optional = s[j] === '?';
      if (optional) j++;
      const key = Number.isNaN(k) ? undefined : keys[k];
      if (key === undefined || typeof key.name !== 'string') return undefined;
      k += star ? 2 : 1; // a star adds an unnamed capture group, which path-to-regexp also keys
      out += `${lead}:${key.name}${optional ? '?' : ''}${star ? '*' : ''}`;
      i = j;
      continue;
    }
    if (s.startsWith('(.*)', i)) {
      out += '*';
      k++;
      i += 4;
      continue;
    }
    if ('()[]{}|+*?^$.'.includes(c)) return undefined;
    out += c;
    i++;
  }
  cursor.k = k;
  return out;
}
