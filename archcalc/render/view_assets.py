"""The HTML page's own style sheet and script (no external resources: the page works from a
file:// URL with no network). The script reads the JSON embedded in the page; it is the only
JavaScript archcalc ships.

URL fragment (deep links, and how the browser tests drive the page): ``#select=LAYER`` clicks
that layer's box, ``#sort=COLUMN`` (``-COLUMN`` descending) clicks a column header,
``#filter=TEXT`` types into the filter, ``#block=BLOCK`` clicks a block's subtotal row (which
filters the table to that block), ``#units=exact|si`` picks the number format; joined with ``&``.
"""

from __future__ import annotations

CSS = """
*{box-sizing:border-box}
body{font:14px/1.4 system-ui,sans-serif;margin:0;color:#17202c;background:#fafbfc}
header{padding:12px 20px;background:#203040;color:#fff}
header h1{margin:0 0 4px;font-size:20px}
header .source{opacity:.8;font-size:13px}
#conventions{font-size:12px;color:#d8e0ea;margin-top:6px}
main{padding:12px 20px}
#totals{display:flex;flex-wrap:wrap;gap:8px;margin:0 0 10px}
#totals div{background:#fff;border:1px solid #d6dde6;border-radius:6px;padding:6px 10px}
#totals b{display:block;font-size:16px}
#totals span{font-size:11px;color:#52606d}
#summary{font-size:12px;color:#3e4c59;margin:0 0 12px;padding-left:18px}
#top{display:flex;gap:14px;align-items:flex-start}
#diagram{flex:1 1 55%;height:72vh;overflow:auto;background:#fff;border:1px solid #d6dde6;border-radius:6px}
#diagram svg{display:block;margin:0 auto}
#panel{flex:1 1 45%;height:72vh;overflow:auto;background:#fff;border:1px solid #d6dde6;border-radius:6px;
padding:10px 14px}
#panel h2{margin:0 0 6px;font-size:16px;word-break:break-all}
#panel .hint{color:#7b8794}
#panel dl{display:grid;grid-template-columns:max-content 1fr;gap:2px 12px;margin:6px 0}
#panel dt{color:#52606d}
#panel dd{margin:0;font-variant-numeric:tabular-nums}
.figure{border-top:1px solid #e4e8ee;padding:6px 0}
.figure .words{margin:2px 0}
.figure code{font-size:12px;background:#f2f4f7;padding:1px 4px;border-radius:3px}
#controls{margin:14px 0 6px;display:flex;gap:12px;align-items:center}
#filter{padding:4px 8px;width:260px}
table{border-collapse:collapse;background:#fff;font-size:12.5px}
th,td{border:1px solid #e0e5eb;padding:3px 7px}
th{background:#eef2f6;cursor:pointer;user-select:none;position:sticky;top:0}
th.asc::after{content:" \\25B2"}th.desc::after{content:" \\25BC"}
td.num{text-align:right;font-variant-numeric:tabular-nums}
tr.layer{cursor:pointer}
tr.layer:hover{background:#f4f8ff}
tr.sel{background:#ffe9a8!important}
tr.anc{background:#fff6d8}
tr.total td{font-weight:bold;background:#f6f8fa}
tr.block{cursor:pointer}
tr.block:hover{background:#f4f8ff}
.node{cursor:pointer}
.node.sel rect{stroke:#c24d00;stroke-width:3}
.node.anc rect{stroke:#e08a00;stroke-width:2}
.node.dim{opacity:.35}
.edge.anc path{stroke:#e08a00;stroke-width:2.2;marker-end:url(#arrow-on)}
.edge.dim{opacity:.25}
h3{margin:18px 0 6px;font-size:15px}
"""

JS = r"""
(function(){
'use strict';
var data = JSON.parse(document.getElementById('archcalc-data').textContent);
var nodes = {}, rows = {}, up = {};
document.querySelectorAll('#diagram .node').forEach(function(g){ nodes[g.dataset.layer] = g; });
document.querySelectorAll('#layers tr.layer').forEach(function(tr){ rows[tr.dataset.layer] = tr; });
data.edges.forEach(function(e){ (up[e[1]] = up[e[1]] || []).push(e[0]); });
var records = {};
data.report.layers.forEach(function(r){ records[r.name] = r; });

function ancestors(name){
  var seen = {}, stack = [name];
  while (stack.length){
    var n = stack.pop();
    (up[n] || []).forEach(function(m){ if (!seen[m]){ seen[m] = true; stack.push(m); } });
  }
  return seen;
}
function el(tag, text, cls){
  var e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = text;
  if (cls) e.className = cls;
  return e;
}
function fmt(n){ return typeof n === 'number' ? n.toLocaleString('en-US') : String(n); }
function explain(name){
  var panel = document.getElementById('panel'), r = records[name];
  panel.textContent = '';
  panel.appendChild(el('h2', name));
  var dl = el('dl');
  function row(k, v){ dl.appendChild(el('dt', k)); dl.appendChild(el('dd', v)); }
  row('type', r.kind + ' (' + r.family + ')');
  row('block', data.blocks[name].join(' / ') || '-');
  row('inputs', r.inputs.join(', ') || '-');
  row('output', (r.shapes || [r.shape]).map(function(s){ return s.join('x'); }).join(' | '));
  row('receptive field', data.fields[name]);
  var anc = Object.keys(ancestors(name)).length;
  row('upstream layers', String(anc));
  panel.appendChild(dl);
  var ex = data.explanations && data.explanations[name];
  var box = el('div'); box.id = 'explanation';
  if (ex){
    ex.figures.forEach(function(f){
      var d = el('div', null, 'figure'); d.dataset.figure = f.figure;
      d.appendChild(el('b', f.figure + ' = ' + fmt(f.value)));
      if (f.words) d.appendChild(el('p', f.words, 'words'));
      if (f.symbols){ var c = el('p'); c.appendChild(el('code', f.symbols)); d.appendChild(c); }
      if (f.numbers){ var c2 = el('p'); c2.appendChild(el('code', f.numbers)); d.appendChild(c2); }
      if (f.conventions && f.conventions.length) d.appendChild(el('p', 'conventions: ' +
        (Array.isArray(f.conventions) ? f.conventions.join('; ') : String(f.conventions)), 'hint'));
      box.appendChild(d);
    });
  } else {
    data.columns.forEach(function(c){
      var d = el('div', null, 'figure'); d.dataset.figure = c;
      d.appendChild(el('b', c + ' = ' + fmt(r[c])));
      d.appendChild(el('p', data.report.columns[c], 'words'));
      box.appendChild(d);
    });
  }
  (r.notes || []).forEach(function(n){ box.appendChild(el('p', 'note: ' + n, 'hint')); });
  panel.appendChild(box);
}
function select(name){
  var anc = ancestors(name);
  Object.keys(nodes).forEach(function(n){
    var g = nodes[n];
    g.classList.toggle('sel', n === name);
    g.classList.toggle('anc', !!anc[n]);
    g.classList.toggle('dim', n !== name && !anc[n]);
  });
  document.querySelectorAll('#diagram .edge').forEach(function(e){
    var on = (e.dataset.dst === name || anc[e.dataset.dst]) && (anc[e.dataset.src]);
    e.classList.toggle('anc', !!on);
    e.classList.toggle('dim', !on);
  });
  Object.keys(rows).forEach(function(n){
    rows[n].classList.toggle('sel', n === name);
    rows[n].classList.toggle('anc', !!anc[n]);
  });
  explain(name);
  document.body.dataset.selected = name;
}
function reveal(n){  // scroll the diagram pane (only it, never the page) to the layer's box
  var pane = document.getElementById('diagram'), box = nodes[n].querySelector('rect');
  var x = Number(box.getAttribute('x')), y = Number(box.getAttribute('y'));
  pane.scrollTop = Math.max(0, y - pane.clientHeight / 2);
  pane.scrollLeft = Math.max(0, x - pane.clientWidth / 3);
}
Object.keys(nodes).forEach(function(n){
  nodes[n].addEventListener('click', function(){ select(n); });
});
Object.keys(rows).forEach(function(n){
  rows[n].addEventListener('click', function(){
    select(n); reveal(n);
  });
});
var tbody = document.querySelector('#layers tbody');
document.querySelectorAll('#layers th').forEach(function(th, i){
  th.addEventListener('click', function(){
    var desc = th.classList.contains('asc');
    document.querySelectorAll('#layers th').forEach(function(h){ h.classList.remove('asc', 'desc'); });
    th.classList.add(desc ? 'desc' : 'asc');
    var list = Array.prototype.slice.call(tbody.querySelectorAll('tr.layer'));
    list.sort(function(a, b){
      var x = a.children[i].dataset.value, y = b.children[i].dataset.value;
      var nx = Number(x), ny = Number(y), c;
      if (x !== '' && y !== '' && !isNaN(nx) && !isNaN(ny)) c = nx - ny;
      else c = x < y ? -1 : x > y ? 1 : 0;
      if (c === 0) c = Number(a.dataset.order) - Number(b.dataset.order);
      return desc ? -c : c;
    });
    list.forEach(function(tr){ tbody.appendChild(tr); });
    document.body.dataset.sorted = th.dataset.col + (desc ? ':desc' : ':asc');
  });
});
var filter = document.getElementById('filter'), shown = document.getElementById('shown');
var units = document.getElementById('units'), columnIndex = {};
document.querySelectorAll('#layers th').forEach(function(th, i){ columnIndex[th.dataset.col] = i; });
function refilter(){
  var q = filter.value.trim().toLowerCase(), n = 0;
  tbody.querySelectorAll('tr.layer').forEach(function(tr){
    var hit = !q || tr.dataset.search.indexOf(q) >= 0;
    tr.style.display = hit ? '' : 'none';
    if (hit) n++;
  });
  shown.textContent = n + ' of ' + data.report.layers.length + ' layers';
  document.querySelectorAll('#layers td[data-shown]').forEach(function(td){
    var col = td.dataset.shown, i = columnIndex[col], sum = BigInt(0);
    tbody.querySelectorAll('tr.layer').forEach(function(tr){
      if (tr.style.display !== 'none') sum += BigInt(tr.children[i].dataset.value);
    });
    td.dataset.value = sum.toString();
    td.dataset.exact = sum.toLocaleString('en-US');
    td.dataset.si = si(sum);
    td.textContent = units.value === 'exact' ? td.dataset.exact : td.dataset.si;
  });
}
function si(n){  // as archcalc.render.units.si: three significant digits, K/M/G/T/P
  if (n < BigInt(1000) && n > BigInt(-1000)) return n.toString();
  var prefixes = ['K', 'M', 'G', 'T', 'P'], v = Number(n);
  for (var p = 0; p < prefixes.length; p++){
    var x = v / Math.pow(1000, p + 1), d = Math.abs(x) < 10 ? 2 : Math.abs(x) < 100 ? 1 : 0;
    var t = x.toFixed(d);
    if (t.indexOf('.') >= 0) t = t.replace(/0+$/, '').replace(/\.$/, '');
    if (Math.abs(Number(t)) < 1000 || p === prefixes.length - 1) return t + prefixes[p];
  }
}
filter.addEventListener('input', refilter);
document.querySelectorAll('#blocks tr.block').forEach(function(tr){
  tr.addEventListener('click', function(){  // a block's row filters the layer table to it
    filter.value = tr.dataset.block.toLowerCase(); refilter();
    document.getElementById('layers').scrollIntoView({block: 'start'});
  });
});
function reunit(){
  var key = units.value === 'exact' ? 'exact' : 'si';
  document.querySelectorAll('td.num').forEach(function(td){ td.textContent = td.dataset[key]; });
}
units.addEventListener('change', reunit);
refilter(); reunit();
(location.hash || '').replace(/^#/, '').split('&').forEach(function(part){
  if (!part) return;
  var eq = part.indexOf('='), k = part.slice(0, eq), v = decodeURIComponent(part.slice(eq + 1));
  if (k === 'select' && nodes[v]){ nodes[v].dispatchEvent(new MouseEvent('click', {bubbles: true})); reveal(v); }
  if (k === 'filter'){ filter.value = v; filter.dispatchEvent(new Event('input')); }
  if (k === 'block') document.querySelectorAll('#blocks tr.block').forEach(function(tr){
    if (tr.dataset.block === v) tr.dispatchEvent(new MouseEvent('click', {bubbles: true}));
  });
  if (k === 'units'){ units.value = v; units.dispatchEvent(new Event('change')); }
  if (k === 'sort'){
    var col = v.replace(/^-/, ''), th = document.querySelector('#layers th[data-col="' + col + '"]');
    if (th){ th.click(); if (v.charAt(0) === '-') th.click(); }
  }
});
document.body.dataset.ready = '1';
})();
"""
