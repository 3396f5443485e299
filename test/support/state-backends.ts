/**
 * The coordinator's two state backends, for tests that must pass on both:
 * SQLite under a state dir (the default) and PostgreSQL (a test cluster of
 * its own, see ./postgres.ts). `use()` registers the hooks that start and
 * stop what the backend needs, and gives the coordinator's flags.
 */
import { afterAll, beforeAll } from 'vitest';
import { postgresProblem, startPostgres } from './postgres.js';
import type { TestPostgres } from './postgres.js';

export const STATE_BACKENDS = ['SQLite', 'PostgreSQL'] as const;
export type StateBackend = (typeof STATE_BACKENDS)[number];

/** Why the backend cannot run here, or undefined. */
export function backendProblem(backend: StateBackend): string | undefined {
  return backend === 'PostgreSQL' ? postgresProblem() : undefined;
}

/** Call inside a describe block: starts what the backend needs before its tests; `flags()` gives a new, empty state each call. */
export function useStateBackend(backend: StateBackend): { flags(): string[] } {
  let pg: TestPostgres | undefined;
  if (backend === 'PostgreSQL') {
    beforeAll(async () => {
      pg = await startPostgres();
    });
    afterAll(() => pg?.stop());
  }
  return {
    // A short lease: a coordinator started again after a SIGKILL waits out the lease of the one killed before it leads.
    flags: () => (pg ? ['--state', pg.url(pg.database()), '--state-password-file', pg.passwordFile(), '--lease', '1s'] : []),
  };
}
