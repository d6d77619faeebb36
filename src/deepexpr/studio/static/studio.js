// deepexpr studio page: plain JS, no framework, no build step. Talks only to this server.
"use strict";

const EXPRESSIONS = ["anger", "disgust", "fear", "joy", "neutral", "sadness", "surprise"];
const $ = (sel) => document.querySelector(sel);
const state = { characters: [], hagan: [], photo: null, photoFile: null, live: null };

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v;
    else if (k === "text") node.textContent = v;
    else if (k.startsWith("data-")) node.setAttribute(k, v);
    else node[k] = v;
  }
  for (const c of children) if (c) node.append(c);
  return node;
}

async function api(path, options = {}) {
  const res = await fetch(path, options);
  let body = null;
  try { body = await res.json(); } catch (_) { body = null; }
  if (!res.ok) throw new Error((body && body.error) || `${res.status} ${res.statusText}`);
  return body;
}

function setStatus(node, text, isError = false) {
  node.textContent = text;
  node.classList.toggle("error", isError);
}

// ---------------------------------------------------------------- shared widgets
function bars(probs, container) {
  const box = container || el("div", { class: "bars" });
  const top = EXPRESSIONS.reduce((a, b) => (probs[b] > probs[a] ? b : a));
  if (!box.children.length) {
    for (const e of EXPRESSIONS) {
      const fill = el("div", { class: "fill" });
      fill.style.background = `var(--${e})`;
      box.append(el("div", { class: "bar", "data-expression": e, role: "meter", ariaLabel: e },
        el("span", { class: "name", text: e }), el("div", { class: "track" }, fill), el("span", { class: "pct" })));
    }
  }
  for (const row of box.children) {
    const e = row.dataset.expression, p = probs[e] || 0;
    row.querySelector(".fill").style.width = `${(100 * p).toFixed(1)}%`;
    row.querySelector(".pct").textContent = `${(100 * p).toFixed(0)}%`;
    row.setAttribute("aria-valuenow", p.toFixed(3));
    row.classList.toggle("best", e === top);
  }
  return box;
}

// The face pipeline's quality fields: detector score, eye distance, head pose, low_confidence + reason.
function qualityColor(q) { return q.low_confidence ? "#c8423a" : "#2f9e62"; }

function qualityText(q) {
  const pose = `yaw ${Math.round(q.yaw)}°, pitch ${Math.round(q.pitch)}°`;
  const text = q.low_confidence
    ? `quality: low confidence (${q.reason})`
    : `quality good: score ${q.score.toFixed(2)}, ${Math.round(q.iod)} px between the eyes, ${pose}`;
  return el("span", { class: `quality ${q.low_confidence ? "q-poor" : "q-good"}`, text });
}

function fillSelect(select, names, value) {
  select.replaceChildren(...names.map((n) => el("option", { value: n, text: n })));
  if (value && names.includes(value)) select.value = value;
}

// ---------------------------------------------------------------- views
function showView(name) {
  for (const tab of document.querySelectorAll(".tab")) {
    const on = tab.dataset.view === name;
    tab.classList.toggle("active", on);
    tab.setAttribute("aria-selected", on);
  }
  for (const v of document.querySelectorAll(".view")) v.hidden = v.id !== `view-${name}`;
  if (name !== "live") stopLive();
  if (name === "characters") loadCharacterTable();
  history.replaceState(null, "", `#${name}`);
}

// ---------------------------------------------------------------- photo
function drawPhoto(img, faces) {
  const canvas = $("#photo-canvas");
  const scale = Math.min(1, 1280 / Math.max(img.naturalWidth, img.naturalHeight));
  canvas.width = Math.round(img.naturalWidth * scale);
  canvas.height = Math.round(img.naturalHeight * scale);
  const ctx = canvas.getContext("2d");
  ctx.drawImage(img, 0, 0, canvas.width, canvas.height);
  const line = Math.max(2, canvas.width / 300);
  ctx.font = `${Math.max(14, Math.round(canvas.width / 45))}px system-ui, sans-serif`;
  faces.forEach((f, i) => {
    const [x0, y0, x1, y1] = f.box.map((v) => v * scale);
    const color = qualityColor(f.quality);
    ctx.lineWidth = line; ctx.strokeStyle = color; ctx.strokeRect(x0, y0, x1 - x0, y1 - y0);
    const text = `${i + 1} ${f.label}${f.quality.low_confidence ? "?" : ""}`;
    const w = ctx.measureText(text).width + 8, h = parseInt(ctx.font, 10) + 6;
    ctx.fillStyle = color; ctx.fillRect(x0, Math.max(0, y0 - h), w, h);
    ctx.fillStyle = "#fff"; ctx.fillText(text, x0 + 4, Math.max(0, y0 - h) + h - 5);
  });
}

function faceCards(faces) {
  const box = $("#faces");
  if (!faces.length) { box.replaceChildren(el("p", { class: "status", text: "No face found." })); return; }
  box.replaceChildren(...faces.map((f, i) => el("article", { class: "face-card", "data-label": f.label, "data-face": String(i) },
    el("img", { class: "puppet", alt: `Puppet for face ${i + 1}` }),
    el("div", {}, el("h3", { text: `Face ${i + 1}: ${f.label}` }), qualityText(f.quality), bars(f.probs)))));
}

function photoForm(extra = {}) {
  const form = new FormData();
  form.append("image", state.photoFile);
  for (const [k, v] of Object.entries(extra)) form.append(k, v);
  return { method: "POST", body: form };
}

async function analysePhoto(file) {
  state.photoFile = file;
  const status = $("#photo-status");
  setStatus(status, "Reading faces…");
  $("#matches").replaceChildren(); $("#drawings").replaceChildren();
  const img = new Image();
  img.src = URL.createObjectURL(file);
  try {
    await img.decode();
  } catch (_) { /* the server says what is wrong with it */ }
  try {
    const t0 = performance.now();
    const rec = await api("/api/recognize", photoForm());
    state.photo = rec;
    if (img.naturalWidth) drawPhoto(img, rec.faces);
    faceCards(rec.faces);
    setStatus(status, `${rec.faces.length} face(s) in ${rec.width}×${rec.height} · ${Math.round(performance.now() - t0)} ms (server ${Math.round(rec.ms)} ms)`);
    if (!rec.faces.length) return;
    await Promise.allSettled([loadPuppets(), loadMatches(), loadDrawings()]);
  } catch (err) {
    setStatus(status, err.message, true);
    $("#faces").replaceChildren();
  }
}

async function loadPuppets() {
  if (!state.photoFile) return;
  const res = await api("/api/puppet", photoForm({ character: $("#puppet-character").value, size: 240 }));
  res.faces.forEach((f, i) => {
    const img = document.querySelector(`.face-card[data-face="${i}"] .puppet`);
    if (img) { img.src = f.image; img.alt = `${res.character} making face ${i + 1} (${f.puppet_source})`; }
  });
}

async function loadMatches() {
  const box = $("#matches");
  box.replaceChildren(el("p", { class: "status", text: "Searching the character index…" }));
  try {
    const res = await api("/api/retrieve", photoForm({ top: 3 }));
    box.replaceChildren(...res.faces.map((f, i) => el("div", { class: "match-face" },
      el("h3", { text: `Face ${i + 1} reads as ${f.matched_label}` }),
      el("div", { class: "match-row" }, ...Object.entries(f.by_character).map(([name, ms]) =>
        el("div", { class: "match-char" },
          el("div", { class: "thumbs" }, ...ms.map((m) => el("img", { src: m.thumbnail, alt: `${name} ${m.label} (rank ${m.rank})`, title: `${name}: ${m.label}, JS ${m.js.toFixed(3)}`, loading: "lazy" }))),
          el("span", { text: name })))))));
  } catch (err) { box.replaceChildren(el("p", { class: "status error", text: err.message })); }
}

async function loadDrawings() {
  const box = $("#drawings");
  if (!state.photoFile) return;
  if (!state.hagan.length) { box.replaceChildren(el("p", { class: "status", text: "HA-GAN is not loaded." })); return; }
  box.replaceChildren(el("p", { class: "status", text: "Drawing…" }));
  try {
    const res = await api("/api/translate", photoForm({ character: $("#hagan-character").value }));
    $("#hagan-note").textContent = res.note;
    box.replaceChildren(...res.faces.map((f, i) => el("figure", { class: "drawing" },
      el("img", { src: f.image, alt: `HA-GAN drawing of face ${i + 1} as ${res.character}` }),
      el("figcaption", { text: `face ${i + 1}: D^e reads ${f.label}` }))));
  } catch (err) { box.replaceChildren(el("p", { class: "status error", text: err.message })); }
}

function setupPhoto() {
  const drop = $("#drop"), input = $("#photo-input");
  input.addEventListener("change", () => input.files[0] && analysePhoto(input.files[0]));
  for (const ev of ["dragenter", "dragover"]) drop.addEventListener(ev, (e) => { e.preventDefault(); drop.classList.add("over"); });
  for (const ev of ["dragleave", "drop"]) drop.addEventListener(ev, () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => { e.preventDefault(); const f = e.dataTransfer.files[0]; if (f) analysePhoto(f); });
  $("#hagan-character").addEventListener("change", () => loadDrawings());
}

// ---------------------------------------------------------------- live
// What a live frame costs the page matters: the browser shares the CPU with the server. So the
// capture canvas and its context are kept, the frame goes as JPEG 0.8 (0.7 changed the rig's
// readings 2.5x more for 4 ms less decoding), the puppet comes as a binary JPEG decoded off the
// main thread (createImageBitmap) into a bitmaprenderer canvas, face boxes are positioned divs
// (no 640x480 canvas repainted per frame), the bars change only on a new answer and the numbers
// are rewritten 4 times a second. A frame leaves only when the camera has a new one
// (requestVideoFrameCallback; else at most 30 a second): the same picture is never sent twice,
// and the page stays under the server's frame-rate limit however fast the answers come.
const LIVE_JPEG_QUALITY = 0.8;
const LIVE_STATS_EVERY_MS = 250;
const LIVE_BARS_EVERY_MS = 150;
const LIVE_MIN_GAP_MS = 1000 / 30;  // without requestVideoFrameCallback
// the per-frame work in a Worker where the browser can (MediaStreamTrackProcessor: Chromium);
// ?live=page keeps it on this thread (the fallback of other browsers; for comparisons)
const LIVE_WORKER = new URLSearchParams(location.search).get("live") !== "page";
// on loopback the worker sends the camera's own pixels (no JPEG encoding here, less decoding in
// the server); elsewhere, or with ?frames=jpeg, JPEG 0.8
const LIVE_RAW = ["127.0.0.1", "localhost", "[::1]"].includes(location.hostname)
  && new URLSearchParams(location.search).get("frames") !== "jpeg";
// raw frames: only the region the server reads next (its answer's next_region); ?regions=off: whole frames
const LIVE_REGIONS = new URLSearchParams(location.search).get("regions") !== "off";

async function startLive() {
  const status = $("#live-status");
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    setStatus(status, "This browser gives no camera access (use http://127.0.0.1 or localhost).", true); return;
  }
  let stream;
  try {
    stream = await navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 480 }, audio: false });
  } catch (err) { setStatus(status, `Camera refused: ${err.message}`, true); return; }
  const video = $("#live-video");
  video.srcObject = stream;
  await video.play();
  const proto = location.protocol === "https:" ? "wss" : "ws";
  const url = `${proto}://${location.host}/ws/live?puppet=binary&character=${encodeURIComponent($("#puppet-character").value)}`;
  window.studioLiveStats = { rtt: [], server: [] };
  $("#live-start").disabled = true; $("#live-stop").disabled = false;
  if (LIVE_WORKER && window.MediaStreamTrackProcessor && window.Worker && HTMLCanvasElement.prototype.transferControlToOffscreen) {
    startLiveWorker(stream, url); return;
  }
  const ws = new WebSocket(url);
  const canvas = document.createElement("canvas");
  const live = { stream, ws, frames: 0, sentAt: 0, times: [], canvas, ctx: canvas.getContext("2d", { alpha: false }),
                 running: true, puppetBlob: null, statsAt: 0, barsAt: 0, probs: "", status: "", fresh: true, waiting: false,
                 timer: 0, clock: typeof video.requestVideoFrameCallback === "function" };
  if (live.clock) {
    const tick = () => {  // the camera presented a new frame
      if (!live.running) return;
      live.fresh = true;
      if (live.waiting) nextFrame(live);
      video.requestVideoFrameCallback(tick);
    };
    video.requestVideoFrameCallback(tick);
  }
  state.live = live;
  ws.onopen = () => { setStatus(status, "Streaming."); nextFrame(live); };
  ws.onmessage = (ev) => {
    if (typeof ev.data !== "string") { live.puppetBlob = ev.data; return; }  // the next frame's puppet
    onLiveMessage(live, JSON.parse(ev.data));
  };
  ws.onclose = (ev) => { if (live.running) { setStatus(status, `Connection closed (${ev.code}${ev.reason ? ": " + ev.reason : ""}).`, true); stopLive(); } };
}

function startLiveWorker(stream, url) {
  // the per-frame work runs in live-worker.js; this thread only shows the answers
  const [track] = stream.getVideoTracks();
  const frames = new MediaStreamTrackProcessor({ track, maxBufferSize: 1 }).readable;
  const old = $("#live-puppet"), canvas = old.cloneNode(false);  // a canvas hands its control over once
  delete canvas.dataset.shown;
  old.replaceWith(canvas);
  const offscreen = canvas.transferControlToOffscreen();
  const worker = new Worker("/static/live-worker.js");
  // `ws` stands for the worker's socket where the page-thread loop has its own (character switch, stop)
  const live = { stream, worker, frames: 0, times: [], running: true, statsAt: 0, barsAt: 0, probs: "", status: "", timer: 0,
                 ws: { send: (text) => worker.postMessage({ type: "character", name: JSON.parse(text).character }), close: () => worker.postMessage({ type: "stop" }) } };
  state.live = live;
  worker.onmessage = (ev) => {
    const m = ev.data;
    if (!live.running) return;
    if (m.type === "open") setStatus($("#live-status"), "Streaming.");
    else if (m.type === "answer") onLiveMessage(live, m.msg, m.msg.rtt);
    else if (m.type === "error") setStatus($("#live-status"), m.error, true);
    else if (m.type === "closed") { setStatus($("#live-status"), `Connection closed (${m.code}${m.reason ? ": " + m.reason : ""}).`, true); stopLive(); }
  };
  worker.postMessage({ type: "start", raw: LIVE_RAW, regions: LIVE_REGIONS, url, quality: LIVE_JPEG_QUALITY, frames, puppet: offscreen }, [frames, offscreen]);
}

function nextFrame(live) {
  // send when the camera has a frame not sent yet (or after 100 ms whatever happens)
  if (!live.running) return;
  clearTimeout(live.timer);
  const wait = live.clock ? (live.fresh ? 0 : 100) : Math.max(0, live.sentAt + LIVE_MIN_GAP_MS - performance.now());
  live.waiting = wait > 0;
  if (wait > 0) { live.timer = setTimeout(() => { live.waiting = false; sendFrame(live); }, wait); return; }
  sendFrame(live);
}

function sendFrame(live) {
  if (!live.running || live.ws.readyState !== WebSocket.OPEN) return;
  live.waiting = false; live.fresh = false;
  const video = $("#live-video");
  if (!video.videoWidth) { live.timer = setTimeout(() => sendFrame(live), 50); return; }
  // resize the capture canvas only when the camera's size changes (a resize reallocates it)
  if (live.canvas.width !== video.videoWidth) live.canvas.width = video.videoWidth;
  if (live.canvas.height !== video.videoHeight) live.canvas.height = video.videoHeight;
  live.ctx.drawImage(video, 0, 0);
  live.canvas.toBlob((blob) => {
    if (!blob || !live.running || live.ws.readyState !== WebSocket.OPEN) return;
    live.sentAt = performance.now();
    live.ws.send(blob);
  }, "image/jpeg", LIVE_JPEG_QUALITY);
}

function onLiveMessage(live, msg, rtt) {
  const inPage = rtt === undefined;  // else the worker sent the frame and timed the round trip
  if (msg.type === "error") {
    setStatus($("#live-status"), msg.error, true); live.status = "";
    if (inPage) live.timer = setTimeout(() => sendFrame(live), 200);
    return;
  }
  if (msg.type !== "frame") return;
  const now = performance.now();
  if (inPage) { rtt = now - live.sentAt; nextFrame(live); }  // the next frame leaves first (stop-and-wait); this one is shown meanwhile
  live.frames += 1;
  live.times.push(now);
  // the last 2000 round trips and server times, for benchmarks (bench_studio_load.py --browser-live)
  const stats = window.studioLiveStats;
  stats.rtt.push(rtt); stats.server.push(msg.server_ms); stats.sent = msg.sent || "jpeg";  // the frames' format
  stats.regions = (stats.regions || 0) + (msg.sentRegion ? 1 : 0);  // frames sent as the region the server asked for
  if (stats.queue) stats.queue.push(msg.queue_ms || 0);  // waiting for a worker (benchmarks)
  if (stats.kinds) stats.kinds.push(msg.sentRegion || 0);  // per frame: 0 whole, 1 a region, 2 + the overview (benchmarks)
  if (stats.rtt.length > 2000) { stats.rtt.shift(); stats.server.shift(); if (stats.queue) stats.queue.shift(); if (stats.kinds) stats.kinds.shift(); }
  while (live.times.length && now - live.times[0] > 2000) live.times.shift();
  if (now - live.statsAt >= LIVE_STATS_EVERY_MS) {
    live.statsAt = now;
    $("#live-frames").textContent = String(live.frames);
    $("#live-fps").textContent = live.times.length > 1 ? ((live.times.length - 1) / ((now - live.times[0]) / 1000)).toFixed(1) : "–";
    $("#live-latency").textContent = `${Math.round(rtt)} ms`;
    $("#live-server").textContent = `${Math.round(msg.server_ms)} ms`;
  }
  placeBoxes(msg);
  let text = "Streaming: no face in view.";
  if (msg.faces.length) {
    const best = msg.faces.reduce((a, b) => ((b.box[2] - b.box[0]) > (a.box[2] - a.box[0]) ? b : a));
    const key = EXPRESSIONS.map((e) => best.probs[e]).join(",");
    if (key !== live.probs && now - live.barsAt >= LIVE_BARS_EVERY_MS) {  // a new answer, at most ~7 times a second
      live.probs = key; live.barsAt = now; bars(best.probs, $("#live-bars"));
    }
    const held = (msg.rig_flags || []).filter((x) => x === "held" || x === "neutral fallback");
    text = `Streaming: ${best.label}${best.quality.low_confidence ? ` (low confidence: ${best.quality.reason})` : ""}${held.length ? ` · puppet ${held.join(", ")}` : ""}`;
  }
  if (text !== live.status) { live.status = text; setStatus($("#live-status"), text); }
  if (msg.puppet === "binary" && !inPage && !$("#live-puppet").dataset.shown) $("#live-puppet").dataset.shown = "1";  // drawn by the worker
  if (msg.puppet === "binary" && live.puppetBlob) { showPuppet(live.puppetBlob); live.puppetBlob = null; }
  if (msg.puppet && msg.puppet_source !== live.source) { live.source = msg.puppet_source; $("#live-puppet-source").textContent = msg.puppet_source; }
}

function showPuppet(blob) {
  createImageBitmap(blob).then((bitmap) => {  // decoded off the main thread
    const canvas = $("#live-puppet");
    canvas.getContext("bitmaprenderer").transferFromImageBitmap(bitmap);
    if (!canvas.dataset.shown) canvas.dataset.shown = "1";
  }).catch(() => { /* a broken frame: keep the last one */ });
}

// the box layer's size in CSS pixels, kept by a ResizeObserver (reading it per frame would force a layout)
const boxLayer = { width: 0, height: 0, observer: null };

function placeBoxes(msg) {
  // one div per face, reused: moved with a transform (its own compositing layer, no layout),
  // resized and recoloured only when that changes (a style write can cost a layout and a repaint)
  const layer = $("#live-boxes");
  if (!boxLayer.observer) {
    boxLayer.observer = new ResizeObserver(([entry]) => { boxLayer.width = entry.contentRect.width; boxLayer.height = entry.contentRect.height; });
    boxLayer.observer.observe(layer);
  }
  while (layer.children.length < msg.faces.length) layer.append(el("div", { class: "face-box" }));
  const sx = boxLayer.width / msg.width, sy = boxLayer.height / msg.height;
  [...layer.children].forEach((box, i) => {
    const f = msg.faces[i];
    if (box.hidden !== !f) box.hidden = !f;
    if (!f) return;
    const [x0, y0, x1, y1] = f.box;
    box.style.transform = `translate(${Math.round(x0 * sx)}px, ${Math.round(y0 * sy)}px)`;
    const w = Math.round((x1 - x0) * sx), h = Math.round((y1 - y0) * sy), color = qualityColor(f.quality);
    if (Math.abs(w - (box._w || 0)) > 1 || Math.abs(h - (box._h || 0)) > 1) {
      box._w = w; box._h = h; box.style.width = `${w}px`; box.style.height = `${h}px`;
    }
    if (box._color !== color) { box._color = color; box.style.borderColor = color; }
  });
}

function stopLive() {
  const live = state.live;
  if (!live) return;
  live.running = false;
  clearTimeout(live.timer);
  try { live.ws.close(); } catch (_) { /* already closed */ }
  if (live.worker) setTimeout(() => live.worker.terminate(), 500);  // after it closed its socket
  for (const t of live.stream.getTracks()) t.stop();
  $("#live-video").srcObject = null;
  for (const box of $("#live-boxes").children) box.hidden = true;
  state.live = null;
  $("#live-start").disabled = false; $("#live-stop").disabled = true;
  $("#live-frames").textContent = String(live.frames);
  setStatus($("#live-status"), `Camera off (${live.frames} frames processed).`);
}

// ---------------------------------------------------------------- characters
function characterImage(name, expression, size = 168) {
  return el("img", { src: `/api/characters/${encodeURIComponent(name)}/${expression}.png?size=${size}`, alt: `${name} ${expression}`, loading: "lazy", width: 84, height: 84 });
}

function loadCharacterTable() {
  const wrap = $("#character-table");
  if (wrap.childElementCount) return;
  const head = el("tr", {}, el("th", { text: "" }), ...EXPRESSIONS.map((e) => el("th", { scope: "col", text: e })));
  const rows = state.characters.map((name) => el("tr", {}, el("th", { scope: "row", text: name }),
    ...EXPRESSIONS.map((e) => el("td", {}, characterImage(name, e)))));
  wrap.replaceChildren(el("table", { class: "chars" }, el("thead", {}, head), el("tbody", {}, ...rows)));
}

async function randomCharacter() {
  const seedText = $("#random-seed").value.trim();
  try {
    const res = await api(`/api/characters/random${seedText ? `?seed=${encodeURIComponent(seedText)}` : ""}`, { method: "POST" });
    $("#random-name").textContent = `${res.name} (${res.style.family || "character"})`;
    $("#random-row").replaceChildren(...EXPRESSIONS.map((e) => el("figure", {}, characterImage(res.name, e), el("figcaption", { text: e }))));
    const link = $("#random-json");
    link.href = `/api/characters/${encodeURIComponent(res.name)}.json`;
    link.download = `${res.name}.json`;
    link.hidden = false;
    const pick = $("#puppet-character");
    if (![...pick.options].some((o) => o.value === res.name)) pick.append(el("option", { value: res.name, text: res.name }));
  } catch (err) { setStatus($("#random-name"), err.message, true); }
}

// ---------------------------------------------------------------- animate
async function generateAnimation() {
  const status = $("#animate-status"), go = $("#animate-go");
  go.disabled = true;
  setStatus(status, "Generating (LSTM, mesh warp, preview render)…");
  try {
    const res = await api("/api/animate", { method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ expression: $("#animate-expression").value, frames: Number($("#animate-frames").value) }) });
    const video = $("#animate-video");
    video.src = res.files["preview.mp4"];
    video.play().catch(() => {});
    const strip = $("#animate-strip");
    strip.src = res.files["strip.png"]; strip.hidden = false;
    for (const [id, file] of [["#animate-glb", "animation.glb"], ["#animate-obj", "frames_obj.zip"]]) {
      const a = $(id); a.href = res.files[file]; a.download = `${res.expression}_${file}`; a.hidden = false;
    }
    setStatus(status, `${res.expression}: ${res.frames} frames ready in ${(res.ms / 1000).toFixed(1)} s.`);
  } catch (err) { setStatus(status, err.message, true); }
  go.disabled = false;
}

// ---------------------------------------------------------------- start
async function init() {
  for (const tab of document.querySelectorAll(".tab")) tab.addEventListener("click", () => showView(tab.dataset.view));
  setupPhoto();
  $("#live-start").addEventListener("click", startLive);
  $("#live-stop").addEventListener("click", stopLive);
  $("#random-character").addEventListener("click", randomCharacter);
  $("#animate-go").addEventListener("click", generateAnimation);
  fillSelect($("#animate-expression"), EXPRESSIONS.filter((e) => e !== "neutral"), "surprise");
  $("#puppet-character").addEventListener("change", () => {
    if (state.live) state.live.ws.send(JSON.stringify({ character: $("#puppet-character").value }));
    if (state.photoFile && state.photo && state.photo.faces.length) loadPuppets().catch(() => {});
  });
  try {
    const [health, chars] = await Promise.all([api("/api/health"), api("/api/characters")]);
    $("#health").textContent = `ready · ${health.workers} workers`;
    $("#health").className = "health ok";
    $("#version").textContent = `deepexpr ${health.version}`;
    state.characters = chars.characters; state.hagan = chars.hagan_characters;
    fillSelect($("#puppet-character"), chars.characters, "pip");
    fillSelect($("#hagan-character"), chars.hagan_characters, "pip");
  } catch (err) {
    $("#health").textContent = `server not reachable: ${err.message}`;
    $("#health").className = "health bad";
  }
  const fromHash = () => {
    const name = (location.hash || "#photo").slice(1);
    if (["photo", "live", "characters", "animate"].includes(name)) showView(name);
  };
  window.addEventListener("hashchange", fromHash);
  fromHash();
  document.body.dataset.ready = "1";
}

init();
