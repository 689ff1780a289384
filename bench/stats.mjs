// Order statistics over plain arrays of numbers.

export function quantile(values, q) {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const at = (sorted.length - 1) * q;
  const lo = Math.floor(at);
  const hi = Math.ceil(at);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (at - lo);
}

export const median = (values) => quantile(values, 0.5);
export const min = (values) => Math.min(...values);
export const max = (values) => Math.max(...values);

/** Median and range of per-run values: {median, min, max, runs}. */
export function summarize(values) {
  return { median: median(values), min: min(values), max: max(values), runs: values.length };
}
