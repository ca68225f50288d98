/**
 * The console page: one HTML document, one stylesheet, one script, served from the package (no framework, nothing
 * from a CDN: edge boxes have no internet). The script draws boxes as positioned elements over the frame, so what is
 * drawn is in the DOM (tests count it) and labels are text nodes, never markup. Written without template literals so
 * that it can live in this module as it is.
 */

export type ConsoleMode = 'server' | 'pipeline';

/** Headers of every console answer: a strict policy (no inline code, nothing from elsewhere, no framing), no caching. */
export const CONSOLE_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob:; connect-src 'self'; " +
    "form-action 'none'; frame-ancestors 'none'; base-uri 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
};

/** The page's static parts by path, with their media types. */
export const CONSOLE_ASSETS: Readonly<Record<string, { type: string; body: () => string }>> = {
  '/console/app.js': { type: 'text/javascript; charset=utf-8', body: () => CONSOLE_JS },
  '/console/app.css': { type: 'text/css; charset=utf-8', body: () => CONSOLE_CSS },
};

export function consoleHtml(mode: ConsoleMode): string {
  const title = mode === 'server' ? 'httpextension console' : 'httpextension pipelines';
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title}</title>
<link rel="stylesheet" href="/console/app.css">
</head>
<body data-mode="${mode}">
<header>
  <h1>${title}</h1>
  <span id="ready" class="badge" role="status">connecting</span>
  <span id="engine" class="engine"></span>
</header>
<main>
  <section id="live" aria-labelledby="live-title">
    <h2 id="live-title">Live view</h2>
    <div class="bar">
      <label>Stream <select id="stream"><option value="">(none yet)</option></select></label>
      <span id="stream-info" class="muted"></span>
    </div>
    <figure class="frame" id="view"><div class="empty muted" id="view-empty">No frame yet: send one to any route (<code>?stream=</code> or <code>x-stream-id</code> names the stream).</div><div class="stage" id="view-stage" hidden><div class="overlay" id="view-boxes"></div></div></figure>
    <p id="view-caption" class="muted"></p>
    <ol id="view-list" class="inferences"></ol>
  </section>
  <section id="routes" aria-labelledby="routes-title"${mode === 'server' ? '' : ' hidden'}>
    <h2 id="routes-title">Routes</h2>
    <div class="scroll"><table>
      <thead><tr><th>Route</th><th>Processor</th><th>Options</th><th>req/s</th><th>p50</th><th>p95</th><th>p99</th><th>503/s</th></tr></thead>
      <tbody id="routes-body"></tbody>
    </table></div>
  </section>
  <section id="pipelines" aria-labelledby="pipelines-title"${mode === 'pipeline' ? '' : ' hidden'}>
    <h2 id="pipelines-title">Pipelines</h2>
    <div class="scroll"><table>
      <thead><tr><th>Pipeline</th><th>Topology</th><th>State</th><th>Frames sent</th><th>Answers</th><th>Messages</th><th>Errors</th><th>Detail</th></tr></thead>
      <tbody id="pipelines-body"></tbody>
    </table></div>
  </section>
  <section id="try" aria-labelledby="try-title"${mode === 'server' ? '' : ' hidden'}>
    <h2 id="try-title">Try it</h2>
    <div class="bar">
      <label>Route <select id="try-route"></select></label>
      <label class="drop" id="drop">Drop an image here, or pick one: <input type="file" id="try-file" accept="image/*,.bmp"></label>
    </div>
    <p id="try-status" class="muted" role="status"></p>
    <figure class="frame" id="try-view"><div class="stage" id="try-stage" hidden><div class="overlay" id="try-boxes"></div></div></figure>
    <pre id="try-json"></pre>
  </section>
</main>
<script src="/console/app.js"></script>
</body>
</html>
`;
}

export const CONSOLE_CSS = `
:root { color-scheme: light dark; --fg: #1c1e21; --bg: #f6f7f9; --card: #fff; --muted: #667; --line: #d9dce1;
  --entity: #00c853; --motion: #ff00ff; --event: #ffc400; --text: #00b8d4; }
@media (prefers-color-scheme: dark) { :root { --fg: #e8eaed; --bg: #15171a; --card: #1f2226; --muted: #9aa0a6; --line: #33373d; } }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.4 system-ui, sans-serif; color: var(--fg); background: var(--bg); }
header { display: flex; flex-wrap: wrap; gap: .5rem 1rem; align-items: center; padding: .6rem 1rem; background: var(--card); border-bottom: 1px solid var(--line); }
h1 { font-size: 1.1rem; margin: 0; }
h2 { font-size: 1rem; margin: 0 0 .5rem; }
main { display: grid; gap: 1rem; padding: 1rem; grid-template-columns: minmax(0, 3fr) minmax(0, 2fr); }
main > section { background: var(--card); border: 1px solid var(--line); border-radius: 6px; padding: .8rem; min-width: 0; }
#live { grid-row: span 2; }
@media (max-width: 900px) { main { grid-template-columns: minmax(0, 1fr); } #live { grid-row: auto; } }
.badge { padding: .1rem .5rem; border-radius: 999px; background: var(--line); font-weight: 600; }
.badge.ready { background: #1b5e20; color: #fff; } .badge.down { background: #b71c1c; color: #fff; } .badge.wait { background: #e65100; color: #fff; }
.engine, .muted { color: var(--muted); }
.bar { display: flex; flex-wrap: wrap; gap: .5rem 1rem; align-items: center; margin-bottom: .5rem; }
select, input { font: inherit; max-width: 100%; }
.frame { margin: 0; }
.stage { position: relative; width: 100%; background: #000; line-height: 0; overflow: hidden; }
.stage > img, .stage > .placeholder { display: block; width: 100%; height: auto; }
.placeholder { aspect-ratio: 16 / 9; color: #aaa; display: flex; align-items: center; justify-content: center; line-height: 1.4; }
.overlay { position: absolute; inset: 0; pointer-events: none; }
.box { position: absolute; border: 2px solid var(--entity); }
.box[data-type="motion"] { border-color: var(--motion); } .box[data-type="event"] { border-color: var(--event); }
.box > span { position: absolute; left: -2px; bottom: 100%; background: rgba(0, 0, 0, .65); color: var(--entity); font: 12px/1.3 ui-monospace, monospace; padding: 0 .25rem; white-space: nowrap; }
.box[data-type="motion"] > span { color: var(--motion); } .box[data-type="event"] > span { color: var(--event); }
.box.top > span { bottom: auto; top: 100%; }
.empty { padding: 2rem 1rem; text-align: center; border: 1px dashed var(--line); }
.inferences { margin: .5rem 0 0; padding-left: 2.2rem; max-height: 12rem; overflow: auto; font: 12px/1.4 ui-monospace, monospace; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: .25rem .5rem; border-bottom: 1px solid var(--line); vertical-align: top; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
td code { font-size: 12px; word-break: break-all; }
.drop { border: 2px dashed var(--line); border-radius: 6px; padding: .5rem; }
.drop.over { border-color: var(--entity); }
pre { max-height: 16rem; overflow: auto; background: var(--bg); padding: .5rem; font-size: 12px; }
`;

export const CONSOLE_JS = `'use strict';
(function () {
  var mode = document.body.getAttribute('data-mode');
  var $ = function (id) { return document.getElementById(id); };
  var previous = null;
  var selected = '';
  var source = null;
  var pending = null;
  var loading = false;
  var shown = 0;
  var times = [];

  function text(el, value) { el.textContent = value; return el; }
  function make(tag, cls, value) { var el = document.createElement(tag); if (cls) el.className = cls; if (value !== undefined) el.textContent = value; return el; }
  function ms(seconds) { return seconds === null || !isFinite(seconds) ? '-' : (seconds * 1000 < 10 ? (seconds * 1000).toFixed(1) : Math.round(seconds * 1000)) + ' ms'; }

  /** The q-quantile of the requests between two cumulative histograms, as Prometheus' histogram_quantile. */
  function quantile(q, now, before) {
    var deltas = now.map(function (b, i) { var prior = before && before[i] ? before[i][1] : 0; return [b[0] === null ? Infinity : b[0], b[1] - prior]; });
    var total = deltas.length ? deltas[deltas.length - 1][1] : 0;
    if (total <= 0) return null;
    var rank = q * total, lower = 0, below = 0;
    for (var i = 0; i < deltas.length; i++) {
      var upper = deltas[i][0], count = deltas[i][1];
      if (count >= rank) {
        if (upper === Infinity) return lower;
        return lower + (upper - lower) * ((rank - below) / Math.max(1, count - below));
      }
      lower = upper; below = count;
    }
    return lower;
  }

  function sum(obj) { var s = 0; for (var k in obj) s += obj[k]; return s; }

  function renderRoutes(state) {
    var body = $('routes-body');
    body.textContent = '';
    var dt = previous ? (state.at - previous.at) / 1000 : 0;
    state.routes.forEach(function (route) {
      var now = state.figures[route.path] || { statuses: {}, buckets: [] };
      var then = previous && previous.figures[route.path];
      var row = make('tr');
      row.setAttribute('data-route', route.path);
      row.appendChild(make('td', '', route.path));
      var processor = make('td', '', route.processor);
      processor.title = 'runs on: ' + route.runs;
      row.appendChild(processor);
      var options = make('td'); options.appendChild(make('code', '', JSON.stringify(route.options) + (route.annotate ? ' (annotated image)' : ''))); row.appendChild(options);
      var rate = '-', p50 = '-', p95 = '-', p99 = '-', refused = '-';
      if (then && dt > 0) {
        rate = ((sum(now.statuses) - sum(then.statuses)) / dt).toFixed(1);
        refused = (((now.statuses['503'] || 0) - (then.statuses['503'] || 0)) / dt).toFixed(1);
        p50 = ms(quantile(0.5, now.buckets, then.buckets));
        p95 = ms(quantile(0.95, now.buckets, then.buckets));
        p99 = ms(quantile(0.99, now.buckets, then.buckets));
      }
      [rate, p50, p95, p99, refused].forEach(function (v) { row.appendChild(make('td', 'num', v)); });
      body.appendChild(row);
    });
    var tryRoute = $('try-route');
    if (tryRoute.options.length === 0) state.routes.forEach(function (route) { tryRoute.appendChild(new Option(route.path + ' (' + route.processor + ')', route.path)); });
  }

  function renderPipelines(state) {
    var body = $('pipelines-body');
    body.textContent = '';
    state.pipelines.forEach(function (p) {
      var row = make('tr');
      row.setAttribute('data-pipeline', p.name);
      [p.name, p.topology, p.state, String(p.framesSent), String(p.answers), String(p.messages), String(p.errors), p.detail || ''].forEach(function (v, i) { row.appendChild(make('td', i >= 3 && i <= 6 ? 'num' : '', v)); });
      body.appendChild(row);
    });
  }

  function renderHeader(state) {
    var badge = $('ready');
    var e = state.engine;
    if (e) {
      badge.className = 'badge ' + (e.ready ? 'ready' : e.draining ? 'down' : 'wait');
      text(badge, e.ready ? 'ready' : e.draining ? 'draining' : 'starting');
      text($('engine'), 'queue ' + e.queued + ' · busy ' + e.busy + '/' + e.capacity + ' · ' + e.workers + ' workers · ' + (state.processes > 1 ? state.processes + ' processes · ' : '') + state.viewers + ' viewers');
    } else {
      badge.className = 'badge ' + (state.running > 0 ? 'ready' : 'down');
      text(badge, state.running + ' running');
      text($('engine'), state.pipelines.length + ' pipelines · ' + state.viewers + ' viewers');
    }
  }

  function renderStreams(state) {
    var select = $('stream');
    var names = state.streams.map(function (s) { return s.stream; });
    var current = Array.prototype.map.call(select.options, function (o) { return o.value; });
    if (selected && source !== null && names.indexOf(selected) < 0) names.push(selected);
    if (names.length && (names.join('\\n') !== current.join('\\n'))) {
      select.textContent = '';
      names.forEach(function (name) {
        var s = state.streams.filter(function (x) { return x.stream === name; })[0];
        select.appendChild(new Option((name || '(unnamed)') + (s ? ' — ' + s.lastSource : ''), name));
      });
      if (names.indexOf(selected) < 0) selected = names[0];
      select.value = selected;
    }
    if (source === null && names.length) watch(selected);
    var info = state.streams.filter(function (s) { return s.stream === selected; })[0];
    if (info) text($('stream-info'), info.received + ' frames received');
  }

  function poll() {
    fetch('/console/api/state', { cache: 'no-store' }).then(function (r) {
      if (!r.ok) throw new Error('HTTP ' + r.status);
      return r.json();
    }).then(function (state) {
      renderHeader(state);
      if (mode === 'server') renderRoutes(state); else renderPipelines(state);
      renderStreams(state);
      previous = state;
    }).catch(function (error) {
      $('ready').className = 'badge down';
      text($('ready'), 'unreachable (' + error.message + ')');
    }).then(function () { setTimeout(poll, 1000); });
  }

  function labelOf(inference, texts) {
    if (inference.type === 'entity') {
      var t = inference.entity.tag || {};
      if (inference.inferenceId && texts[inference.inferenceId]) return texts[inference.inferenceId];
      return (t.value || 'entity') + (typeof t.confidence === 'number' ? ' ' + t.confidence.toFixed(2) : '');
    }
    if (inference.type === 'motion') return 'motion';
    if (inference.type === 'event') return inference.event && inference.event.name || 'event';
    return '';
  }

  function boxOf(inference) {
    var v = inference[inference.type];
    return v && v.box && typeof v.box.l === 'number' ? v.box : null;
  }

  function describe(inference) {
    var v = inference[inference.type] || {};
    switch (inference.type) {
      case 'classification': return 'classification: ' + (v.tag && v.tag.value) + (v.tag && typeof v.tag.confidence === 'number' ? ' ' + v.tag.confidence.toFixed(2) : '');
      case 'text': return 'text: ' + v.value;
      case 'entity': return 'entity: ' + (v.tag && v.tag.value) + (v.tag && typeof v.tag.confidence === 'number' ? ' ' + v.tag.confidence.toFixed(2) : '') + (inference.entity.id ? ' #' + inference.entity.id : '');
      case 'event': return 'event: ' + v.name + (v.properties ? ' ' + JSON.stringify(v.properties) : '');
      default: return inference.type;
    }
  }

  /** Puts the frame (an image, or a placeholder for raw pixels) and its answer's boxes on a stage. */
  function draw(stage, overlay, picture, answer, drawn, list) {
    Array.prototype.slice.call(stage.children).forEach(function (child) { if (child !== overlay) stage.removeChild(child); });
    stage.insertBefore(picture, overlay);
    stage.hidden = false;
    overlay.textContent = '';
    if (list) list.textContent = '';
    var inferences = answer && Array.isArray(answer.inferences) ? answer.inferences : [];
    var texts = {};
    inferences.forEach(function (i) { if (i.type === 'text' && i.text) (i.relatedInferences || []).forEach(function (id) { texts[id] = i.text.value; }); });
    inferences.forEach(function (inference) {
      if (list) list.appendChild(make('li', '', describe(inference)));
      var box = boxOf(inference);
      if (!box || drawn) return;
      var el = make('div', 'box' + (box.t < 0.06 ? ' top' : ''));
      el.setAttribute('data-type', inference.type);
      el.style.left = (box.l * 100) + '%';
      el.style.top = (box.t * 100) + '%';
      el.style.width = (box.w * 100) + '%';
      el.style.height = (box.h * 100) + '%';
      var label = labelOf(inference, texts);
      if (label) el.appendChild(make('span', '', label));
      overlay.appendChild(el);
    });
  }

  function placeholder(frame) {
    var el = make('div', 'placeholder', frame.mediaType === null ? 'raw ' + frame.width + 'x' + frame.height + ' frame (not shown)' : 'frame no longer kept');
    el.style.aspectRatio = frame.width + ' / ' + frame.height;
    return el;
  }

  function showFrame(frame, picture) {
    $('view-empty').hidden = true;
    draw($('view-stage'), $('view-boxes'), picture, frame.answer, frame.drawn, $('view-list'));
    shown++;
    var now = Date.now();
    times.push(now);
    while (times.length && times[0] < now - 5000) times.shift();
    var stage = $('view-stage');
    stage.setAttribute('data-frame', String(frame.id));
    stage.setAttribute('data-shown', String(shown));
    var count = frame.answer && Array.isArray(frame.answer.inferences) ? frame.answer.inferences.length : 0;
    text($('view-caption'), 'frame ' + frame.id + ' from ' + frame.source + ', ' + frame.width + 'x' + frame.height + ', ' + count + ' inferences' + (frame.drawn ? ' (drawn by the server)' : '') + ' · ' + (times.length / 5).toFixed(1) + ' frames/s shown' + (frame.skipped ? ' · ' + frame.skipped + ' skipped' : ''));
  }

  /** Loads at most one frame at a time and always the newest: a fast camera never queues images in the browser. */
  function next() {
    var frame = pending;
    pending = null;
    if (!frame) return;
    if (!frame.hasImage) { showFrame(frame, placeholder(frame)); next(); return; }
    loading = true;
    var img = new Image();
    img.alt = 'frame ' + frame.id;
    img.onload = function () { loading = false; showFrame(frame, img); next(); };
    img.onerror = function () { loading = false; showFrame(frame, placeholder(frame)); next(); };
    img.src = '/console/api/frames/' + frame.id;
  }

  function watch(stream) {
    if (source) source.close();
    selected = stream;
    source = new EventSource('/console/api/live?stream=' + encodeURIComponent(stream));
    source.addEventListener('frame', function (event) {
      pending = JSON.parse(event.data);
      if (!loading) next();
    });
  }

  $('stream').addEventListener('change', function (event) { watch(event.target.value); });
  // A stream named in the address (?stream=cam1) is watched from the start, before it has sent anything.
  var named = new URLSearchParams(location.search).get('stream');
  if (named !== null) {
    $('stream').appendChild(new Option(named, named));
    $('stream').value = named;
    watch(named);
  }

  function tryFile(file) {
    var route = $('try-route').value;
    if (!file || !route) return;
    text($('try-status'), 'sending ' + file.name + ' to ' + route + ' ...');
    var picture = new Image();
    picture.alt = file.name;
    var url = URL.createObjectURL(file);
    fetch(route, { method: 'POST', body: file, headers: { 'content-type': file.type || 'application/octet-stream', 'x-stream-id': 'console-try', accept: 'application/json, image/jpeg;q=0.5' } }).then(function (r) {
      var type = r.headers.get('content-type') || '';
      text($('try-status'), r.status + ' ' + (r.statusText || '') + ' from ' + route);
      if (type.indexOf('image/') === 0) return r.blob().then(function (blob) { return { image: blob }; });
      if (r.status === 204) return { answer: { inferences: [] }, none: true };
      return r.text().then(function (body) { var answer = null; try { answer = JSON.parse(body); } catch (e) { answer = null; } return { answer: answer, raw: body }; });
    }).then(function (result) {
      if (result.image) {
        picture.onload = function () { draw($('try-stage'), $('try-boxes'), picture, null, true, null); };
        picture.src = URL.createObjectURL(result.image);
        text($('try-json'), '(the answer is the annotated image)');
        return;
      }
      picture.onload = function () { draw($('try-stage'), $('try-boxes'), picture, result.answer, false, null); };
      picture.src = url;
      text($('try-json'), result.none ? '204 No Content: nothing found' : result.answer ? JSON.stringify(result.answer, null, 2) : result.raw);
    }).catch(function (error) { text($('try-status'), 'failed: ' + error.message); });
  }

  if (mode === 'server') {
    $('try-file').addEventListener('change', function (event) { tryFile(event.target.files[0]); });
    var drop = $('drop');
    drop.addEventListener('dragover', function (event) { event.preventDefault(); drop.classList.add('over'); });
    drop.addEventListener('dragleave', function () { drop.classList.remove('over'); });
    drop.addEventListener('drop', function (event) { event.preventDefault(); drop.classList.remove('over'); tryFile(event.dataTransfer.files[0]); });
  }
  poll();
})();
`;
