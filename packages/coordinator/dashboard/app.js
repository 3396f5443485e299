// The dashboard page: renders the coordinator's snapshots (one Server-Sent
// Event a second from /events). Everything from the cluster is put in the
// page as text, never as HTML: job names, inputs and logs are user data.

const THROTTLE = [
  ['under-voltage', 0],
  ['frequency capped', 1],
  ['throttled', 2],
  ['soft temperature limit', 3],
];
let csrf = '';
let selected = '';
let last;
const coresSeries = [[], [], []];

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else if (v !== undefined && v !== null) e.setAttribute(k, String(v));
  }
  for (const c of children) if (c !== undefined && c !== null) e.append(c instanceof Node ? c : String(c));
  return e;
}
const stateCell = (s) => el('td', { class: `state-${String(s).split(' ')[0]}` }, s);
const fill = (selector, rows) => document.querySelector(selector).replaceChildren(...rows);
const duration = (ms) =>
  ms < 1000
    ? `${Math.round(ms)} ms`
    : ms < 120000
      ? `${(ms / 1000).toFixed(1)} s`
      : ms < 7200000
        ? `${(ms / 60000).toFixed(1)} min`
        : `${(ms / 3600000).toFixed(1)} h`;
const bytes = (n) => (n < 1024 ? `${n} B` : n < 1048576 ? `${(n / 1024).toFixed(1)} KiB` : `${(n / 1048576).toFixed(1)} MiB`);

async function post(path) {
  const res = await fetch(path, { method: 'POST', headers: { 'x-csrf-token': csrf } });
  if (!res.ok) alert(`${path}: ${res.status} ${await res.text()}`);
}

function throttleFlags(bits) {
  if (bits < 0) return el('span', { class: 'muted' }, 'n/a');
  const out = el('span');
  for (const [name, bit] of THROTTLE) {
    if (bits & (1 << bit)) out.append(el('span', { class: 'flag' }, name));
    else if (bits & (1 << (bit + 16))) out.append(el('span', { class: 'flag past' }, `${name} (since boot)`));
  }
  if (!out.childNodes.length) out.append(el('span', { class: 'state-ok' }, 'none'));
  return out;
}

/** `2.6×` as the agent measured it (× the slowest node up), and the reason while the node is slowed: "throttled: soft temperature limit". */
function measuredSpeed(n) {
  return el(
    'td',
    { class: 'measured' },
    el('span', { class: 'factor' }, n.speedFactor === null ? '-' : `${n.speedFactor.toFixed(1)}×`),
    n.slowed ? el('span', { class: 'slowed flag' }, n.slowed) : null,
  );
}

function renderNodes(s) {
  fill(
    '#nodes tbody',
    s.nodes.map((n) => {
      const down = n.state.startsWith('down');
      const drained = n.state === 'draining' || n.state === 'drained';
      return el(
        'tr',
        { 'data-node': n.id },
        el('td', { title: n.address }, n.id),
        stateCell(n.state),
        el('td', {}, `${n.coresBusy}/${n.cores}`, el('span', { class: 'bar' }, el('span', { style: `width:${n.cores ? (100 * n.coresBusy) / n.cores : 0}%` }))),
        el('td', {}, n.freeMemoryMb === null ? `-/${n.memoryMb} MiB` : `${n.memoryMb - n.freeMemoryMb}/${n.memoryMb} MiB used`),
        el('td', {}, n.load1 === null ? '-' : n.load1.toFixed(2)),
        el('td', {}, n.temperatureC === null ? '-' : `${n.temperatureC.toFixed(1)} °C`),
        el('td', {}, throttleFlags(n.throttled)),
        el('td', {}, n.rttMs ? `${n.rttMs.toFixed(1)} ms` : '-'),
        measuredSpeed(n),
        el(
          'td',
          { class: 'speed', title: 'per core, relative to the fastest node, from the last `picompute bench`' },
          n.speed === null ? 'not measured' : n.speed.toFixed(2),
        ),
        el('td', {}, n.tasksDone),
        el(
          'td',
          {},
          down ? '' : el('button', { onclick: () => post(`/api/${drained ? 'resume' : 'drain'}/${encodeURIComponent(n.id)}`) }, drained ? 'resume' : 'drain'),
        ),
      );
    }),
  );
  const cores = s.nodes.reduce((a, n) => a + (n.state.startsWith('down') ? 0 : n.cores), 0);
  const busy = s.nodes.reduce((a, n) => a + n.coresBusy, 0);
  document.querySelector('#totals').textContent =
    `${s.nodes.filter((n) => !n.state.startsWith('down')).length} nodes up · ${busy}/${cores} cores busy · ${s.queue.length} jobs queued or running`;
  coresSeries[0].push(s.at / 1000);
  coresSeries[1].push(busy);
  coresSeries[2].push(cores);
  if (coresSeries[0].length > 600) for (const a of coresSeries) a.shift();
  coresChart.setData(coresSeries);
}

/** A job's id as a link that opens its panel. */
function jobCell(j) {
  const open = (e) => {
    e.preventDefault();
    selected = j.jobId;
    render(last);
  };
  return el('td', {}, el('a', { href: '#', onclick: open }, j.jobId));
}

/** A row of the queue or history table: the columns both start with, then `rest`. */
function jobRow(j, ...rest) {
  return el('tr', { 'data-job': j.jobId }, jobCell(j), el('td', {}, j.name), el('td', {}, j.user), stateCell(j.state), ...rest);
}

function renderQueue(s) {
  fill(
    '#queue tbody',
    s.queue.map((j) =>
      jobRow(
        j,
        el('td', {}, j.reason || ''),
        el('td', {}, `${j.tasksDone} / ${j.tasksRunning}${j.tasksQueued ? ` (+${j.tasksQueued} queued)` : ''} / ${j.tasksTotal}`),
        el('td', {}, j.priority),
        el('td', {}, duration(j.wallMs)),
        el('td', {}, el('button', { class: 'cancel', onclick: () => post(`/api/cancel/${j.jobId}`) }, 'cancel')),
      ),
    ),
  );
  fill(
    '#shares tbody',
    s.shares.map((u) => el('tr', {}, el('td', {}, u.user), el('td', {}, u.jobs), el('td', {}, u.coresInUse), el('td', {}, `${Math.round(u.share * 100)} %`))),
  );
}

function renderHistory(s) {
  fill(
    '#history tbody',
    s.history.map((j) => jobRow(j, el('td', {}, `${j.tasksDone}/${j.tasksTotal}`), el('td', {}, duration(j.wallMs)), el('td', {}, duration(j.cpuMs)))),
  );
}

function renderJob(s) {
  const ids = Object.keys(s.jobs).sort((a, b) => b - a);
  if (!ids.includes(selected)) selected = ids[0] || '';
  const select = document.querySelector('#job-select');
  select.replaceChildren(...ids.map((id) => el('option', { value: id, selected: id === selected ? '' : null }, `${id} ${s.jobs[id].name}`)));
  const j = s.jobs[selected];
  document.querySelector('#job-none').hidden = Boolean(j);
  document.querySelector('#job-detail').hidden = !j;
  if (!j) return;
  document
    .querySelector('#job-head')
    .replaceChildren(
      el('b', {}, `${j.jobId} ${j.name}`),
      ' by ',
      j.user,
      ' · ',
      el('span', { class: `state-${j.state}`, id: 'job-state' }, j.state),
      j.reason ? ` (${j.reason})` : '',
    );
  const progress = document.querySelector('#job-progress');
  progress.max = Math.max(1, j.tasksTotal);
  progress.value = j.tasksDone;
  document.querySelector('#job-numbers').textContent =
    `${j.tasksDone} of ${j.tasksTotal} tasks done, ${j.tasksRunning} running · inputs sent ${bytes(j.inputBytes)}, results ${bytes(j.resultBytes)} · elapsed ${duration(j.wallMs)}, CPU ${duration(j.cpuMs)}`;
  const error = document.querySelector('#job-error');
  error.hidden = !j.error;
  error.textContent = j.error || '';
  const t = [],
    rate = [];
  for (let i = 1; i < j.samples.length; i++) {
    const [t1, d1] = j.samples[i],
      [t0, d0] = j.samples[i - 1];
    t.push(t1);
    rate.push((d1 - d0) / Math.max(1, t1 - t0));
  }
  // A single point would make uPlot stretch the time axis over years: start the axis a minute earlier.
  if (t.length < 2) t.unshift((t[0] ?? s.at / 1000) - 60), rate.unshift(null);
  throughputChart.setData([t, rate]);
  fill(
    '#threads tbody',
    j.threads
      .sort((a, b) => (a.node + a.thread).localeCompare(b.node + b.thread))
      .map((r) =>
        el(
          'tr',
          { class: `thread state-${r.state}` },
          el('td', {}, r.node),
          el('td', {}, r.thread),
          stateCell(r.state),
          el('td', {}, r.task < 0 ? 'reduce' : `#${r.task}`),
          el('td', {}, duration(r.lastMs)),
        ),
      ),
  );
  fill(
    '#failures',
    j.failures.length
      ? j.failures.map((f) =>
          el(
            'div',
            { class: 'failure' },
            el('div', {}, `task ${f.task} (attempt ${f.attempt}) on ${f.node} thread ${f.thread}: ${f.kind}: ${f.message}`),
            f.inputPreview ? el('div', {}, 'input: ', el('code', {}, f.inputPreview)) : null,
            el('pre', { class: 'stack' }, f.stack || f.message),
            f.logs.length ? el('pre', { class: 'task-logs' }, f.logs.join('\n')) : null,
          ),
        )
      : [el('span', { class: 'muted' }, 'none')],
  );
  document.querySelector('#logs').textContent = j.logs.map((l) => `[task ${l.task} on ${l.node}] ${l.line}`).join('\n') || '(no log lines)';
}

function render(s) {
  if (!s) return;
  renderNodes(s);
  renderQueue(s);
  renderHistory(s);
  renderJob(s);
}

function chart(selector, label, series) {
  const node = document.querySelector(selector);
  // At least the last minute on the time axis, so the first points do not stretch it over years.
  const x = { time: true, range: (_u, min, max) => (min == null ? [Date.now() / 1000 - 60, Date.now() / 1000] : [Math.min(min, max - 60), max]) };
  const y = { range: (_u, _min, max) => [0, Math.max(1, max || 0) * 1.1] };
  return new uPlot(
    { width: Math.max(300, node.clientWidth || 520), height: 160, scales: { x, y }, series: [{}, ...series], axes: [{}, { label }] },
    [[], ...series.map(() => [])],
    node,
  );
}
const coresChart = chart('#cores-chart', 'cores', [
  { label: 'busy', stroke: '#1f5fbf', fill: '#1f5fbf22' },
  { label: 'total', stroke: '#999' },
]);
const throughputChart = chart('#throughput-chart', 'tasks/s', [{ label: 'tasks/s', stroke: '#17803d', fill: '#17803d22' }]);
document.querySelector('#job-select').addEventListener('change', (e) => {
  selected = e.target.value;
  render(last);
});

fetch('/api/session')
  .then((r) => r.json())
  .then((s) => (csrf = s.csrf));
const events = new EventSource('/events');
events.onmessage = (e) => {
  last = JSON.parse(e.data);
  document.querySelector('#status').textContent = `live · ${new Date(last.at).toLocaleTimeString()}`;
  render(last);
};
events.onerror = () => (document.querySelector('#status').textContent = 'disconnected; retrying…');
