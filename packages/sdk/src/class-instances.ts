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

/** The first class instance in `value` (depth first), or undefined when every object in it round-trips. */
export function findClassInstance(value: unknown): ClassInstance | undefined {
  const seen = new Set<object>();
  const visit = (v: unknown, path: string): ClassInstance | undefined => {
    if (typeof v !== 'object' || v === null || seen.has(v)) return undefined;
    seen.add(v);
    // Typed arrays, DataView and Buffer hold bytes only (Buffer comes back as a Uint8Array-backed Buffer).
    if (ArrayBuffer.isView(v)) return undefined;
    const proto = Object.getPrototypeOf(v) as object | null;
    if (!KEPT.has(proto)) {
      const name = (proto as { constructor?: { name?: string } }).constructor?.name;
      return { className: name ? `a ${name}` : 'an object with a custom prototype', path };
    }
    if (v instanceof Map) {
      let i = 0;
      for (const [k, x] of v) {
        const found = visit(k, `${path}.keys()[${i}]`) ?? visit(x, `${path}.get(${describeKey(k)})`);
        if (found) return found;
        i++;
      }
      return undefined;
    }
    if (v instanceof Set) {
      let i = 0;
      for (const x of v) {
        const found = visit(x, `${path}.values()[${i++}]`);
        if (found) return found;
      }
      return undefined;
    }
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) {
        const found = visit(v[i], `${path}[${i}]`);
        if (found) return found;
      }
      return undefined;
    }
    for (const key of Object.keys(v)) {
      const found = visit((v as Record<string, unknown>)[key], /^[A-Za-z_$][\w$]*$/.test(key) ? `${path}.${key}` : `${path}[${JSON.stringify(key)}]`);
      if (found) return found;
    }
    return undefined;
  };
  return visit(value, 'value');
}

function describeKey(k: unknown): string {
  return typeof k === 'string' ? JSON.stringify(k).slice(0, 40) : typeof k === 'object' && k !== null ? '…' : String(k);
}
