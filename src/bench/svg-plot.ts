import type { TimelineRow } from './timeline.js';

/** Size and title of the chart. */
export interface PlotOptions {
  readonly title?: string;
  readonly widthPx?: number;
  readonly heightPx?: number;
}

interface Point {
  readonly xSec: number;
  readonly y: number;
}

interface Panel {
  readonly series: string;
  readonly label: string;
  readonly color: string;
  readonly points: readonly Point[];
  readonly top: number;
  readonly height: number;
}

const MARGIN_LEFT_PX = 72;
const MARGIN_RIGHT_PX = 24;
const MARGIN_TOP_PX = 40;
const PANEL_GAP_PX = 48;
const MARGIN_BOTTOM_PX = 40;

/**
 * Draws a timeline (rows of `parseTimeline`) as a standalone SVG: throughput (ops/s) over time on top,
 * p99 latency (ms) below, both from the `ALL` interval rows, with a dashed vertical mark and label per
 * pilot event, a mark where the run phase starts, and red ticks on intervals that had errors.
 */
export function renderTimelineSvg(rows: readonly TimelineRow[], options: PlotOptions = {}): string {
  const widthPx = options.widthPx ?? 960;
  const heightPx = options.heightPx ?? 560;
  const intervals = rows.filter((r) => r.kind === 'interval' && r.op === 'ALL');
  const events = rows.filter((r) => r.kind === 'event');
  const errorTimes = [...new Set(rows.filter((r) => r.kind === 'error').map((r) => Number(r.elapsed_sec)))];
  const allTimes = [...intervals, ...events].map((r) => Number(r.elapsed_sec));
  const xMaxSec = niceCeiling(Math.max(1, ...allTimes));
  const plotWidth = widthPx - MARGIN_LEFT_PX - MARGIN_RIGHT_PX;
  const panelHeight = (heightPx - MARGIN_TOP_PX - PANEL_GAP_PX - MARGIN_BOTTOM_PX) / 2;
  const xOf = (sec: number): number => MARGIN_LEFT_PX + (sec / xMaxSec) * plotWidth;
  const panels: Panel[] = [
    {
      series: 'throughput',
      label: 'throughput (ops/s)',
      color: '#1f77b4',
      points: intervals.map((r) => ({ xSec: Number(r.elapsed_sec), y: Number(r.ops_per_sec) })),
      top: MARGIN_TOP_PX,
      height: panelHeight,
    },
    {
      series: 'p99',
      label: 'p99 latency (ms)',
      color: '#d62728',
      points: intervals.map((r) => ({ xSec: Number(r.elapsed_sec), y: Number(r.p99_us) / 1000 })),
      top: MARGIN_TOP_PX + panelHeight + PANEL_GAP_PX,
      height: panelHeight,
    },
  ];

  const out: string[] = [];
  out.push(`<?xml version="1.0" encoding="UTF-8"?>`);
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${widthPx}" height="${heightPx}" viewBox="0 0 ${widthPx} ${heightPx}" font-family="sans-serif" font-size="11">`);
  out.push(`<rect width="${widthPx}" height="${heightPx}" fill="#ffffff"/>`);
  out.push(`<text x="${widthPx / 2}" y="22" text-anchor="middle" font-size="14">${escapeXml(options.title ?? 'cleave bench timeline')}</text>`);
  for (const panel of panels) out.push(...drawPanel(panel, xOf, xMaxSec, plotWidth));
  const bottom = panels[1]!.top + panelHeight;
  out.push(`<text x="${MARGIN_LEFT_PX + plotWidth / 2}" y="${heightPx - 6}" text-anchor="middle">elapsed (s)</text>`);

  const runStart = intervals.find((r) => r.phase === 'run');
  const loadStart = intervals.find((r) => r.phase === 'load');
  if (runStart !== undefined && loadStart !== undefined) {
    // The first run interval ends one interval after the phase starts.
    const x = xOf(Math.max(0, Number(runStart.elapsed_sec) - 1));
    out.push(`<g class="phase-mark"><line x1="${fmt(x)}" y1="${MARGIN_TOP_PX}" x2="${fmt(x)}" y2="${fmt(bottom)}" stroke="#888888" stroke-width="1"/>`);
    out.push(`<text x="${fmt(x + 3)}" y="${MARGIN_TOP_PX + 10}" fill="#555555">run</text></g>`);
  }
  for (const event of events) {
    const x = xOf(Number(event.elapsed_sec));
    out.push(`<g class="event-mark"><title>${escapeXml(event.detail)}</title>`);
    out.push(`<line x1="${fmt(x)}" y1="${MARGIN_TOP_PX}" x2="${fmt(x)}" y2="${fmt(bottom)}" stroke="#2ca02c" stroke-width="1" stroke-dasharray="4 3"/>`);
    out.push(`<text transform="translate(${fmt(x + 3)},${MARGIN_TOP_PX + 4}) rotate(90)" fill="#2ca02c">${escapeXml(event.op)}</text></g>`);
  }
  for (const sec of errorTimes) {
    const x = xOf(sec);
    out.push(`<line class="error-mark" x1="${fmt(x)}" y1="${fmt(bottom)}" x2="${fmt(x)}" y2="${fmt(bottom - 8)}" stroke="#d62728" stroke-width="2"/>`);
  }
  out.push(`</svg>`);
  return `${out.join('\n')}\n`;
}

function drawPanel(panel: Panel, xOf: (sec: number) => number, xMaxSec: number, plotWidth: number): string[] {
  const yMax = niceCeiling(Math.max(1e-3, ...panel.points.map((p) => p.y)));
  const yOf = (v: number): number => panel.top + panel.height - (v / yMax) * panel.height;
  const out: string[] = [`<g class="panel" data-series="${panel.series}">`];
  out.push(`<rect x="${MARGIN_LEFT_PX}" y="${fmt(panel.top)}" width="${fmt(plotWidth)}" height="${fmt(panel.height)}" fill="none" stroke="#cccccc"/>`);
  for (const tick of ticks(yMax)) {
    const y = yOf(tick);
    out.push(`<line x1="${MARGIN_LEFT_PX}" y1="${fmt(y)}" x2="${fmt(MARGIN_LEFT_PX + plotWidth)}" y2="${fmt(y)}" stroke="#eeeeee"/>`);
    out.push(`<text x="${MARGIN_LEFT_PX - 6}" y="${fmt(y + 4)}" text-anchor="end">${formatTick(tick)}</text>`);
  }
  for (const tick of ticks(xMaxSec)) {
    out.push(`<text x="${fmt(xOf(tick))}" y="${fmt(panel.top + panel.height + 14)}" text-anchor="middle">${formatTick(tick)}</text>`);
  }
  out.push(`<text transform="translate(16,${fmt(panel.top + panel.height / 2)}) rotate(-90)" text-anchor="middle">${escapeXml(panel.label)}</text>`);
  if (panel.points.length > 0) {
    const d = panel.points.map((p, i) => `${i === 0 ? 'M' : 'L'}${fmt(xOf(p.xSec))},${fmt(yOf(p.y))}`).join(' ');
    out.push(`<path class="series" data-series="${panel.series}" d="${d}" fill="none" stroke="${panel.color}" stroke-width="1.5"/>`);
  }
  out.push(`</g>`);
  return out;
}

/** The smallest 1, 2 or 5 × 10^n at or above `value`. */
function niceCeiling(value: number): number {
  const magnitude = Math.pow(10, Math.floor(Math.log10(value)));
  for (const step of [1, 2, 5, 10]) if (step * magnitude >= value) return step * magnitude;
  return 10 * magnitude;
}

function ticks(max: number): number[] {
  const step = max / 5;
  return Array.from({ length: 6 }, (_, i) => i * step);
}

function formatTick(value: number): string {
  if (value >= 1e6) return `${+(value / 1e6).toFixed(2)}M`;
  if (value >= 1e4) return `${+(value / 1e3).toFixed(1)}k`;
  return String(+value.toFixed(3));
}

function fmt(value: number): string {
  return value.toFixed(1);
}

function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}
