// deepexpr studio, Live view: the per-frame work, off the page's main thread (a dedicated Worker).
// The page hands over the camera's frames (a MediaStreamTrackProcessor's stream) and the puppet
// canvas (transferControlToOffscreen); this worker owns the socket. Per frame it sends the newest
// camera frame's own pixels (on loopback; only the region the last answer asked for, see the
// server's liveregion.py) or draws it into an OffscreenCanvas and encodes it (JPEG 0.8); the
// answer's puppet JPEG is decoded here (createImageBitmap) and shown on the puppet canvas; the
// page gets only what it shows (faces, numbers) by postMessage. One frame in flight: the next
// leaves when the answer has arrived and the camera has a frame not sent yet (older unsent
// frames are closed at once, so the camera never queues behind the server).
"use strict";

const RAW_FORMATS = ["I420", "NV12", "RGBA", "RGBX", "BGRA", "BGRX"];  // what the server takes raw
const RAW_MAX_BYTES = 1000000;  // the server's default --live-max-bytes
const live = { ws: null, reader: null, latest: null, busy: false, running: false, sentAt: 0,
               canvas: null, ctx: null, puppet: null, puppetBlob: null, quality: 0.8,
               region: null, sentRegion: 0, whole: null };

self.onmessage = (ev) => {
  const m = ev.data;
  if (m.type === "start") start(m);
  else if (m.type === "character" && live.ws && live.ws.readyState === WebSocket.OPEN) live.ws.send(JSON.stringify({ character: m.name }));
  else if (m.type === "stop") stop();
};

function start(m) {
  live.running = true;
  live.quality = m.quality;
  live.raw = m.raw;
  live.regions = m.regions !== false;
  live.puppet = m.puppet.getContext("bitmaprenderer");
  live.reader = m.frames.getReader();
  live.ws = new WebSocket(m.url);
  live.ws.binaryType = "blob";
  live.ws.onopen = () => { self.postMessage({ type: "open" }); pump(); };
  live.ws.onmessage = (e) => onAnswer(e.data);
  live.ws.onclose = (e) => { if (live.running) self.postMessage({ type: "closed", code: e.code, reason: e.reason }); stop(); };
}

async function pump() {
  // keep only the newest camera frame; send it when no frame is in flight
  while (live.running) {
    let got;
    try { got = await live.reader.read(); } catch (_) { break; }
    if (got.done) break;
    if (live.latest) live.latest.close();
    live.latest = got.value;
    if (!live.busy) send();
  }
}

async function send() {
  const frame = live.latest;
  if (!frame || !live.ws || live.ws.readyState !== WebSocket.OPEN) return;
  live.latest = null;
  live.busy = true;
  try {
    const w = frame.displayWidth, h = frame.displayHeight;
    if (!live.canvas || live.canvas.width !== w || live.canvas.height !== h) {
      live.canvas = new OffscreenCanvas(w, h);
      live.ctx = live.canvas.getContext("2d", { alpha: false });
    }
    if (live.raw && await sendRaw(frame)) return;
    live.ctx.drawImage(frame, 0, 0);
    frame.close();
    const blob = await live.canvas.convertToBlob({ type: "image/jpeg", quality: live.quality });
    if (!live.running || live.ws.readyState !== WebSocket.OPEN) return;
    live.sentAt = performance.now();
    live.sentFormat = "jpeg";
    live.sentRegion = 0;
    live.ws.send(blob);
  } catch (err) {
    live.busy = false;
    self.postMessage({ type: "error", error: `frame capture failed: ${err.message}` });
  }
}

async function sendRaw(frame) {
  // the frame's own pixels ("DXRF", format, width, height, pixels: the server's decode_frame), or
  // only the region the last answer asked for ("DXRC", format, width, height, x, y, w, h, pixels:
  // where the server reads the tracked faces next), with the whole frame at half size after it
  // when the answer asked for an overview ("DXRO": for the server's periodic face detector);
  // false (send a JPEG instead) for a format or size the server does not take raw
  const w = frame.visibleRect.width, h = frame.visibleRect.height, format = frame.format;  // null once closed
  const yuv = format === "I420" || format === "NV12";
  if (!RAW_FORMATS.includes(format) || (yuv && (w % 2 || h % 2))) return false;
  const asked = live.regions && live.region && live.region.width === w && live.region.height === h ? live.region : null;
  const overview = asked && asked.overview && format === "I420" && w % 4 === 0 && h % 4 === 0;
  const r = asked && (overview || !asked.overview) ? asked.rect : null;  // else the whole frame
  const rw = r ? r[2] : w, rh = r ? r[3] : h, head = r ? 20 : 12;
  const options = r ? { rect: { x: r[0], y: r[1], width: rw, height: rh } } : undefined;
  const size = frame.allocationSize(options), extra = overview ? (w * h * 3) / 8 : 0;
  if (size + head + extra > RAW_MAX_BYTES || size !== (yuv ? (rw * rh * 3) / 2 : rw * rh * 4)) return false;
  const buf = new Uint8Array(head + size + extra);
  buf.set(overview ? [68, 88, 82, 79] : r ? [68, 88, 82, 67] : [68, 88, 82, 70], 0);  // "DXRO" / "DXRC" / "DXRF"
  for (let i = 0; i < 4; i++) buf[4 + i] = format.charCodeAt(i);
  const view = new DataView(buf.buffer);
  [w, h, ...(r || [])].forEach((v, i) => view.setUint16(8 + 2 * i, v, true));
  await frame.copyTo(buf.subarray(head, head + size), options);
  if (overview) {
    if (!live.whole || live.whole.length !== (w * h * 3) / 2) live.whole = new Uint8Array((w * h * 3) / 2);
    await frame.copyTo(live.whole);
    halveI420(live.whole, w, h, buf, head + size);
  }
  frame.close();
  if (!live.running || live.ws.readyState !== WebSocket.OPEN) return true;
  live.sentAt = performance.now();
  live.sentFormat = format;
  live.sentRegion = overview ? 2 : r ? 1 : 0;  // (for the page's stats)
  live.ws.send(buf);
  return true;
}

function halveI420(src, w, h, dst, at) {
  // an I420 frame at half size (each plane's 2x2 blocks averaged) written into dst from `at`
  const planes = [[0, w, h], [w * h, w / 2, h / 2], [(w * h * 5) / 4, w / 2, h / 2]];
  for (const [start, pw, ph] of planes) {
    for (let y = 0; y < ph / 2; y++) {
      const r0 = start + 2 * y * pw, r1 = r0 + pw;
      for (let x = 0; x < pw; x += 2) dst[at++] = (src[r0 + x] + src[r0 + x + 1] + src[r1 + x] + src[r1 + x + 1] + 2) >> 2;
    }
  }
}

function onAnswer(data) {
  if (typeof data !== "string") { live.puppetBlob = data; return; }  // the next JSON's puppet
  const msg = JSON.parse(data);
  const rtt = performance.now() - live.sentAt;
  // the region of the next frame the server reads (null: the whole frame), for a frame of this size
  if (msg.type === "frame") live.region = msg.next_region ? { rect: msg.next_region, width: msg.width, height: msg.height, overview: !!msg.next_overview } : null;
  else if (msg.type === "error") live.region = null;
  if (msg.type === "frame" || msg.type === "error") {
    live.busy = false;
    if (msg.type === "error") setTimeout(() => { if (!live.busy && live.latest) send(); }, 200);
    else if (live.latest) send();  // the next frame leaves first; this answer is shown meanwhile
  }
  if (msg.type === "frame" && msg.puppet === "binary" && live.puppetBlob) {
    const blob = live.puppetBlob;
    live.puppetBlob = null;
    createImageBitmap(blob).then((bitmap) => live.puppet.transferFromImageBitmap(bitmap)).catch(() => {});
  }
  if (msg.type === "frame") { msg.rtt = rtt; msg.sent = live.sentFormat; msg.sentRegion = live.sentRegion; }  // round trip and what was sent, for the page's stats
  self.postMessage({ type: "answer", msg });
}

function stop() {
  live.running = false;
  if (live.latest) { live.latest.close(); live.latest = null; }
  try { if (live.reader) live.reader.cancel(); } catch (_) { /* already done */ }
  try { if (live.ws) live.ws.close(); } catch (_) { /* already closed */ }
}
