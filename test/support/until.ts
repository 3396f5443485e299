/** Polls `probe` until it returns a value; fails naming `what` after `limitMs` (a hang guard, not a timing). */
export async function until<T>(what: string, probe: () => Promise<T | undefined>, limitMs = 30_000): Promise<T> {
  const started = Date.now();
  while (Date.now() - started < limitMs) {
    const v = await probe();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${what}: not within ${limitMs} ms`);
}
