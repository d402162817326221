/** How reasons print figures: binary byte units, whole seconds and minutes, at most one decimal. Pure. */

const UNITS: readonly (readonly [string, number])[] = [
  ['GiB', 1024 ** 3],
  ['MiB', 1024 ** 2],
  ['KiB', 1024],
];

/** A number with at most one decimal and no trailing `.0`. */
export function figure(value: number): string {
  return String(Math.round(value * 10) / 10);
}

/** `612 MiB`, `10 GiB`, `1.5 GiB`, `300 B`. */
export function formatBytes(bytes: number): string {
  for (const [unit, size] of UNITS) {
    if (bytes >= size) return `${figure(bytes / size)} ${unit}`;
  }
  return `${bytes} B`;
}

/** `10 s`, `5 min`, `6.5 min`: minutes from one minute on. */
export function formatDuration(ms: number): string {
  return ms >= 60_000 ? `${figure(ms / 60_000)} min` : `${figure(ms / 1000)} s`;
}
