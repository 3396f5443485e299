/**
 * Why a job waits, or why it ended without running: Slurm's words, which
 * `queue`, `jobs`, the dashboard and `--json` show as they are ("" when
 * there is none). A closed list typed here, not a proto enum: proto3 would
 * give "no reason" a name of its own, which every JSON output would show.
 */
export type JobReason = '' | 'NoNodes' | 'Resources' | 'Priority' | 'Dependency' | 'DependencyNeverSatisfied';
