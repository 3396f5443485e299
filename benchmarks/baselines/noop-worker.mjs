// Plain piscina baseline for W1: one call per tiny task.
export default (x) => x;
