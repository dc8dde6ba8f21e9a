// valve dashboard: reads the `frame` events of /dashboard/stream (the registry's snapshot, with
// windowed histogram quantiles, valve stats and the load generator's status), derives rates
// from counter deltas over the last second, and draws them with uPlot (global `uPlot`).
//
// A chart whose metric family is not registered shows "no data" instead of a flat zero line:
// some packages are still landing, and a missing series must not look like an idle one.

/* global uPlot */

const HISTORY_S = 60; // seconds of points kept per chart
const RATE_WINDOW_MS = 1000; // rates are over the last second
const PALETTE = ['#0a58a8', '#c0392b', '#17692e', '#7d3c98', '#a65a00', '#2f3b47', '#0b7a83', '#b0306b'];

// ---------------------------------------------------------------- frames and derived values

/** Frames of the last few seconds, oldest first (for counter deltas). */
const recent = [];

const familyOf = (frame, name) => frame.families.find((f) => f.name === name);
const isDashboardRoute = (route) => route === '/dashboard' || route.startsWith('/dashboard/');
const numeric = (v) => (typeof v === 'number' ? v : v === 'inf' ? Number.POSITIVE_INFINITY : null);
/** The backpressure panel is POST /events': the audit log's controller (valve="audit") shares its metric families. */
const eventsOnly = (labels) => labels.valve === 'events';

/** Sum of a counter/gauge over the series that pass `keep`, by `groupBy` label; null if unregistered. */
function grouped(frame, name, groupBy, keep = () => true) {
  const fam = familyOf(frame, name);
  if (!fam) return null;
  const out = new Map();
  for (const s of fam.series) {
    if (!keep(s.labels)) continue;
    const key = groupBy ? (s.labels[groupBy] ?? '') : '';
    const v = numeric(s.value);
    out.set(key, (out.get(key) ?? 0) + (v ?? 0));
  }
  return out;
}

/** The frame about RATE_WINDOW_MS before `frame` (or the oldest one we have). */
function pastOf(frame) {
  let best;
  for (const f of recent) {
    if (f === frame) break;
    if (frame.t - f.t >= RATE_WINDOW_MS * 0.9) best = f;
    else if (best === undefined) best = f;
  }
  return best;
}

/** Per-second rates of a counter family by label; null if unregistered. A series absent in the past frame started at 0. */
function rates(frame, name, groupBy, keep) {
  const now = grouped(frame, name, groupBy, keep);
  if (now === null) return null;
  const past = pastOf(frame);
  if (!past || past.t >= frame.t) return new Map([...now.keys()].map((k) => [k, null]));
  const then = grouped(past, name, groupBy, keep) ?? new Map();
  const dt = (frame.t - past.t) / 1000;
  return new Map([...now].map(([k, v]) => [k, Math.max(0, (v - (then.get(k) ?? 0)) / dt)]));
}

const total = (map) => (map === null ? null : [...map.values()].reduce((a, b) => a + (b ?? 0), 0));
const first = (map) => (map === null || map.size === 0 ? null : [...map.values()][0]);

/** Histogram series of a family: [{labels, value: {count, p50, p99, window: {count, p50, p99}}}]; null if unregistered. */
function histograms(frame, name) {
  const fam = familyOf(frame, name);
  return fam ? fam.series : null;
}

// ---------------------------------------------------------------- formatting

function fmt(v, unit = '') {
  if (v === null || v === undefined || Number.isNaN(v)) return '–';
  if (v === Number.POSITIVE_INFINITY) return '∞';
  const abs = Math.abs(v);
  const digits = abs >= 100 ? 0 : abs >= 10 ? 1 : 2;
  return `${v.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: 0 })}${unit}`;
}

// ---------------------------------------------------------------- charts

const charts = new Map();

class Chart {
  /**
   * @param section data-charts container name
   * @param spec {id, title, unit, percent?, lines?(frame) => [{value, label, color}]}
   */
  constructor(section, spec) {
    this.spec = spec;
    this.labels = [];
    this.xs = [];
    this.ys = [];
    this.points = 0;
    this.extraLines = [];
    const fig = document.createElement('figure');
    fig.className = 'chart';
    fig.id = `chart-${spec.id}`;
    fig.dataset.points = '0';
    fig.dataset.state = 'waiting';
    const cap = document.createElement('figcaption');
    cap.id = `chart-${spec.id}-title`;
    cap.textContent = `${spec.title}${spec.unit ? ` (${spec.unit})` : ''}`;
    fig.setAttribute('aria-labelledby', cap.id);
    this.plotEl = document.createElement('div');
    this.plotEl.className = 'plot';
    this.plotEl.setAttribute('aria-hidden', 'true');
    this.summary = document.createElement('p');
    this.summary.className = 'sr-only';
    this.nodata = document.createElement('p');
    this.nodata.className = 'nodata';
    this.nodata.textContent = 'waiting for data…';
    fig.append(cap, this.plotEl, this.summary, this.nodata);
    document.querySelector(`[data-charts="${section}"]`).append(fig);
    this.fig = fig;
    new ResizeObserver(() => this.resize()).observe(this.plotEl);
  }

  width() {
    return Math.max(200, Math.floor(this.plotEl.clientWidth));
  }

  resize() {
    if (this.plot) this.plot.setSize({ width: this.width(), height: 150 });
  }

  build() {
    this.plot?.destroy();
    const percent = this.spec.percent === true;
    this.plot = new uPlot(
      {
        width: this.width(),
        height: 150,
        legend: { show: true, live: false },
        cursor: { show: true, drag: { x: false, y: false } },
        scales: {
          x: { time: true },
          y: {
            range: (_u, _min, max) => {
              if (percent) return [0, 100];
              const top = Math.max(max ?? 0, ...this.extraLines.map((l) => l.value));
              return [0, top > 0 ? top * 1.15 : 1];
            },
          },
        },
        axes: [
          { stroke: '#2f3b47', grid: { stroke: '#e3e6ea' }, ticks: { stroke: '#c9ced6' } },
          {
            stroke: '#2f3b47',
            size: 52,
            grid: { stroke: '#e3e6ea' },
            ticks: { stroke: '#c9ced6' },
            values: (_u, vals) => vals.map((v) => fmt(v)),
          },
        ],
        series: [
          {},
          ...this.labels.map((label, i) => ({
            label,
            stroke: PALETTE[i % PALETTE.length],
            width: 2,
            dash: label.startsWith('p50') ? [5, 4] : undefined,
            points: { show: false },
            value: (_u, v) => fmt(v),
          })),
        ],
        hooks: { draw: [(u) => this.drawLines(u)] },
      },
      [this.xs, ...this.ys],
      this.plotEl,
    );
  }

  /** Horizontal reference lines (watermarks, the CoDel target), labelled at their left end. */
  drawLines(u) {
    const { ctx, bbox } = u;
    for (const line of this.extraLines) {
      const y = Math.round(u.valToPos(line.value, 'y', true));
      if (y < bbox.top || y > bbox.top + bbox.height) continue;
      ctx.save();
      ctx.strokeStyle = line.color;
      ctx.fillStyle = line.color;
      ctx.lineWidth = 1.5 * devicePixelRatio;
      ctx.setLineDash([6 * devicePixelRatio, 4 * devicePixelRatio]);
      ctx.beginPath();
      ctx.moveTo(bbox.left, y);
      ctx.lineTo(bbox.left + bbox.width, y);
      ctx.stroke();
      ctx.font = `${12 * devicePixelRatio}px system-ui, sans-serif`;
      // uPlot leaves its axis text settings on the context: reset them for our labels.
      ctx.textAlign = 'left';
      ctx.textBaseline = 'bottom';
      ctx.fillText(line.label, bbox.left + 6 * devicePixelRatio, y - 4 * devicePixelRatio);
      ctx.restore();
    }
  }

  /**
   * Appends one point per series. `values`: Map label → number|null, null when the family is
   * not registered, or {note} to show a message instead of a chart.
   */
  push(t, values, lines = []) {
    this.extraLines = lines;
    // What the canvas draws, for tests and screen readers alike.
    this.fig.dataset.lines = lines.map((l) => l.label).join('; ');
    if (values === null || (values && typeof values.note === 'string')) {
      this.nodata.hidden = false;
      this.nodata.textContent = values === null ? 'no data (series not registered)' : values.note;
      this.fig.dataset.state = 'nodata';
      this.summary.textContent = `${this.spec.title}: ${this.nodata.textContent}`;
      return;
    }
    let rebuild = this.plot === undefined;
    for (const [label, v] of values) {
      // A series gets its line once it has a non-zero value: a valve or reason that never
      // happened draws nothing and takes no place in the legend.
      if (!this.labels.includes(label) && typeof v === 'number' && v !== 0 && !Number.isNaN(v)) {
        this.labels.push(label);
        this.ys.push(this.xs.map(() => null));
        rebuild = true;
      }
    }
    this.xs.push(t / 1000);
    this.labels.forEach((label, i) => {
      const v = values.get(label);
      this.ys[i].push(v === undefined || v === null || !Number.isFinite(v) ? null : v);
    });
    while (this.xs.length > 1 && this.xs[this.xs.length - 1] - this.xs[0] > HISTORY_S) {
      this.xs.shift();
      for (const y of this.ys) y.shift();
    }
    const any = [...values.values()].some((v) => typeof v === 'number' && Number.isFinite(v));
    if (any) this.points++;
    this.fig.dataset.points = String(this.points);
    this.fig.dataset.state = 'data';
    this.nodata.hidden = this.labels.length > 0;
    if (this.labels.length === 0) this.nodata.textContent = 'nothing yet: no series has had a non-zero value';
    this.fig.dataset.series = this.labels.join('; ');
    if (rebuild) this.build();
    else this.plot.setData([this.xs, ...this.ys]);
    this.summary.textContent = `${this.spec.title}, now: ${
      this.labels.map((l, i) => `${l} ${fmt(this.ys[i][this.ys[i].length - 1])}`).join(', ') || 'nothing'
    }`;
  }
}

// ---------------------------------------------------------------- tiles (current numbers)

const tiles = new Map();

function tile(section, id, label) {
  const host =
    section === 'load' ? document.getElementById('load-tiles') : document.querySelector(`[data-tiles="${section}"]`);
  const wrap = document.createElement('div');
  wrap.className = 'tile';
  const dt = document.createElement('dt');
  dt.textContent = label;
  const dd = document.createElement('dd');
  dd.id = `num-${id}`;
  dd.textContent = '–';
  wrap.append(dt, dd);
  host.append(wrap);
  tiles.set(id, dd);
}

function setTile(id, text, tone) {
  const dd = tiles.get(id);
  if (text === null) {
    dd.textContent = 'no data';
    dd.className = 'nodata';
    dd.removeAttribute('data-tone');
    return;
  }
  dd.className = '';
  dd.textContent = text;
  if (tone) dd.dataset.tone = tone;
  else dd.removeAttribute('data-tone');
}

// ---------------------------------------------------------------- the panels

/** Routes by their current request rate, busiest first (the dashboard's own left out). */
function busiestRoutes(frame, n) {
  const r = rates(frame, 'valve_demo_http_requests_total', 'route', (l) => !isDashboardRoute(l.route));
  if (r === null) return [];
  return [...r]
    .filter(([, v]) => (v ?? 0) > 0)
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([k]) => k);
}

const statusClass = (status) =>
  status === '503' ? '503 shed' : status.startsWith('2') ? '2xx' : status.startsWith('4') ? '4xx' : '5xx other';

let config = { watermarks: { high: 0.8, low: 0.5 }, scenarios: [], limits: {} };

const panels = [
  {
    section: 'http',
    tiles: [
      ['http-rps', 'requests/s'],
      ['http-503', '503 shed/s'],
      ['http-p99', 'p99, busiest route'],
      ['db-qps', 'DB queries/s'],
    ],
    charts: [
      { id: 'http-rps', title: 'Requests per second by route', unit: 'req/s' },
      { id: 'http-status', title: 'Responses per second by status', unit: 'resp/s' },
      { id: 'http-latency', title: 'Latency per route, p50 (dashed) and p99', unit: 'ms' },
      { id: 'db-qps', title: 'Database queries per second', unit: 'queries/s' },
    ],
    update(frame, push) {
      const keep = (l) => !isDashboardRoute(l.route);
      const byRoute = rates(frame, 'valve_demo_http_requests_total', 'route', keep);
      push('http-rps', byRoute);
      const byStatus = rates(frame, 'valve_demo_http_requests_total', 'status', keep);
      const classes = byStatus === null ? null : new Map();
      if (byStatus)
        for (const [s, v] of byStatus) classes.set(statusClass(s), (classes.get(statusClass(s)) ?? 0) + (v ?? 0));
      push('http-status', classes);
      const hs = histograms(frame, 'valve_demo_http_request_duration_seconds');
      const top = busiestRoutes(frame, 3);
      let latency = null;
      let p99Busiest = null;
      if (hs !== null) {
        latency = new Map();
        for (const route of top) {
          const h = hs.find((s) => s.labels.route === route);
          if (!h) continue;
          latency.set(`p99 ${route}`, h.value.window.p99);
          latency.set(`p50 ${route}`, h.value.window.p50);
          if (route === top[0]) p99Busiest = h.value.window.p99;
        }
      }
      push('http-latency', latency);
      const db = rates(frame, 'valve_demo_db_queries_total', null);
      push('db-qps', db === null ? null : new Map([['queries/s', total(db)]]));
      setTile('http-rps', byRoute === null ? null : fmt(total(byRoute)));
      const shed = classes?.get('503 shed') ?? 0;
      setTile('http-503', byStatus === null ? null : fmt(shed), shed > 0 ? 'warn' : undefined);
      setTile('http-p99', hs === null ? null : `${fmt(p99Busiest)} ms`);
      setTile('db-qps', db === null ? null : fmt(total(db)));
    },
  },
  {
    section: 'burst',
    tiles: [
      ['burst-rps', 'requests/s'],
      ['burst-runs', 'fetcher runs/s'],
      ['burst-share', 'coalesced share'],
      ['burst-inflight', 'in-flight keys'],
    ],
    charts: [
      { id: 'burst-rate', title: 'Requests and fetcher runs per second', unit: '/s' },
      { id: 'burst-share', title: 'Coalesced share of requests', unit: '%', percent: true },
      { id: 'burst-inflight', title: 'In-flight keys', unit: 'keys' },
    ],
    update(frame, push) {
      const runs = rates(frame, 'valve_burst_fetches_total', 'valve');
      const coalesced = rates(frame, 'valve_burst_coalesced_total', 'valve');
      const linger = rates(frame, 'valve_burst_linger_hits_total', 'valve');
      const inflight = grouped(frame, 'valve_burst_in_flight_keys', 'valve');
      if (runs === null || coalesced === null) {
        push('burst-rate', null);
        push('burst-share', null);
      } else {
        const rate = new Map();
        const share = new Map();
        for (const [valve, r] of runs) {
          const requests = r === null ? null : r + (coalesced.get(valve) ?? 0) + (linger?.get(valve) ?? 0);
          rate.set(`${valve} requests`, requests);
          rate.set(`${valve} runs`, r);
          share.set(valve, requests ? (100 * (coalesced.get(valve) ?? 0)) / requests : null);
        }
        push('burst-rate', rate);
        push('burst-share', share);
      }
      push('burst-inflight', inflight);
      const requests = runs === null ? null : total(runs) + total(coalesced) + (total(linger) ?? 0);
      setTile('burst-rps', runs === null ? null : fmt(requests));
      setTile('burst-runs', runs === null ? null : fmt(total(runs)));
      setTile('burst-share', runs === null ? null : requests ? `${fmt((100 * total(coalesced)) / requests)} %` : '–');
      setTile('burst-inflight', inflight === null ? null : fmt(total(inflight)));
    },
  },
  {
    section: 'safety',
    tiles: [
      ['sv-admitted', 'admitted/s'],
      ['sv-rejected', 'rejected/s'],
      ['sv-queue', 'queue length'],
      ['sv-sojourn', 'sojourn p99'],
      ['sv-tokens', 'tokens'],
      ['sv-discipline', 'queue discipline'],
    ],
    charts: [
      { id: 'sv-rate', title: 'Admitted and rejected (by reason) per second', unit: '/s' },
      { id: 'sv-queue', title: 'Queue length and running jobs', unit: 'jobs' },
      { id: 'sv-sojourn', title: "Sojourn p99 vs the queue discipline's target", unit: 'ms' },
      { id: 'sv-tokens', title: 'Tokens in the bucket', unit: 'tokens' },
    ],
    update(frame, push) {
      const admitted = rates(frame, 'valve_safety_admitted_total', null);
      const rejected = rates(frame, 'valve_safety_rejected_total', 'reason');
      const rejectedTotals = grouped(frame, 'valve_safety_rejected_total', 'reason');
      if (admitted === null && rejected === null) push('sv-rate', null);
      else {
        const m = new Map([['admitted', total(admitted)]]);
        // A reason gets its line once it has happened at least once (eight flat zeros say nothing).
        for (const [reason, v] of rejected ?? [])
          if ((rejectedTotals.get(reason) ?? 0) > 0) m.set(`rejected: ${reason}`, v);
        push('sv-rate', m);
      }
      const queue = grouped(frame, 'valve_safety_queued_jobs', null);
      const running = grouped(frame, 'valve_safety_running_jobs', null);
      const limit = grouped(frame, 'valve_safety_limit_jobs', null);
      push(
        'sv-queue',
        queue === null
          ? null
          : new Map([
              ['queued', first(queue)],
              ['running', first(running)],
              ['limit', first(limit)],
            ]),
      );
      const sojourn = histograms(frame, 'valve_safety_sojourn_seconds');
      const conf = safetyConfiguration(frame);
      const target = disciplineTarget(conf);
      const lines = target ? [{ value: target.ms, label: target.label, color: '#a65a00' }] : [];
      const p99 = sojourn?.[0]?.value.window.p99 ?? null;
      push('sv-sojourn', sojourn === null ? null : new Map([['sojourn p99', p99]]), lines);
      const tokens = grouped(frame, 'valve_safety_tokens', null);
      const tok = first(tokens);
      push(
        'sv-tokens',
        tokens === null
          ? null
          : tok === Number.POSITIVE_INFINITY
            ? { note: '∞: no rate limit configured' }
            : new Map([['tokens', tok]]),
      );
      const rej = total(rejected);
      setTile('sv-admitted', admitted === null ? null : fmt(total(admitted)));
      setTile('sv-rejected', rejected === null ? null : fmt(rej), rej > 0 ? 'warn' : undefined);
      setTile('sv-queue', queue === null ? null : fmt(first(queue)));
      setTile('sv-sojourn', sojourn === null ? null : `${fmt(p99)} ms`, target && p99 > target.ms ? 'warn' : undefined);
      setTile('sv-tokens', tokens === null ? null : tok === Number.POSITIVE_INFINITY ? '∞ (no rate limit)' : fmt(tok));
      setTile('sv-discipline', conf ? `${conf.queue}${conf.deadlineMs ? `, ${conf.deadlineMs} ms` : ''}` : null);
    },
  },
  {
    section: 'bp',
    tiles: [
      ['bp-state', 'state'],
      ['bp-util', 'buffer utilization'],
      ['bp-interval', 'flush interval'],
      ['bp-dropped', 'dropped (total)'],
      ['bp-dead', 'dead-lettered (total)'],
      ['bp-rejected', 'refused (total)'],
    ],
    charts: [
      { id: 'bp-util', title: 'Buffer utilization, with the watermarks', unit: '%', percent: true },
      { id: 'bp-flow', title: 'Accepted and flushed per second', unit: 'items/s' },
      { id: 'bp-interval', title: 'Adaptive flush interval', unit: 'ms' },
      { id: 'bp-drops', title: 'Dropped, refused and dead-lettered per second', unit: 'items/s' },
    ],
    update(frame, push) {
      const util = grouped(frame, 'valve_backpressure_buffer_utilization_ratio', 'valve', eventsOnly);
      const { high, low } = config.watermarks;
      push('bp-util', util === null ? null : new Map([...util].map(([k, v]) => [k, v === null ? null : v * 100])), [
        { value: high * 100, label: `high watermark ${Math.round(high * 100)} %`, color: '#b01f1f' },
        { value: low * 100, label: `low watermark ${Math.round(low * 100)} %`, color: '#17692e' },
      ]);
      const accepted = rates(frame, 'valve_backpressure_accepted_total', null, eventsOnly);
      const flushed = rates(frame, 'valve_backpressure_flushed_total', null, eventsOnly);
      push(
        'bp-flow',
        accepted === null
          ? null
          : new Map([
              ['accepted', total(accepted)],
              ['flushed', total(flushed)],
            ]),
      );
      const interval = grouped(frame, 'valve_backpressure_flush_interval_seconds', 'valve', eventsOnly);
      push('bp-interval', interval === null ? null : new Map([...interval].map(([k, v]) => [k, v * 1000])));
      const dropped = rates(frame, 'valve_backpressure_dropped_total', 'reason', eventsOnly);
      const droppedTotals = grouped(frame, 'valve_backpressure_dropped_total', 'reason', eventsOnly);
      const dead = rates(frame, 'valve_backpressure_dead_lettered_total', null, eventsOnly);
      const refused = rates(frame, 'valve_backpressure_rejected_total', null, eventsOnly);
      if (dropped === null && dead === null) push('bp-drops', null);
      else {
        const m = new Map([
          ['refused', total(refused)],
          ['dead-lettered', total(dead)],
        ]);
        for (const [reason, v] of dropped ?? [])
          if ((droppedTotals.get(reason) ?? 0) > 0) m.set(`dropped: ${reason}`, v);
        push('bp-drops', m);
      }
      const state = backpressureState(frame);
      setTile('bp-state', state, state === 'normal' ? 'ok' : state === 'elevated' ? 'warn' : state ? 'bad' : undefined);
      const u = first(util);
      setTile('bp-util', util === null ? null : `${fmt(u * 100)} %`, u >= high ? 'bad' : u >= low ? 'warn' : undefined);
      setTile('bp-interval', interval === null ? null : `${fmt(first(interval) * 1000)} ms`);
      setTile('bp-dropped', droppedTotals === null ? null : fmt(total(droppedTotals)));
      const deadTotal = grouped(frame, 'valve_backpressure_dead_lettered_total', null, eventsOnly);
      setTile('bp-dead', deadTotal === null ? null : fmt(total(deadTotal)), total(deadTotal) > 0 ? 'bad' : undefined);
      const refusedTotal = grouped(frame, 'valve_backpressure_rejected_total', null, eventsOnly);
      setTile('bp-rejected', refusedTotal === null ? null : fmt(total(refusedTotal)));
    },
  },
  {
    section: 'pool',
    tiles: [
      ['pool-queued', 'queued'],
      ['pool-active', 'active'],
      ['pool-completed', 'completed/s'],
      ['pool-failed', 'failed/s'],
      ['pool-wait', 'queue wait p99'],
    ],
    charts: [
      { id: 'pool-queue', title: 'Queued and active tasks', unit: 'tasks' },
      { id: 'pool-rate', title: 'Completed and failed per second', unit: 'tasks/s' },
      { id: 'pool-wait', title: 'Queue wait p99', unit: 'ms' },
    ],
    update(frame, push) {
      const queued = grouped(frame, 'valve_pool_queued_tasks', null);
      const active = grouped(frame, 'valve_pool_active_tasks', null);
      push(
        'pool-queue',
        queued === null
          ? null
          : new Map([
              ['queued', total(queued)],
              ['active', total(active)],
            ]),
      );
      const completed = rates(frame, 'valve_pool_completed_total', null);
      const failed = rates(frame, 'valve_pool_failed_total', null);
      push(
        'pool-rate',
        completed === null
          ? null
          : new Map([
              ['completed', total(completed)],
              ['failed', total(failed)],
            ]),
      );
      const wait = histograms(frame, 'valve_pool_wait_seconds');
      const p99 = wait?.[0]?.value.window.p99 ?? null;
      push('pool-wait', wait === null ? null : new Map([['wait p99', p99]]));
      setTile('pool-queued', queued === null ? null : fmt(total(queued)));
      setTile('pool-active', active === null ? null : fmt(total(active)));
      setTile('pool-completed', completed === null ? null : fmt(total(completed)));
      setTile('pool-failed', failed === null ? null : fmt(total(failed)), total(failed) > 0 ? 'bad' : undefined);
      setTile('pool-wait', wait === null ? null : `${fmt(p99)} ms`);
    },
  },
];

/**
 * The line the sojourn chart draws: the target of the discipline in use. CoDel ('codel',
 * 'codel-timer') sheds once the sojourn stays above its target; 'deadline' (and 'fifo' with a
 * deadline) refuses a waiter that waited its deadline; plain 'fifo' has no target.
 */
function disciplineTarget(conf) {
  if (!conf) return null;
  if (conf.queue === 'codel' || conf.queue === 'codel-timer')
    return conf.targetMs ? { ms: conf.targetMs, label: `CoDel target ${conf.targetMs} ms (${conf.queue})` } : null;
  if (conf.deadlineMs)
    return {
      ms: conf.deadlineMs,
      label: `${conf.queue === 'deadline' ? '' : `${conf.queue} `}deadline ${conf.deadlineMs} ms`,
    };
  return null;
}

/** The first SafetyValve's configuration from the valve stats the server adds (if any). */
function safetyConfiguration(frame) {
  for (const s of Object.values(frame.stats ?? {})) if (s?.configuration?.queue) return s.configuration;
  return null;
}

function backpressureState(frame) {
  for (const s of Object.values(frame.stats ?? {}))
    if (typeof s?.state === 'string' && 'bufferUtilization' in s) return s.state;
  return null;
}

// ---------------------------------------------------------------- load generator controls

const form = document.getElementById('load-form');
const scenarioSel = document.getElementById('scenario');
const rateInput = document.getElementById('rate');
const durationInput = document.getElementById('duration');
const latencyInput = document.getElementById('db-latency');
const latencyNow = document.getElementById('db-latency-now');
let latencyEdited = false;
const startBtn = document.getElementById('start');
const stopBtn = document.getElementById('stop');
const message = document.getElementById('load-message');
const help = document.getElementById('scenario-help');
let rateEdited = false;
let lastRunning = null;

function say(text, kind) {
  message.textContent = text;
  if (kind) message.dataset.kind = kind;
  else message.removeAttribute('data-kind');
}

function setupControls() {
  const { limits, scenarios } = config;
  rateInput.min = String(limits.minRate);
  rateInput.max = String(limits.maxRate);
  durationInput.min = String(limits.minDurationS);
  durationInput.max = String(limits.maxDurationS);
  latencyInput.min = '0';
  latencyInput.max = String(config.maxDbLatencyMs ?? 0);
  for (const s of scenarios) {
    const o = document.createElement('option');
    o.value = s.name;
    o.textContent = s.label;
    scenarioSel.append(o);
  }
  const sync = () => {
    const s = scenarios.find((x) => x.name === scenarioSel.value);
    help.textContent = `${s?.description ?? ''} Rate ${limits.minRate}–${limits.maxRate} req/s, duration ${limits.minDurationS}–${limits.maxDurationS} s.`;
    if (!rateEdited && s) rateInput.value = String(s.defaultRate);
    if (!latencyEdited && s) latencyInput.value = String(s.defaultDbLatencyMs ?? 0);
  };
  latencyInput.addEventListener('input', () => {
    latencyEdited = true;
  });
  scenarioSel.addEventListener('change', sync);
  rateInput.addEventListener('input', () => {
    rateEdited = true;
  });
  sync();
  for (const t of [
    ['load-state', 'state'],
    ['load-elapsed', 'elapsed'],
    ['load-sent', 'sent'],
    ['load-ok', '2xx'],
    ['load-shed', '503'],
    ['load-errors', 'errors'],
    ['load-inflight', 'in flight'],
    ['load-skipped', 'not sent (generator bound)'],
    ['load-p50', '2xx p50, last second'],
    ['load-p99', '2xx p99, last second'],
  ])
    tile('load', ...t);
}

function validInt(input) {
  const v = Number(input.value);
  const ok = input.value.trim() !== '' && Number.isInteger(v) && v >= Number(input.min) && v <= Number(input.max);
  input.setAttribute('aria-invalid', ok ? 'false' : 'true');
  return ok ? v : null;
}

form.addEventListener('submit', async (event) => {
  event.preventDefault();
  const rate = validInt(rateInput);
  const durationS = validInt(durationInput);
  const dbLatencyMs = validInt(latencyInput);
  if (dbLatencyMs === null && rate !== null && durationS !== null) {
    say(`Database latency must be a whole number of ms from 0 to ${latencyInput.max}.`, 'error');
    latencyInput.focus();
    return;
  }
  if (rate === null || durationS === null) {
    say(
      rate === null
        ? `Rate must be a whole number from ${rateInput.min} to ${rateInput.max}.`
        : `Duration must be a whole number of seconds from ${durationInput.min} to ${durationInput.max}.`,
      'error',
    );
    (rate === null ? rateInput : durationInput).focus();
    return;
  }
  startBtn.disabled = true;
  try {
    const res = await fetch('/dashboard/load', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ scenario: scenarioSel.value, rate, durationS, dbLatencyMs }),
    });
    const body = await res.json();
    if (!res.ok) {
      say(`Not started: ${body.error?.message ?? res.status}`, 'error');
      startBtn.disabled = false;
      return;
    }
    say(
      `Running ${scenarioSel.selectedOptions[0].textContent} at ${rate} req/s for ${durationS} s, database latency ${dbLatencyMs} ms per statement.`,
      'running',
    );
  } catch (error) {
    say(`Not started: ${error.message}`, 'error');
    startBtn.disabled = false;
  }
});

stopBtn.addEventListener('click', async () => {
  try {
    const res = await fetch('/dashboard/load', { method: 'DELETE' });
    const body = await res.json();
    say(body.stopped ? 'Stopped.' : 'Nothing was running.');
  } catch (error) {
    say(`Stop failed: ${error.message}`, 'error');
  }
});

function updateLoad(load) {
  if (!load) return;
  const running = load.running;
  startBtn.disabled = running;
  stopBtn.disabled = !running;
  if (lastRunning === true && !running && load.ended === 'duration') say('Finished: the run reached its duration.');
  if (lastRunning === true && !running && load.ended === 'server_closed') say('Ended: the server is closing.', 'error');
  lastRunning = running;
  setTile(
    'load-state',
    running ? `running: ${load.plan.scenario}` : load.plan ? `idle (last: ${load.plan.scenario})` : 'idle',
    running ? 'ok' : undefined,
  );
  setTile('load-elapsed', load.plan ? `${fmt(load.elapsedS)} / ${load.plan.durationS} s` : '–');
  setTile('load-sent', fmt(load.sent));
  setTile('load-ok', fmt(load.ok));
  setTile('load-shed', fmt(load.shed), load.shed > 0 ? 'warn' : undefined);
  setTile('load-errors', fmt(load.errors), load.errors > 0 ? 'bad' : undefined);
  // Sends the generator itself skipped (too many in flight): its limit, not the server's errors.
  setTile('load-skipped', fmt(load.skipped), load.skipped > 0 ? 'warn' : undefined);
  setTile('load-inflight', fmt(load.inFlight));
  setTile('load-p50', load.okP50Ms === null ? '–' : `${fmt(load.okP50Ms)} ms`);
  setTile('load-p99', load.okP99Ms === null ? '–' : `${fmt(load.okP99Ms)} ms`);
}

/** States the server's current database latency (it persists between runs). */
function updateLatency(ms) {
  const text =
    ms === null || ms === undefined
      ? 'Database latency: no setting in this demo.'
      : ms === 0
        ? 'Database latency: 0 ms, the real database (server-side setting, changed by each run).'
        : `Database latency: ${ms} ms added to every statement, holding its database connection (server-side; PGlite has one connection).`;
  if (latencyNow.dataset.ms !== String(ms)) {
    latencyNow.dataset.ms = String(ms);
    latencyNow.textContent = text;
  }
}

// ---------------------------------------------------------------- wiring

function onFrame(frame) {
  recent.push(frame);
  while (recent.length > 2 && frame.t - recent[0].t > RATE_WINDOW_MS * 3) recent.shift();
  for (const panel of panels) {
    panel.update(frame, (id, values, lines) => charts.get(id).push(frame.t, values, lines));
  }
  updateLoad(frame.load);
  updateLatency(frame.dbLatencyMs);
  document.body.dataset.frames = String(Number(document.body.dataset.frames ?? 0) + 1);
}

async function main() {
  config = await (await fetch('/dashboard/config')).json();
  setupControls();
  for (const panel of panels) {
    for (const [id, label] of panel.tiles) tile(panel.section, id, label);
    for (const spec of panel.charts) charts.set(spec.id, new Chart(panel.section, spec));
  }
  const conn = document.getElementById('connection');
  const source = new EventSource('/dashboard/stream');
  source.addEventListener('open', () => {
    conn.textContent = `live, ${Math.round(1000 / config.intervalMs)} updates/s`;
    conn.dataset.state = 'live';
  });
  source.addEventListener('error', () => {
    conn.textContent = 'disconnected: retrying…';
    conn.dataset.state = 'down';
  });
  source.addEventListener('frame', (event) => onFrame(JSON.parse(event.data)));
}

main().catch((error) => {
  say(`The dashboard failed to start: ${error.message}`, 'error');
});
