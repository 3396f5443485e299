/**
 * Finds a class instance inside a value about to cross the wire. node:v8's
 * serializer writes one as a plain object: `new Point(1, 2)` arrives as
 * `{ x: 1, y: 2 }`, without its class or methods, and code on the other side
 * fails far from the cause (or silently computes with the wrong thing). The
 * codec refuses such a value instead, naming the class and where it sits.
 */

/** Prototypes whose objects v8 serializes as themselves. */
const KEPT: ReadonlySet<object | null> = new Set([
  null,
  Object.prototype,
  Array.prototype,
  Map.prototype,
  Set.prototype,
  Date.prototype,
  RegExp.prototype,
  Boolean.prototype,
  Number.prototype,
  String.prototype,
  BigInt.prototype,
  ArrayBuffer.prototype,
  SharedArrayBuffer.prototype,
  ...[Error, EvalError, RangeError, ReferenceError, SyntaxError, TypeError, URIError].map((e) => e.prototype),
]);

export interface ClassInstance {
  /** The constructor's name, or `an object with a custom prototype`. */
  className: string;
  /** Where in the value it sits, e.g. `value.points[3]`. */
  path: string;
}

interface Found {
  className: string;
  path: string[];
}

/** The first class instance in `value` (depth first), or undefined when every object in it round-trips. */
export function findClassInstance(value: unknown): ClassInstance | undefined {
  const seen = new Set<object>();
  // The path is built only on the way back from a find: building it for every entry cost 3× the serialization of a 200,000-entry Map.
  const visit = (v: unknown): Found | undefined => {
    if (typeof v !== 'object' || v === null || seen.has(v)) return undefined;
    seen.add(v);
    // Typed arrays, DataView and Buffer hold bytes only.
    if (ArrayBuffer.isView(v)) return undefined;
    const proto = Object.getPrototypeOf(v) as object | null;
    if (!KEPT.has(proto)) {
      const name = (proto as { constructor?: { name?: string } }).constructor?.name;
      return { className: name ? `a ${name}` : 'an object with a custom prototype', path: [] };
    }
    // Primitives are skipped before any call and nothing is allocated per entry: the walk must stay cheap beside v8's serializer.
    let found: Found | undefined;
    const step = (x: unknown, where: Where, key: unknown, i: number): boolean => {
      if (typeof x !== 'object' || x === null) return false;
      found = visit(x);
      if (found) found.path.unshift(pathStep(where, key, i));
      return found !== undefined;
    };
    if (v instanceof Map) {
      let i = 0;
      for (const [k, x] of v.entries()) {
        if (step(k, 'mapKey', k, i) || step(x, 'mapValue', k, i)) return found;
        i++;
      }
      return undefined;
    }
    if (v instanceof Set) {
      let i = 0;
      for (const x of v) {
        if (step(x, 'setValue', x, i)) return found;
        i++;
      }
      return undefined;
    }
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) if (step(v[i], 'index', i, i)) return found;
      return undefined;
    }
    // for…in, not Object.keys: no array per object (only plain and null-prototype objects get here, so nothing is inherited).
    for (const key in v) {
      if (step((v as Record<string, unknown>)[key], 'property', key, 0)) return found;
    }
    return undefined;
  };
  const found = visit(value);
  return found && { className: found.className, path: `value${found.path.join('')}` };
}

type Where = 'mapKey' | 'mapValue' | 'setValue' | 'index' | 'property';

/** One step of the path to a find, written only once something is found. */
function pathStep(where: Where, key: unknown, i: number): string {
  switch (where) {
    case 'mapKey':
      return `.keys()[${i}]`;
    case 'mapValue':
      return `.get(${describeKey(key)})`;
    case 'setValue':
      return `.values()[${i}]`;
    case 'index':
      return `[${i}]`;
    case 'property':
      return /^[A-Za-z_$][\w$]*$/.test(String(key)) ? `.${String(key)}` : `[${JSON.stringify(key)}]`;
  }
}

function describeKey(k: unknown): string {
  return typeof k === 'string' ? JSON.stringify(k).slice(0, 40) : typeof k === 'object' && k !== null ? '…' : String(k);
}
