/**
 * `--constraint` as Slurm users write it: a label (`pi5`, `arch=arm64`,
 * `model=pi5`: those two the agent reports by itself), all of several
 * (`arch=arm64&model=pi5`), or any of several (`model=pi4|model=pi5`);
 * `&` binds tighter than `|`. A node's labels are the ones given with
 * `agent --label` and its own `arch=`/`model=`.
 */

/**
 * Constraints parsed: any of (`|`) all of (`&`) labels. A round asks for
 * every node whether it meets a job's constraint (1,000 nodes, several
 * rounds per submit), and a cluster sees few distinct constraints; the
 * bound only keeps a stream of made-up ones from growing it for ever.
 */
const parsed = new Map<string, string[][]>();
const PARSED_MAX = 1024;

function parse(constraint: string): string[][] {
  let any = parsed.get(constraint);
  if (!any) {
    any = constraint.split('|').map((all) =>
      all
        .split('&')
        .map((l) => l.trim())
        .filter((l) => l !== ''),
    );
    if (parsed.size >= PARSED_MAX) parsed.clear();
    parsed.set(constraint, any);
  }
  return any;
}

export function matchesConstraint(labels: readonly string[], constraint: string | undefined): boolean {
  if (!constraint) return true;
  return parse(constraint).some((all) => all.every((l) => labels.includes(l)));
}
