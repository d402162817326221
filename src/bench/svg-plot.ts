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
  /**
   * Latency is drawn on a log scale: one stall of hundreds of milliseconds would otherwise flatten a
   * steady p99 of a few milliseconds into the axis.
   */
  readonly scale: 'linear' | 'log';
  readonly top: number;
  readonly height: number;
}

/** A value axis: where a value goes, and the values that get a grid line and a label. */
interface ValueAxis {
  readonly fraction: (value: number) => number;
  readonly ticks: readonly number[];
}

const MARGIN_LEFT_PX = 72;
const MARGIN_RIGHT_PX = 24;
const MARGIN_TOP_PX = 40;
const PANEL_GAP_PX = 48;
const MARGIN_BOTTOM_PX = 40;
/** Event labels closer than this are moved apart, so events of the same second stay legible. */
const EVENT_LABEL_GAP_PX = 14;

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
  const xTicksSec = linearTicks(Math.max(1, ...allTimes));
  const xMaxSec = xTicksSec[xTicksSec.length - 1]!;
  const plotWidth = widthPx - MARGIN_LEFT_PX - MARGIN_RIGHT_PX;
  const panelHeight = (heightPx - MARGIN_TOP_PX - PANEL_GAP_PX - MARGIN_BOTTOM_PX) / 2;
  const xOf = (sec: number): number => MARGIN_LEFT_PX + (sec / xMaxSec) * plotWidth;
  const panels: Panel[] = [
    {
      series: 'throughput',
      label: 'throughput (ops/s)',
      color: '#1f77b4',
      points: intervals.map((r) => ({ xSec: Number(r.elapsed_sec), y: Number(r.ops_per_sec) })),
      scale: 'linear',
      top: MARGIN_TOP_PX,
      height: panelHeight,
    },
    {
      series: 'p99',
      label: 'p99 latency (ms, log scale)',
      color: '#d62728',
      // An interval without completed operations has no latency: a gap in the line, not a zero.
      points: intervals.filter((r) => Number(r.count) > 0).map((r) => ({ xSec: Number(r.elapsed_sec), y: Number(r.p99_us) / 1000 })),
      scale: 'log',
      top: MARGIN_TOP_PX + panelHeight + PANEL_GAP_PX,
      height: panelHeight,
    },
  ];

  const out: string[] = [];
  out.push(`<?xml version="1.0" encoding="UTF-8"?>`);
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${widthPx}" height="${heightPx}" viewBox="0 0 ${widthPx} ${heightPx}" font-family="sans-serif" font-size="11">`);
  out.push(`<rect width="${widthPx}" height="${heightPx}" fill="#ffffff"/>`);
  out.push(`<text x="${widthPx / 2}" y="22" text-anchor="middle" font-size="14">${escapeXml(options.title ?? 'cleave bench timeline')}</text>`);
  for (const panel of panels) out.push(...drawPanel(panel, xOf, xTicksSec, plotWidth));
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
  // Every line first, then every label, so no later line crosses an earlier label.
  const eventXs = events.map((event) => xOf(Number(event.elapsed_sec)));
  for (const x of eventXs) {
    out.push(`<line class="event-mark" x1="${fmt(x)}" y1="${MARGIN_TOP_PX}" x2="${fmt(x)}" y2="${fmt(bottom)}" stroke="#2ca02c" stroke-width="1" stroke-dasharray="4 3"/>`);
  }
  let labelXMin = -Infinity;
  events.forEach((event, i) => {
    // The line marks the exact time; the label moves right of the previous one if they would overlap,
    // and a white halo keeps it legible where other lines or the series cross it.
    const labelX = Math.max(eventXs[i]! + 3, labelXMin);
    labelXMin = labelX + EVENT_LABEL_GAP_PX;
    out.push(`<g class="event-label"><title>${escapeXml(event.detail)}</title>`);
    out.push(
      `<text transform="translate(${fmt(labelX)},${MARGIN_TOP_PX + 4}) rotate(90)" fill="#2ca02c" stroke="#ffffff" stroke-width="3" paint-order="stroke">${escapeXml(event.op)}</text></g>`,
    );
  });
  for (const sec of errorTimes) {
    const x = xOf(sec);
    out.push(`<line class="error-mark" x1="${fmt(x)}" y1="${fmt(bottom)}" x2="${fmt(x)}" y2="${fmt(bottom - 8)}" stroke="#d62728" stroke-width="2"/>`);
  }
  out.push(`</svg>`);
  return `${out.join('\n')}\n`;
}

function drawPanel(panel: Panel, xOf: (sec: number) => number, xTicksSec: readonly number[], plotWidth: number): string[] {
  const values = panel.points.map((p) => p.y);
  const axis = panel.scale === 'log' ? logAxis(values) : linearAxis(values);
  const yOf = (v: number): number => panel.top + panel.height - axis.fraction(v) * panel.height;
  const out: string[] = [`<g class="panel" data-series="${panel.series}">`];
  out.push(`<rect x="${MARGIN_LEFT_PX}" y="${fmt(panel.top)}" width="${fmt(plotWidth)}" height="${fmt(panel.height)}" fill="none" stroke="#cccccc"/>`);
  for (const tick of axis.ticks) {
    const y = yOf(tick);
    out.push(`<line x1="${MARGIN_LEFT_PX}" y1="${fmt(y)}" x2="${fmt(MARGIN_LEFT_PX + plotWidth)}" y2="${fmt(y)}" stroke="#eeeeee"/>`);
    out.push(`<text x="${MARGIN_LEFT_PX - 6}" y="${fmt(y + 4)}" text-anchor="end">${formatTick(tick)}</text>`);
  }
  for (const tick of xTicksSec) {
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

/** From 0 to a round number at or above the largest value. */
function linearAxis(values: readonly number[]): ValueAxis {
  const valueTicks = linearTicks(Math.max(1e-3, ...values));
  const max = valueTicks[valueTicks.length - 1]!;
  return { fraction: (v) => v / max, ticks: valueTicks };
}

/** Whole decades around the values; 2 and 5 are labelled too when they span at most two decades. */
function logAxis(values: readonly number[]): ValueAxis {
  const positive = values.filter((v) => v > 0);
  // Without values the axis shows 1..10; with them, reduce rather than spread: a day's run has 86,400.
  const min = positive.length === 0 ? 1 : positive.reduce((a, b) => Math.min(a, b));
  const max = positive.length === 0 ? 1 : positive.reduce((a, b) => Math.max(a, b));
  const low = Math.floor(Math.log10(min));
  const high = Math.max(low + 1, Math.ceil(Math.log10(max)));
  const steps = high - low <= 2 ? [1, 2, 5] : [1];
  const decadeTicks: number[] = [];
  for (let e = low; e < high; e++) for (const step of steps) decadeTicks.push(step * 10 ** e);
  decadeTicks.push(10 ** high);
  return {
    fraction: (v) => (Math.log10(Math.max(v, 10 ** low)) - low) / (high - low),
    ticks: decadeTicks,
  };
}

/** Most intervals between ticks on a linear axis. */
const LINEAR_TICK_INTERVALS_MAX = 8;

/**
 * Ticks from 0 every round step (1, 2 or 5 × 10^n, the smallest giving at most 8 intervals) up to the
 * first one at or above `value`, so the axis ends just past the data: a 160 s run is drawn up to 160 s,
 * not 200 s.
 */
function linearTicks(value: number): number[] {
  const magnitude = 10 ** Math.floor(Math.log10(value / LINEAR_TICK_INTERVALS_MAX));
  const step = [1, 2, 5, 10].map((m) => m * magnitude).find((candidate) => value / candidate <= LINEAR_TICK_INTERVALS_MAX)!;
  const intervals = Math.ceil(value / step - 1e-9);
  return Array.from({ length: intervals + 1 }, (_, i) => i * step);
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
