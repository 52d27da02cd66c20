/**
 * The dashboard page: plain HTML, CSS and browser JavaScript served from these strings, so the
 * package ships it without a front-end build step. The script listens to two Server-Sent Event
 * streams: `/events` (a `view`, as dashboard-view.ts folds it, on every change) and `/logs` for the
 * container picked (`line`, then `ended` or `failed`). Text from containers is only ever set as
 * textContent, never parsed as HTML.
 */

/** The page; `%TOKEN%` is replaced with the dashboard's token so its script loads past the check. */
export const DASHBOARD_HTML = String.raw`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>tfnz dashboard</title>
<style>
  :root { --bg: #f6f7f9; --card: #fff; --ink: #1d232b; --dim: #6b7480; --line: #dde1e6; --cpu: #2f7fd8; --mem: #2ea36b; --bad: #c8372d; }
  * { box-sizing: border-box; }
  body { margin: 0; font: 14px/1.4 system-ui, sans-serif; background: var(--bg); color: var(--ink); }
  header { display: flex; gap: 16px; align-items: baseline; padding: 12px 20px; background: var(--ink); color: #fff; }
  header h1 { font-size: 18px; margin: 0; }
  header .dim { color: #aab3bf; }
  #link { margin-left: auto; }
  #link.up::before { content: "\25CF  "; color: #5fd38d; }
  #link.down::before { content: "\25CF  "; color: #ff6b5f; }
  main { display: grid; grid-template-columns: minmax(320px, 1fr) minmax(360px, 1.2fr); gap: 16px; padding: 16px 20px; }
  h2 { font-size: 15px; margin: 0 0 8px; }
  section.card, article.node { background: var(--card); border: 1px solid var(--line); border-radius: 6px; padding: 12px; margin-bottom: 12px; }
  article.node.gone { opacity: 0.55; }
  .node h3 { margin: 0 0 6px; font-size: 14px; display: flex; gap: 8px; align-items: baseline; }
  .dim { color: var(--dim); font-size: 12px; }
  .charts { display: grid; grid-template-columns: 1fr 1fr; gap: 8px; }
  .chart svg { width: 100%; height: 56px; background: #fafbfc; border: 1px solid var(--line); border-radius: 4px; }
  .chart .value { font-weight: 600; }
  ul.containers { list-style: none; padding: 0; margin: 8px 0 0; }
  ul.containers li { display: flex; gap: 8px; align-items: center; padding: 4px 6px; border-radius: 4px; cursor: pointer; }
  ul.containers li:hover, ul.containers li.picked { background: #eef3fb; }
  .name { font-family: ui-monospace, monospace; }
  .status { font-size: 11px; padding: 1px 6px; border-radius: 8px; background: #e4e7eb; }
  .status.running { background: #d7f2e3; color: #16693f; }
  .status.spawning { background: #fdf0cf; color: #7a5a00; }
  .status.exited, .status.destroyed, .status.gone { background: #f4dcda; color: #8a241c; }
  #logs { background: #11161c; color: #d7dde4; font: 12px/1.45 ui-monospace, monospace; height: 420px; overflow: auto; padding: 8px; border-radius: 4px; white-space: pre-wrap; word-break: break-all; }
  #logs .stderr { color: #ff9c94; }
  #logs .note { color: #8b96a3; font-style: italic; }
  table { border-collapse: collapse; width: 100%; }
  td, th { text-align: left; padding: 4px 6px; border-bottom: 1px solid var(--line); }
</style>
</head>
<body>
<header><h1>tfnz dashboard</h1><span id="where" class="dim"></span><span id="link" class="down">connecting</span></header>
<main>
  <div>
    <h2>Nodes and your containers</h2>
    <div id="nodes"><p class="dim">waiting for the location…</p></div>
  </div>
  <div>
    <section class="card">
      <h2>Output of <span id="picked" class="name">(pick a container)</span></h2>
      <div id="logs"><span class="note">Pick a container on the left to follow its output.</span></div>
    </section>
    <section class="card">
      <h2>Web endpoints</h2>
      <div id="endpoints" class="dim">none</div>
    </section>
  </div>
</main>
<script src="/dashboard.js?token=%TOKEN%"></script>
</body>
</html>
`;

/** The page's script (no framework): renders each view and follows the picked container's output. */
export const DASHBOARD_SCRIPT = String.raw`'use strict';
(function () {
  var token = new URLSearchParams(location.search).get('token') || '';
  var picked = null;
  var logSource = null;
  var MAX_LOG_LINES = 2000;
  var SVG = 'http://www.w3.org/2000/svg';

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    for (var k in attrs || {}) {
      if (k === 'text') node.textContent = attrs[k]; else node.setAttribute(k, attrs[k]);
    }
    (children || []).forEach(function (c) { if (c) node.appendChild(c); });
    return node;
  }
  function shortId(id) { return id.slice(0, 8); }
  function displayName(c) { return c.tag ? c.tag : shortId(c.id); }

  // A sparkline of one stats field over the samples kept, scaled to its own maximum.
  function chart(samples, field, scale, unit, colour, label) {
    var w = 240, h = 56;
    var values = samples.map(function (s) { return s[field] / scale; });
    var max = Math.max.apply(null, values.concat([1e-9])) * 1.15;
    var svg = document.createElementNS(SVG, 'svg');
    svg.setAttribute('viewBox', '0 0 ' + w + ' ' + h);
    svg.setAttribute('preserveAspectRatio', 'none');
    svg.setAttribute('data-field', field);
    if (values.length > 0) {
      var step = values.length > 1 ? w / (values.length - 1) : w;
      var points = values.map(function (v, i) { return (values.length > 1 ? i * step : w).toFixed(1) + ',' + (h - 2 - (v / max) * (h - 6)).toFixed(1); });
      var area = document.createElementNS(SVG, 'polygon');
      area.setAttribute('points', (values.length > 1 ? '0' : w) + ',' + h + ' ' + points.join(' ') + ' ' + w + ',' + h);
      area.setAttribute('fill', colour);
      area.setAttribute('fill-opacity', '0.15');
      var line = document.createElementNS(SVG, 'polyline');
      line.setAttribute('points', points.join(' '));
      line.setAttribute('fill', 'none');
      line.setAttribute('stroke', colour);
      line.setAttribute('stroke-width', '2');
      line.setAttribute('vector-effect', 'non-scaling-stroke');
      svg.appendChild(area);
      svg.appendChild(line);
    }
    var last = values.length ? values[values.length - 1] : null;
    return el('div', { class: 'chart' }, [
      el('div', {}, [el('span', { class: 'dim', text: label + ' ' }), el('span', { class: 'value', text: last === null ? '-' : last.toFixed(scale === 1 ? 0 : 2) + ' ' + unit })]),
      svg,
    ]);
  }

  function renderNodes(view) {
    var box = document.getElementById('nodes');
    box.textContent = '';
    if (view.nodes.length === 0) box.appendChild(el('p', { class: 'dim', text: 'this location has no nodes' }));
    view.nodes.forEach(function (n) {
      var last = n.samples[n.samples.length - 1];
      var mine = view.containers.filter(function (c) { return c.node === n.id; });
      var list = el('ul', { class: 'containers' }, mine.map(function (c) {
        var item = el('li', { 'data-container': c.id, class: c.id === picked ? 'picked' : '', title: c.id + (c.image ? ' (' + c.image + ')' : '') }, [
          el('span', { class: 'name', text: displayName(c) }),
          el('span', { class: 'status ' + c.status, text: c.status }),
          el('span', { class: 'dim', text: (c.session === 'own' ? 'this session' : 'another session') + (c.image ? ', ' + c.image : '') }),
        ]);
        item.addEventListener('click', function () { follow(c); });
        return item;
      }));
      if (mine.length === 0) list.appendChild(el('li', { class: 'dim', text: 'none of your containers' }));
      box.appendChild(el('article', { class: 'node' + (n.alive ? '' : ' gone'), 'data-node': n.id }, [
        el('h3', {}, [el('span', { text: n.name }), el('span', { class: 'dim', text: n.alive ? (last ? last.containers + ' containers (all users)' : '') : 'gone' })]),
        el('div', { class: 'charts' }, [
          chart(n.samples, 'cpu', 100, 'cores', 'var(--cpu)', 'spare CPU'),
          chart(n.samples, 'memory', 1024, 'GiB', 'var(--mem)', 'free memory'),
        ]),
        list,
      ]));
    });
  }

  function renderEndpoints(view) {
    var box = document.getElementById('endpoints');
    box.textContent = '';
    if (view.endpoints.length === 0) { box.textContent = 'this location serves no domain'; return; }
    box.appendChild(el('table', {}, [el('tr', {}, [el('th', { text: 'domain' }), el('th', { text: 'HTTP' }), el('th', { text: 'HTTPS' })])].concat(
      view.endpoints.map(function (e) {
        return el('tr', {}, [el('td', { class: 'name', text: '*.' + e.domain }), el('td', { text: String(e.httpPort) }), el('td', { text: String(e.httpsPort) })]);
      }))));
  }

  function addLine(cls, text) {
    var box = document.getElementById('logs');
    var atBottom = box.scrollTop + box.clientHeight >= box.scrollHeight - 4;
    box.appendChild(el('div', { class: cls, text: text }));
    while (box.childNodes.length > MAX_LOG_LINES) box.removeChild(box.firstChild);
    if (atBottom) box.scrollTop = box.scrollHeight;
  }

  function follow(c) {
    if (logSource) logSource.close();
    picked = c.id;
    document.getElementById('picked').textContent = displayName(c);
    document.querySelectorAll('li[data-container]').forEach(function (li) { li.classList.toggle('picked', li.getAttribute('data-container') === c.id); });
    document.getElementById('logs').textContent = '';
    var source = new EventSource('/logs?token=' + encodeURIComponent(token) + '&container=' + encodeURIComponent(c.id));
    logSource = source;
    source.addEventListener('line', function (e) {
      var l = JSON.parse(e.data);
      addLine(l.stream === 'stderr' ? 'stderr' : 'stdout', l.text);
    });
    source.addEventListener('ended', function () { source.close(); addLine('note', '(its output ended)'); });
    source.addEventListener('failed', function (e) { source.close(); addLine('note', JSON.parse(e.data).message); });
  }

  var events = new EventSource('/events?token=' + encodeURIComponent(token));
  var link = document.getElementById('link');
  events.addEventListener('open', function () { link.className = 'up'; link.textContent = 'live'; });
  events.addEventListener('error', function () { link.className = 'down'; link.textContent = 'reconnecting'; });
  events.addEventListener('view', function (e) {
    var view = JSON.parse(e.data);
    document.getElementById('where').textContent = (view.location || '') + (view.user ? '  ·  user ' + view.user.slice(0, 12) : '');
    renderNodes(view);
    renderEndpoints(view);
  });
})();
`;
