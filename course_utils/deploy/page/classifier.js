// The classifier page of course_utils.deploy.web: onnxruntime-web runs the model in this browser tab.
// Settings come from the page's JSON block (#course-config); everything it loads comes from its own server.
// window.course holds what the page did (tests and the curious read it): backend, threads, errors, results.
const cfg = JSON.parse(document.getElementById("course-config").textContent);
const app = document.getElementById("course-app");
const state = (window.course = {
  ready: false, error: null, backend: null, fallback: null, isolated: self.crossOriginIsolated === true,
  threads: null, warnings: [], reference: null, digits: null, photo: null,
});

// onnxruntime-web reports some problems (threads without cross-origin isolation) with console.warn only.
const consoleWarn = console.warn.bind(console);
console.warn = (...args) => { state.warnings.push(args.map(String).join(" ")); showWarnings(); consoleWarn(...args); };

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (key === "class") node.className = value; else node[key] = value;
  }
  for (const child of children) node.append(child);
  return node;
}
const message = (e) => String(e && e.message ? e.message : e);
const fromB64 = (b64) => new Float32Array(Uint8Array.from(atob(b64), (c) => c.charCodeAt(0)).buffer);
function softmax(logits) {
  const max = Math.max(...logits);
  const exps = Array.from(logits, (v) => Math.exp(v - max));
  const sum = exps.reduce((a, b) => a + b, 0);
  return exps.map((v) => v / sum);
}
const topK = (probs, k) => probs.map((p, i) => [i, p]).sort((a, b) => b[1] - a[1] || a[0] - b[0]).slice(0, k);

const title = el("h1", {}, `${cfg.title} · onnxruntime-web in this browser`);
const status = el("p", { class: "status" }, "loading onnxruntime-web…");
const fallbackBox = el("div", { class: "fallback hidden" });
const warningBox = el("div", { class: "warning hidden" });
const errorBox = el("pre", { class: "error hidden" });
const referenceBox = el("div", { class: "reference hidden" });
const taskBox = el("div", { class: "task" });
app.replaceChildren(title, status, fallbackBox, warningBox, errorBox, referenceBox, taskBox);

function showWarnings() {
  if (!state.warnings.length) return;
  warningBox.textContent = "onnxruntime-web warned: " + state.warnings.join("\n");
  warningBox.classList.remove("hidden");
}
function fail(text) {
  state.error = text;
  errorBox.textContent = text;
  errorBox.classList.remove("hidden");
  status.textContent = "onnxruntime-web could not create a session: its own message is below.";
}

function bars(probs, labels, k) {
  const box = el("div", { class: "bars" });
  const best = topK(probs, k);
  const order = k >= probs.length ? probs.map((_, i) => i) : best.map(([i]) => i);
  for (const i of order) {
    const fill = el("div", { class: "fill" });
    fill.style.width = `${(100 * probs[i]).toFixed(1)}%`;
    const row = el("div", { class: "bar" + (i === best[0][0] ? " top" : "") },
      el("span", { class: "label", title: labels[i] }, labels[i]), el("span", { class: "track" }, fill),
      el("span", {}, `${(100 * probs[i]).toFixed(1)}%`));
    box.append(row);
  }
  return box;
}

async function classify(ort, session, data) {
  const feeds = { [cfg.inputName]: new ort.Tensor("float32", data, cfg.inputShape) };
  const results = await session.run(feeds);
  return Array.from(results[cfg.outputName].data);
}

async function runReference(ort, session) {
  const input = fromB64(cfg.reference.input.b64);
  const python = Array.from(fromB64(cfg.reference.python.b64));
  const browser = await classify(ort, session, input);
  let maxAbsDiff = 0;
  for (let i = 0; i < python.length; i++) maxAbsDiff = Math.max(maxAbsDiff, Math.abs(browser[i] - python[i]));
  const top = (out) => cfg.labels[topK(softmax(out), 1)[0][0]];
  state.reference = { browser, python, maxAbsDiff, browserTop: top(browser), pythonTop: top(python) };
  referenceBox.textContent = `Fixed input: browser says "${top(browser)}", Python's onnxruntime says "${top(python)}"; ` +
    `max |browser − Python| over the ${python.length} outputs = ${maxAbsDiff.toExponential(2)}`;
  referenceBox.classList.remove("hidden");
}

// ---- digits: the 8x8 input the training data was made from (see course_utils.deploy.web.digits_input)
function digitsInput(ink, height, width) {
  let top = height, left = width, bottom = -1, right = -1;
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) if (ink[y * width + x] > 0) {
    if (y < top) top = y; if (y > bottom) bottom = y; if (x < left) left = x; if (x > right) right = x;
  }
  const out = new Float32Array(64);
  if (bottom < 0) return out;
  const h = bottom - top + 1, w = right - left + 1, side = Math.max(h, w), scale = 32.0 / side;
  const y0 = top - (side - h) / 2.0, x0 = left - (side - w) / 2.0;
  for (let i = 0; i < 32; i++) {
    const r0 = Math.floor(y0 + i / scale), r1 = Math.max(Math.ceil(y0 + (i + 1) / scale), r0 + 1);
    for (let j = 0; j < 32; j++) {
      const c0 = Math.floor(x0 + j / scale), c1 = Math.max(Math.ceil(x0 + (j + 1) / scale), c0 + 1);
      let sum = 0;
      for (let r = r0; r < r1; r++) for (let c = c0; c < c1; c++) {
        if (r >= 0 && r < height && c >= 0 && c < width) sum += ink[r * width + c];
      }
      if (sum / ((r1 - r0) * (c1 - c0)) >= 0.5) out[(i >> 2) * 8 + (j >> 2)] += 1;
    }
  }
  for (let k = 0; k < 64; k++) out[k] /= 16;
  return out;
}

function digitsTask(ort, session) {
  const size = 256;
  const pad = el("canvas", { class: "pad", width: size, height: size, title: "draw a digit" });
  const preview = el("canvas", { class: "preview", width: 8, height: 8 });
  preview.style.width = preview.style.height = "96px";
  const clear = el("button", { type: "button" }, "clear");
  const result = el("div", { class: "bars" }, "Draw a digit (0-9) in the box.");
  const ctx = pad.getContext("2d", { willReadFrequently: true });
  const blank = () => { ctx.fillStyle = "#fff"; ctx.fillRect(0, 0, size, size); };
  blank();
  ctx.lineWidth = 22; ctx.lineCap = "round"; ctx.lineJoin = "round"; ctx.strokeStyle = "#000";
  let drawing = false, busy = false, again = false;
  const at = (e) => { const r = pad.getBoundingClientRect(); return [(e.clientX - r.left) * size / r.width, (e.clientY - r.top) * size / r.height]; };
  async function update() {
    if (busy) { again = true; return; }
    busy = true;
    try {
      const pixels = ctx.getImageData(0, 0, size, size).data;
      const ink = new Float32Array(size * size);
      for (let k = 0; k < ink.length; k++) ink[k] = (255 - pixels[4 * k]) / 255;
      const input = digitsInput(ink, size, size);
      const logits = await classify(ort, session, input);
      const probs = softmax(logits);
      state.digits = { input: Array.from(input), logits, probs, top: topK(probs, 1)[0][0] };
      const p = preview.getContext("2d"), img = p.createImageData(8, 8);
      for (let k = 0; k < 64; k++) { const v = 255 - Math.round(255 * input[k]); img.data.set([v, v, v, 255], 4 * k); }
      p.putImageData(img, 0, 0);
      result.replaceChildren(bars(probs, cfg.labels, 10));
    } catch (e) { fail(message(e)); } finally { busy = false; }
    if (again) { again = false; update(); }
  }
  pad.addEventListener("pointerdown", (e) => { drawing = true; pad.setPointerCapture(e.pointerId); const [x, y] = at(e); ctx.beginPath(); ctx.moveTo(x, y); ctx.lineTo(x, y); ctx.stroke(); });
  pad.addEventListener("pointermove", (e) => { if (!drawing) return; const [x, y] = at(e); ctx.lineTo(x, y); ctx.stroke(); });
  const end = () => { if (drawing) { drawing = false; update(); } };
  pad.addEventListener("pointerup", end);
  pad.addEventListener("pointercancel", end);
  clear.addEventListener("click", () => { blank(); state.digits = null; result.replaceChildren("Draw a digit (0-9) in the box."); preview.getContext("2d").clearRect(0, 0, 8, 8); });
  taskBox.replaceChildren(el("div", { class: "row" }, el("div", {}, pad, el("br"), clear),
    el("div", {}, el("div", {}, "what the model sees (8x8)"), preview), result));
}

// ---- photo: EfficientNet-Lite0's preprocessing (see course_utils.deploy.web.photo_input)
function photoTask(ort, session) {
  const [, , height, width] = cfg.inputShape;
  const picker = el("input", { type: "file", accept: "image/*", class: "photo-input" });
  const view = el("canvas", { class: "preview", width, height });
  view.style.width = view.style.height = "224px";
  const result = el("div", { class: "bars" }, "Pick a photo: the page classifies it here, in the browser.");
  picker.addEventListener("change", async () => {
    const file = picker.files && picker.files[0];
    if (!file) return;
    try {
      const bitmap = await createImageBitmap(file);
      const side = Math.min(bitmap.width, bitmap.height);
      const left = Math.floor((bitmap.width - side) / 2), top = Math.floor((bitmap.height - side) / 2);
      const ctx = view.getContext("2d", { willReadFrequently: true });
      ctx.imageSmoothingEnabled = true; ctx.imageSmoothingQuality = "high";
      ctx.drawImage(bitmap, left, top, side, side, 0, 0, width, height);
      const rgba = ctx.getImageData(0, 0, width, height).data;
      const plane = width * height, input = new Float32Array(3 * plane);
      for (let k = 0; k < plane; k++) for (let c = 0; c < 3; c++) input[c * plane + k] = (rgba[4 * k + c] - 127) / 128;
      const logits = await classify(ort, session, input);
      const probs = softmax(logits);
      const top5 = topK(probs, 5).map(([i, p]) => ({ index: i, label: cfg.labels[i], probability: p }));
      state.photo = { name: file.name, top5, logits, input };
      result.replaceChildren(el("div", {}, file.name), bars(probs, cfg.labels, 5));
    } catch (e) { fail(message(e)); }
  });
  taskBox.replaceChildren(picker, el("div", { class: "row" }, view, result));
}

async function main() {
  let ort;
  try {
    ort = await import(`./${cfg.ortModule}`);
  } catch (e) {
    fail(`could not import onnxruntime-web (${cfg.ortModule}): ${message(e)}`);
    return;
  }
  // Unset, onnxruntime-web finds its .mjs/.wasm beside its own module; set, it looks where it is told.
  if (cfg.wasmPaths !== null) ort.env.wasm.wasmPaths = new URL(cfg.wasmPaths, window.location.href).href;
  ort.env.wasm.numThreads = cfg.numThreads;
  let providers = ["wasm"];
  if (cfg.backend === "webgpu") {
    if (!("gpu" in navigator)) {
      state.fallback = "navigator.gpu is undefined: this browser has no WebGPU (headless Chromium needs --enable-unsafe-webgpu)";
    } else {
      try {
        const adapter = await navigator.gpu.requestAdapter();
        if (adapter) providers = ["webgpu"]; else state.fallback = "navigator.gpu.requestAdapter() returned null: no usable GPU adapter";
      } catch (e) { state.fallback = `navigator.gpu.requestAdapter() failed: ${message(e)}`; }
    }
  }
  let session;
  try {
    session = await ort.InferenceSession.create(cfg.model, { executionProviders: providers });
  } catch (e) {
    if (providers[0] !== "webgpu") { fail(message(e)); return; }
    state.fallback = `a WebGPU session failed: ${message(e)}`;
    providers = ["wasm"];
    try { session = await ort.InferenceSession.create(cfg.model, { executionProviders: providers }); }
    catch (e2) { fail(message(e2)); return; }
  }
  state.backend = providers[0];
  state.threads = ort.env.wasm.numThreads;
  const isolation = state.isolated
    ? `cross-origin isolated: ${state.threads} thread(s)`
    : "not cross-origin isolated (no SharedArrayBuffer): 1 thread";
  status.textContent = `onnxruntime-web ${ort.env.versions ? ort.env.versions.web : ""} · ${state.backend} backend · ${isolation} · model ${cfg.model}`;
  if (state.fallback) {
    fallbackBox.textContent = `Asked for WebGPU, running on wasm instead: ${state.fallback}`;
    fallbackBox.classList.remove("hidden");
  }
  try { await runReference(ort, session); } catch (e) { fail(message(e)); return; }
  if (cfg.task === "digits") digitsTask(ort, session); else photoTask(ort, session);
  state.ready = true;
  document.body.dataset.courseReady = "1";
}

window.addEventListener("unhandledrejection", (e) => { if (!state.error) fail(message(e.reason)); });
main();
