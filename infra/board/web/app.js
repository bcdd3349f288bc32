// The live board's page. Every value that comes from the fleet or the
// change feed goes into the page as text (textContent, dataset, option
// values), never as markup: a stream called <script> shows as that text.
'use strict';

// The statuses in lifecycle order, for the counts; others are counted too.
const STATUSES = ['active', 'disconnected', 'connected', 'preparing', 'idle', 'enabled', 'created', 'disabled'];

const rows = new Map(); // streamId -> {stream, tr}
let order = [];         // stream ids, sorted
let lastId = '';        // id of the last event applied
let loading = true;     // a snapshot is being read: events wait in pending
let pending = [];
let source = null;
let countsDirty = true;
let feedError = '';     // why the board cannot read the change feed, if it cannot

// Measured by the page itself, read by the benchmark.
window.boardStats = { firstPaintMs: 0, updates: 0, lastUpdateMs: 0, totalUpdateMs: 0, resets: 0, counts: 0, totalCountsMs: 0 };

const $ = (id) => document.getElementById(id);

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined && text !== null) e.textContent = String(text);
  return e;
}

// alertMark is the one place a stream's "alert" is read: a held drop (until
// its heldUntil: then the grace is over and the next change says what
// became of it), an unstable encoder, or (a value this page does not know
// yet) the value itself.
function alertMark(s, now = Date.now()) {
  switch (s.alert) {
    case undefined: case null: case '': return null;
    case 'held': {
      const until = Date.parse(s.heldUntil);
      if (!isNaN(until) && until <= now) return null;
      return { cls: 'held', label: isNaN(until) ? 'drop held' : 'drop held until ' + shortTime(s.heldUntil) };
    }
    case 'unstable': return { cls: 'unstable', label: 'unstable' };
    default: return { cls: 'other', label: String(s.alert) };
  }
}

function age(since, now) {
  return ageOf(Date.parse(since), now);
}

function ageOf(t, now) {
  if (isNaN(t)) return '';
  let s = Math.max(0, Math.floor((now - t) / 1000));
  if (s < 60) return s + 's';
  if (s < 3600) return Math.floor(s / 60) + 'm' + String(s % 60).padStart(2, '0') + 's';
  if (s < 86400) return Math.floor(s / 3600) + 'h' + String(Math.floor(s % 3600 / 60)).padStart(2, '0') + 'm';
  return Math.floor(s / 86400) + 'd' + String(Math.floor(s % 86400 / 3600)).padStart(2, '0') + 'h';
}

function shortTime(at) {
  const t = Date.parse(at);
  return isNaN(t) ? '' : new Date(t).toISOString().slice(11, 19) + 'Z';
}

function renderRow(s, now) {
  const tr = el('tr');
  tr.dataset.id = s.streamId;
  tr.dataset.status = s.status || '';
  tr.dataset.workspace = s.workspaceId || '';
  const mark = alertMark(s, now);
  if (mark) { tr.classList.add(mark.cls); tr.dataset.alert = mark.cls; }

  tr.append(el('td', 'id', s.streamId));
  const st = el('td', 'status');
  st.dataset.status = s.status || '';
  st.append(el('span', 'badge', s.status || '—'));
  if (mark) st.append(el('span', 'mark ' + mark.cls, mark.label));
  tr.append(st);
  const since = el('td', 'age', age(s.since, now));
  since.title = s.since || '';
  tr.append(since);
  tr.append(el('td', 'ws' + (s.workspaceId ? '' : ' dim'), s.workspaceId || '—'));
  // The last event: its type when the board saw it come, else the time of
  // the stream's or a target's latest change, as the fleet listing has it.
  const targets = s.simulcastTargets || {};
  const last = el('td', 'last');
  let at = s.lastEventAt || s.since || '';
  for (const t of Object.values(targets)) if (t && typeof t.since === 'string' && t.since > at) at = t.since;
  if (s.lastEvent) last.append(el('span', null, String(s.lastEvent).replace(/^video\.live_stream\./, '')), el('span', 'dim', ' ' + shortTime(at)));
  else last.append(el('span', 'dim', at ? shortTime(at) : '—'));
  tr.append(last);
  const chips = el('div', 'chips');
  for (const id of Object.keys(targets).sort()) {
    const t = targets[id] || {};
    const c = el('span', 'chip');
    c.dataset.target = id;
    c.dataset.status = t.status || '';
    c.title = t.since ? 'since ' + t.since : '';
    c.append(el('span', 't', id), el('span', 's', t.status || '—'));
    chips.append(c);
  }
  const td = el('td');
  td.append(chips);
  tr.append(td);
  tr.hidden = !visible(s);
  return tr;
}

// Filters.
function visible(s) {
  const fs = $('filter-status').value, fw = $('filter-workspace').value, ft = $('filter-text').value.trim();
  if (fs === '@alert') { if (!alertMark(s)) return false; } else if (fs && s.status !== fs) return false;
  if (fw && (s.workspaceId || '') !== fw) return false;
  if (ft && !s.streamId.includes(ft)) return false;
  return true;
}

function applyFilters() {
  for (const r of rows.values()) r.tr.hidden = !visible(r.stream);
  countsDirty = true;
  schedule();
}

function ensureOption(select, value, label) {
  for (const o of select.options) if (o.value === value) return;
  const o = el('option', null, label);
  o.value = value;
  select.append(o);
}

// The row of one stream, replaced whole.
function upsert(s, now, flash) {
  const old = rows.get(s.streamId);
  const tr = renderRow(s, now);
  if (flash) tr.classList.add('flash');
  if (old) {
    old.tr.replaceWith(tr);
  } else {
    // Sorted insert by id.
    let lo = 0, hi = order.length;
    while (lo < hi) { const mid = (lo + hi) >> 1; if (order[mid] < s.streamId) lo = mid + 1; else hi = mid; }
    const next = lo < order.length ? rows.get(order[lo]).tr : null;
    $('rows').insertBefore(tr, next);
    order.splice(lo, 0, s.streamId);
  }
  rows.set(s.streamId, entry(s, tr));
  if (s.workspaceId) ensureOption($('filter-workspace'), s.workspaceId, s.workspaceId);
  if (s.status) ensureOption($('filter-status'), s.status, s.status);
}

// entry is a row with what the clock needs parsed once: when its status
// was set, and when its held mark ends (held: the ids of marked rows).
const held = new Set();
function entry(s, tr) {
  const until = s.alert === 'held' ? Date.parse(s.heldUntil) : NaN;
  if (isNaN(until) || until <= Date.now()) held.delete(s.streamId); else held.add(s.streamId);
  return { stream: s, tr, sinceMs: Date.parse(s.since), heldUntilMs: until };
}

function remove(id) {
  const old = rows.get(id);
  if (!old) return;
  old.tr.remove();
  rows.delete(id);
  held.delete(id);
  const i = order.indexOf(id);
  if (i >= 0) order.splice(i, 1);
}

// Counts per status, and the alert markings, redrawn once per frame.
let scheduled = false;
function schedule() {
  if (scheduled) return;
  scheduled = true;
  requestAnimationFrame(() => { scheduled = false; if (countsDirty) drawCounts(); });
}

function drawCounts() {
  const t0 = performance.now();
  countsDirty = false;
  const n = new Map();
  let alerts = 0, shown = 0;
  for (const r of rows.values()) {
    const st = r.stream.status || '';
    n.set(st, (n.get(st) || 0) + 1);
    if (alertMark(r.stream)) alerts++;
    if (!r.tr.hidden) shown++;
  }
  const keys = STATUSES.filter((s) => n.has(s)).concat([...n.keys()].filter((s) => !STATUSES.includes(s)).sort());
  const nav = $('counts');
  const current = $('filter-status').value;
  const buttons = [];
  const button = (status, count, label) => {
    const b = el('button');
    b.type = 'button';
    b.dataset.status = status;
    b.setAttribute('aria-pressed', String(current === status));
    b.append(el('span', 'n', count), el('span', 'l', label));
    b.addEventListener('click', () => {
      const f = $('filter-status');
      ensureOption(f, status, status === '@alert' ? 'held or unstable' : status);
      f.value = current === status ? '' : status;
      applyFilters();
    });
    return b;
  };
  for (const k of keys) buttons.push(button(k, n.get(k), k || 'no status'));
  const a = button('@alert', alerts, 'held or unstable');
  a.dataset.alert = 'true';
  buttons.push(a);
  nav.replaceChildren(...buttons);
  $('shown').textContent = shown + ' of ' + rows.size + ' shown';
  $('empty').hidden = rows.size > 0;
  window.boardStats.counts++;
  window.boardStats.totalCountsMs += performance.now() - t0;
}

function setConn(state, text) {
  const c = $('conn');
  // Live to the board, but the board cannot read the feed: not live.
  if (state === 'live' && feedError) { state = 'lost'; text = feedError + ' (retrying)'; }
  c.dataset.state = state;
  c.textContent = text;
}

// The whole fleet from the board's memory, then the events after it.
async function load() {
  loading = true;
  pending = [];
  setConn('loading', 're-reading the fleet…');
  let snap;
  for (let delay = 500; ; delay = Math.min(delay * 2, 5000)) {
    try {
      const r = await fetch('api/fleet', { cache: 'no-store' });
      if (!r.ok) throw new Error('HTTP ' + r.status);
      snap = await r.json();
      break;
    } catch (e) {
      setConn('lost', 'board unreachable, retrying…');
      await new Promise((res) => setTimeout(res, delay));
    }
  }
  const t0 = performance.now();
  const now = Date.now();
  rows.clear();
  held.clear();
  order = [];
  const frag = document.createDocumentFragment();
  const streams = (snap.streams || []).slice().sort((a, b) => (a.streamId < b.streamId ? -1 : a.streamId > b.streamId ? 1 : 0));
  for (const s of streams) {
    const tr = renderRow(s, now);
    rows.set(s.streamId, entry(s, tr));
    order.push(s.streamId);
    frag.append(tr);
    if (s.workspaceId) ensureOption($('filter-workspace'), s.workspaceId, s.workspaceId);
    if (s.status) ensureOption($('filter-status'), s.status, s.status);
  }
  $('rows').replaceChildren(frag);
  feedError = typeof snap.feedError === 'string' ? snap.feedError : '';
  $('scope').textContent = (snap.workspace ? 'workspace ' + snap.workspace + ' · ' : '') + (snap.loadedAt ? 'fleet read ' + shortTime(snap.loadedAt) : '');
  drawCounts();
  lastId = snap.lastEventId || '';
  // Events that came while the snapshot was read: those after it.
  const after = pending.filter((e) => seqAfter(e.lastEventId, lastId));
  pending = [];
  loading = false;
  for (const e of after) handle(e);
  connect();
  requestAnimationFrame(() => {
    if (!window.boardStats.firstPaintMs) window.boardStats.firstPaintMs = performance.now();
    window.boardStats.lastLoadMs = performance.now() - t0;
  });
}

// Event ids are "epoch-seq": later means the same epoch and a higher seq.
function seqAfter(id, ref) {
  const [ea, sa] = String(id).split('-'), [eb, sb] = String(ref).split('-');
  return ea === eb && Number(sa) > Number(sb);
}

function handle(e) {
  if (loading) { pending.push(e); return; }
  const t0 = performance.now();
  let data;
  try { data = JSON.parse(e.data); } catch { return; }
  if (e.type === 'stream' && data && data.stream && typeof data.stream.streamId === 'string') {
    upsert(data.stream, Date.now(), true);
  } else if (e.type === 'remove' && data && typeof data.streamId === 'string') {
    remove(data.streamId);
  }
  lastId = e.lastEventId || lastId;
  countsDirty = true;
  schedule();
  const st = window.boardStats;
  st.updates++;
  st.lastUpdateMs = performance.now() - t0;
  st.totalUpdateMs += st.lastUpdateMs;
}

function connect() {
  if (source) source.close();
  source = new EventSource('events?since=' + encodeURIComponent(lastId));
  source.onopen = () => setConn('live', 'live');
  source.onerror = () => {
    setConn('lost', 'connection lost, reconnecting…');
    // The browser reconnects by itself (with Last-Event-ID) unless the
    // answer was an error; then start over.
    if (source.readyState === EventSource.CLOSED) setTimeout(connect, 1000);
  };
  const on = (ev) => handle({ type: ev.type, data: ev.data, lastEventId: ev.lastEventId });
  source.addEventListener('stream', on);
  source.addEventListener('remove', on);
  source.addEventListener('feed', (ev) => {
    let d = {};
    try { d = JSON.parse(ev.data) || {}; } catch { /* keep the last state */ }
    feedError = d.ok ? '' : String(d.error || 'the change feed cannot be read');
    setConn('live', 'live');
  });
  source.addEventListener('reset', () => {
    window.boardStats.resets++;
    source.close();
    source = null;
    load();
  });
}

// ages redraws the "for" column of the rows shown.
function ages() {
  const now = Date.now();
  for (const r of rows.values()) {
    if (r.tr.hidden) continue;
    const cell = r.tr.children[2];
    const a = ageOf(r.sinceMs, now);
    if (cell.textContent !== a) cell.textContent = a;
  }
}

// holds takes the mark off a held drop whose grace is over.
function holds() {
  const now = Date.now();
  for (const id of [...held]) {
    const r = rows.get(id);
    if (r && r.heldUntilMs <= now) { upsert(r.stream, now, false); countsDirty = true; schedule(); }
  }
}

document.addEventListener('DOMContentLoaded', () => {
  for (const id of ['filter-status', 'filter-workspace']) $(id).addEventListener('change', applyFilters);
  $('filter-text').addEventListener('input', applyFilters);
  setInterval(ages, 5000);
  setInterval(holds, 1000);
  load();
});
