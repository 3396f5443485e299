/**
 * `--constraint` as Slurm users write it: a label (`pi5`, `arch=arm64`,
 * `model=pi5`: those two the agent reports by itself), all of several
 * (`arch=arm64&model=pi5`), or any of several (`model=pi4|model=pi5`);
 * `&` binds tighter than `|`. A node's labels are the ones given with
 * `agent --label` and its own `arch=`/`model=`.
 */

export function matchesConstraint(labels: readonly string[], constraint: string | undefined): boolean {
  if (!constraint) return true;
  return constraint.split('|').some((all) =>
    all
      .split('&')
      .map((l) => l.trim())
      .every((l) => l === '' || labels.includes(l)),
  );
}
