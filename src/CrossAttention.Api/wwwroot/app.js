// The attention explorer: plain browser JavaScript, no build step. Everything it shows comes from the service's API.
"use strict";

const $ = (id) => document.getElementById(id);
const state = { models: [], session: null, input: null, layer: 0, heads: [], alignment: null, running: false };

// Light → deep indigo; weights are probabilities, so heads are drawn on a fixed 0..1 scale.
const RAMP = [[245, 247, 255], [199, 210, 254], [129, 140, 248], [79, 70, 229], [49, 46, 129]];

function color(t) {
  const x = Math.min(1, Math.max(0, t)) * (RAMP.length - 1);
  const i = Math.min(RAMP.length - 2, Math.floor(x)), f = x - i;
  const c = RAMP[i].map((v, k) => Math.round(v + (RAMP[i + 1][k] - v) * f));
  return `rgb(${c[0]}, ${c[1]}, ${c[2]})`;
}

async function api(method, path, body) {
  const headers = { Accept: "application/json" };
  const key = $("api-key").value.trim();
  if (key) headers.Authorization = `Bearer ${key}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await response.text();
  const data = text ? JSON.parse(text) : null;
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}

class ApiError extends Error {
  constructor(status, problem) {
    const errors = problem && problem.errors
      ? " " + Object.entries(problem.errors).map(([k, v]) => `${k}: ${v.join(" ")}`).join("; ") : "";
    const hint = status === 401 ? " Enter an API key above." : status === 403 ? " This key may not use this session." : "";
    super(`${status} ${problem?.title ?? ""}${problem?.detail ? ": " + problem.detail : ""}${errors}${hint}`);
    this.status = status;
  }
}

function setStatus(text, isError = false) {
  $("status").textContent = text;
  $("status").classList.toggle("error", isError);
}

async function loadModels() {
  state.models = await api("GET", "/models");
  const select = $("model");
  select.replaceChildren(...state.models.map((m) => new Option(m.name, m.name)));
  const preferred = state.models.find((m) => m.name === "tutorial") ?? state.models[0];
  if (preferred) select.value = preferred.name;
  onModelChanged();
}

function currentModel() {
  return state.models.find((m) => m.name === $("model").value);
}

function onModelChanged() {
  const model = currentModel();
  if (!model) return;
  $("layer").replaceChildren(...Array.from({ length: model.layers }, (_, i) => new Option(String(i), String(i))));
  $("model-shape").textContent = `${model.name} (${model.family}): ${model.layers} layer${model.layers > 1 ? "s" : ""}, ` +
    `${model.heads} heads of ${model.headDim}, d_q ${model.queryDim}, d_src ${model.sourceDim}, scale ${model.scale.toPrecision(4)}`;
  if (!state.input || !fits(state.input, model)) {
    $("input").value = JSON.stringify(placeholderInput(model), null, 1);
  }
}

function fits(input, model) {
  return input.source.vectors.every((v) => v.length === model.sourceDim) && input.target.vectors.every((v) => v.length === model.queryDim);
}

/** Three source and three target tokens of the model's sizes, to edit. */
function placeholderInput(model) {
  const vector = (d, phase) => Array.from({ length: d }, (_, c) => Math.round(Math.sin(phase + 0.37 * c) * 100) / 100);
  return {
    source: { tokens: ["s0", "s1", "s2"], vectors: [0, 1, 2].map((i) => vector(model.sourceDim, i)) },
    target: { tokens: ["t0", "t1", "t2"], vectors: [0, 1, 2].map((i) => vector(model.queryDim, 0.5 + i)) },
  };
}

async function loadExample() {
  try {
    if (!state.models.some((m) => m.name === "tutorial")) throw new Error("The service does not serve the tutorial model.");
    const example = await api("GET", "/models/tutorial/example");
    $("model").value = "tutorial";
    onModelChanged();
    state.input = example;
    $("input").value = formatInput(example);
    setStatus("Tutorial example loaded: English source, Hindi target. Press “Encode and decode”.");
  } catch (e) {
    setStatus(e.message, true);
  }
}

function formatInput(input) {
  const side = (s) => `{\n  "tokens": ${JSON.stringify(s.tokens)},\n  "vectors": [\n` +
    s.vectors.map((v) => `   ${JSON.stringify(v)}`).join(",\n") + "\n  ]\n }";
  return `{\n "source": ${side(input.source)},\n "target": ${side(input.target)}\n}`;
}

function readInput() {
  let input;
  try {
    input = JSON.parse($("input").value);
  } catch (e) {
    throw new Error(`The source and target are not valid JSON: ${e.message}`);
  }
  for (const side of ["source", "target"]) {
    const s = input?.[side];
    if (!s || !Array.isArray(s.tokens) || !Array.isArray(s.vectors) || s.tokens.length !== s.vectors.length || s.tokens.length === 0)
      throw new Error(`"${side}" needs "tokens" and "vectors" of the same, non-zero length.`);
  }
  return input;
}

async function run() {
  if (state.running) return;
  state.running = true;
  $("run").disabled = true;
  try {
    const input = readInput();
    const model = currentModel();
    const layer = Number($("layer").value);
    if (state.session) api("DELETE", `/sessions/${state.session.sessionId}`).catch(() => {});
    state.session = null;
    state.input = input;
    state.layer = layer;
    state.heads = Array.from({ length: model.heads }, () => []);
    state.alignment = null;
    render();

    setStatus("Encoding the source…");
    state.session = await api("POST", "/encode", { model: model.name, source: input.source.vectors, recordAttention: true });
    showSession();
    document.body.dataset.sessionId = state.session.sessionId;

    for (let step = 0; step < input.target.vectors.length; step++) {
      setStatus(`Decode step ${step + 1} of ${input.target.vectors.length}: “${input.target.tokens[step]}”`);
      const result = await api("POST", `/sessions/${state.session.sessionId}/decode-step`,
        { layer, queries: [input.target.vectors[step]], returnAttention: true });
      result.attention.forEach((head, h) => state.heads[h].push(head[0])); // [heads][1][m]
      await refreshAlignment();
    }
    state.session = await api("GET", `/sessions/${state.session.sessionId}`);
    showSession();
    setStatus(`Done: ${input.target.tokens.length} steps on layer ${layer}. Hover a cell for its weight.`);
    document.body.dataset.ready = "true";
  } catch (e) {
    setStatus(e.message, true);
  } finally {
    state.running = false;
    $("run").disabled = false;
  }
}

async function refreshAlignment() {
  if (!state.session) return;
  const median = Number($("median").value) || 1;
  const query = `layer=${state.layer}&normalize=${$("normalize").checked}&medianFilter=${median}`;
  state.alignment = await api("GET", `/sessions/${state.session.sessionId}/alignment?${query}`);
  render();
}

function showSession() {
  const s = state.session;
  $("session").hidden = false;
  $("session-id").textContent = s.sessionId;
  $("session-bytes").textContent = `${s.kvBytes.toLocaleString("en")} B`;
  $("session-bytes").title = "K/V cache and the attention record's reserved capacity";
  $("session-expires").textContent = new Date(s.expiresAt).toLocaleString();
  $("session-steps").textContent = String(state.heads[0]?.length ?? 0);
}

function render() {
  const maps = $("maps");
  maps.replaceChildren();
  if (!state.input) return;
  const src = state.input.source.tokens, tgt = state.input.target.tokens;
  state.heads.forEach((rows, h) => maps.append(heatmap(`head-${h}`, `Head ${h}`, "", rows, src, tgt, 0, 1, null)));
  if (state.alignment) {
    const a = state.alignment;
    const shaped = $("normalize").checked || Number($("median").value) > 1;
    const values = a.matrix.flat();
    const [lo, hi] = shaped ? [Math.min(...values), Math.max(...values)] : [0, 1];
    const note = `${a.heads.length} heads, layer ${a.layer}` + ($("normalize").checked ? ", normalised" : "") +
      (Number($("median").value) > 1 ? `, median ${$("median").value}` : "");
    const path = $("show-path").checked ? a.path : null;
    maps.append(heatmap("average", "Averaged over heads", note, a.matrix, src, tgt, lo, hi === lo ? lo + 1 : hi, path));
  }
  if (state.session) $("session-steps").textContent = String(state.heads[0]?.length ?? 0);
}

function heatmap(name, title, note, rows, sourceTokens, targetTokens, lo, hi, path) {
  const m = sourceTokens.length;
  const size = Math.max(6, Math.min(64, Math.floor(560 / m)));
  const box = document.createElement("div");
  box.className = "map";
  box.dataset.map = name;
  const heading = document.createElement("h2");
  heading.textContent = title;
  if (note) heading.append(Object.assign(document.createElement("small"), { textContent: note }));
  box.append(heading);

  const grid = document.createElement("div");
  grid.className = "grid";
  grid.style.gridTemplateColumns = `auto repeat(${m}, ${size}px)`;
  grid.append(document.createElement("span"));
  sourceTokens.forEach((token, j) => grid.append(label("col-label", token, { col: j })));
  const onPath = new Set((path ?? []).map(([i, j]) => `${i},${j}`));
  rows.forEach((row, i) => {
    grid.append(label("row-label", targetTokens[i] ?? `#${i}`, { row: i }));
    row.forEach((value, j) => {
      const cell = document.createElement("div");
      cell.className = "cell" + (onPath.has(`${i},${j}`) ? " on-path" : "");
      const t = (value - lo) / (hi - lo);
      cell.style.background = color(t);
      cell.style.height = `${Math.max(size * 0.72, 22)}px`;
      cell.style.color = t > 0.55 ? "#fff" : "#1d2433";
      cell.dataset.row = i;
      cell.dataset.col = j;
      cell.dataset.value = String(value);
      cell.dataset.source = sourceTokens[j];
      cell.dataset.target = targetTokens[i] ?? `#${i}`;
      if (size >= 44) cell.textContent = value.toFixed(2);
      grid.append(cell);
    });
  });
  box.append(grid);

  const legend = document.createElement("div");
  legend.className = "legend";
  const ramp = Object.assign(document.createElement("span"), { className: "ramp" });
  ramp.style.background = `linear-gradient(to right, ${RAMP.map((c) => `rgb(${c})`).join(", ")})`;
  legend.append(lo.toFixed(2), ramp, hi.toFixed(2));
  if (path) legend.append(Object.assign(document.createElement("span"), { className: "path-key" }), "DTW path");
  box.append(legend);
  return box;
}

function label(className, text, data) {
  const el = document.createElement("div");
  el.className = className;
  el.textContent = text;
  el.title = text;
  Object.assign(el.dataset, data);
  return el;
}

function showTooltip(event) {
  const cell = event.target.closest(".cell");
  const tip = $("tooltip");
  if (!cell) { tip.hidden = true; return; }
  tip.textContent = `${cell.dataset.target} → ${cell.dataset.source}: ${Number(cell.dataset.value).toFixed(4)}`;
  tip.hidden = false;
  tip.style.left = `${event.clientX + 14}px`;
  tip.style.top = `${event.clientY + 14}px`;
}

$("model").addEventListener("change", onModelChanged);
$("load-example").addEventListener("click", loadExample);
$("run").addEventListener("click", run);
for (const id of ["normalize", "median", "show-path"])
  $(id).addEventListener("change", () => refreshAlignment().catch((e) => setStatus(e.message, true)));
$("maps").addEventListener("mousemove", showTooltip);
$("maps").addEventListener("mouseleave", () => { $("tooltip").hidden = true; });
$("api-key").addEventListener("change", () => loadModels().then(() => setStatus("")).catch((e) => setStatus(e.message, true)));
loadModels().catch((e) => setStatus(e.message, true));
