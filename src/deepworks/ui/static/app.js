// The deepworks dashboard: one page, hash routes, the JSON API, uPlot for the charts.
"use strict";

const view = document.getElementById("view");
const state = { sort: "created", desc: true, filter: "", task: "", dataset: "", status: "",
                picked: new Set(), timer: null };

const esc = (s) => String(s ?? "").replace(/[&<>"']/g,
  (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
const num = (v) => (typeof v !== "number" ? esc(v) : Number.isInteger(v) ? String(v)
  : Math.abs(v) < 1e5 ? v.toFixed(4) : v.toExponential(3));
const setting = (v) => (isFinite(Number(v)) && !Number.isInteger(Number(v)) ? Number(v).toPrecision(3) : v);

async function api(path, options) {
  const response = await fetch(path, options);
  const body = await response.json();
  if (!response.ok) throw new Error(body.detail || response.statusText);
  return body;
}

function poll(fn, ms) {
  clearInterval(state.timer);
  state.timer = setInterval(fn, ms);
}

// ------------------------------------------------------------------------------ charts
function lineChart(target, title, xs, series, xLabel) {
  const palette = ["#4a7bd0", "#d0654a", "#3f9b5a", "#9b59b6", "#c4a000", "#555"];
  const opts = {
    title, width: Math.min(620, target.clientWidth || 620), height: 260,
    scales: { x: { time: false } },
    axes: [{ label: xLabel }, {}],
    series: [{ label: xLabel }, ...series.map((s, i) => ({
      label: s.label, stroke: palette[i % palette.length], width: 2,
      points: { show: xs.length < 40 },
    }))],
  };
  const box = document.createElement("div");
  target.appendChild(box);
  return new uPlot(opts, [xs, ...series.map((s) => s.values)], box);
}

function curves(target, history, keys, label) {
  target.innerHTML = "";
  const x = history.map((r) => r.env_steps ?? r.epoch);
  const xLabel = history.length && history[0].env_steps !== undefined ? "environment steps" : "epoch";
  const losses = keys.filter((k) => k.endsWith("loss"));
  const others = keys.filter((k) => !k.endsWith("loss"));
  for (const group of [losses, others]) {
    if (!group.length) continue;
    lineChart(target, group.length === 1 ? group[0] : label(group), x,
      group.map((k) => ({ label: k, values: history.map((r) => r[k] ?? null) })), xLabel);
  }
}

function plottable(history) {
  const skip = new Set(["epoch", "step", "seconds", "lr", "env_steps"]);
  const keys = new Set();
  for (const r of history) for (const [k, v] of Object.entries(r)) if (typeof v === "number" && !skip.has(k)) keys.add(k);
  return [...keys];
}

// -------------------------------------------------------------------------------- runs
async function runsView() {
  view.innerHTML = `<h1>Runs</h1>
    <div class="controls">
      <input id="filter" placeholder="filter: id, name, model, data…" value="${esc(state.filter)}">
      <select id="task"></select><select id="dataset"></select><select id="status"></select>
      <button id="compare" disabled>compare</button>
    </div><div id="table"></div>`;
  const rows = await api("/api/runs");
  fillSelect("task", rows, "task"); fillSelect("dataset", rows, "dataset"); fillSelect("status", rows, "status");
  for (const id of ["filter", "task", "dataset", "status"]) {
    document.getElementById(id).addEventListener("input", (e) => { state[id] = e.target.value; drawRuns(rows); });
  }
  document.getElementById("compare").addEventListener("click", () => {
    location.hash = `#/compare/${[...state.picked].join(",")}`;
  });
  drawRuns(rows);
  poll(async () => {
    if (!location.hash.startsWith("#/") || location.hash.length > 2) return;
    const fresh = await api("/api/runs");
    rows.splice(0, rows.length, ...fresh);
    drawRuns(rows);
  }, 2000);
}

function fillSelect(id, rows, key) {
  const values = [...new Set(rows.map((r) => r[key]).filter(Boolean))].sort();
  const el = document.getElementById(id);
  el.innerHTML = `<option value="">any ${key}</option>` +
    values.map((v) => `<option ${v === state[key] ? "selected" : ""}>${esc(v)}</option>`).join("");
}

function drawRuns(rows) {
  const text = state.filter.toLowerCase();
  const shown = rows.filter((r) =>
    (!text || [r.id, r.name, r.model, r.dataset, r.task, r.study].some((v) => String(v ?? "").toLowerCase().includes(text))) &&
    (!state.task || r.task === state.task) && (!state.dataset || r.dataset === state.dataset) &&
    (!state.status || r.status === state.status));
  shown.sort((a, b) => {
    const x = a[state.sort], y = b[state.sort];
    const order = x === y ? 0 : x === null || x === undefined ? 1 : y === null || y === undefined ? -1 : x < y ? -1 : 1;
    return state.desc ? -order : order;
  });
  const columns = [["id", "run"], ["task", "task"], ["dataset", "data"], ["model", "model"],
    ["metric", "metric"], ["value", "value"], ["status", "status"], ["duration", "seconds"], ["study", "study"]];
  document.getElementById("table").innerHTML = `<table id="runs"><thead><tr><th></th>${columns.map(([k, l]) =>
    `<th class="sortable" data-key="${k}">${l}${state.sort === k ? (state.desc ? " ▾" : " ▴") : ""}</th>`).join("")}</tr></thead>
    <tbody>${shown.map((r) => `<tr data-id="${esc(r.id)}">
      <td><input type="checkbox" class="pick" value="${esc(r.id)}" ${state.picked.has(r.id) ? "checked" : ""}></td>
      <td><a href="#/run/${encodeURIComponent(r.id)}">${esc(r.id)}</a></td><td>${esc(r.task)}</td><td>${esc(r.dataset)}</td>
      <td>${esc(r.model)}</td><td>${esc(r.metric)}</td><td class="num">${num(r.value)}</td>
      <td class="status-${esc(r.status)}">${esc(r.status)}${r.status === "running" ? ` (epoch ${r.epochs})` : ""}</td>
      <td class="num">${r.duration ?? ""}</td><td>${esc(r.study)}</td></tr>`).join("")}</tbody></table>
    <p class="muted">${shown.length} of ${rows.length} runs</p>`;
  for (const th of document.querySelectorAll("th.sortable")) {
    th.addEventListener("click", () => {
      state.desc = state.sort === th.dataset.key ? !state.desc : false;
      state.sort = th.dataset.key; drawRuns(rows);
    });
  }
  for (const box of document.querySelectorAll("input.pick")) {
    box.addEventListener("change", () => {
      box.checked ? state.picked.add(box.value) : state.picked.delete(box.value);
      document.getElementById("compare").disabled = state.picked.size < 2;
    });
  }
  document.getElementById("compare").disabled = state.picked.size < 2;
}

// ---------------------------------------------------------------------------- one run
function table(rows, header) {
  return `<table><thead><tr>${header.map((h) => `<th>${esc(h)}</th>`).join("")}</tr></thead><tbody>${
    rows.map((r) => `<tr>${r.map((c) => `<td class="${typeof c === "number" ? "num" : ""}">${num(c)}</td>`).join("")}</tr>`).join("")}</tbody></table>`;
}

async function runView(id) {
  const page = await api(`/api/runs/${encodeURIComponent(id)}`);
  const info = page.info, files = (n) => `/api/runs/${encodeURIComponent(id)}/files/${encodeURIComponent(n)}`;
  const splits = Object.keys(page.metrics);
  const names = [...new Set(splits.flatMap((s) => Object.keys(page.metrics[s])))].sort();
  view.innerHTML = `<h1>${esc(info.name || id)}</h1>
    <p class="muted">${esc(id)} · ${esc(info.task)} · ${esc(info.dataset)} · ${esc(info.model)} ·
      <span class="status-${esc(info.status)}">${esc(info.status)}</span>
      ${page.report ? ` · <a href="${files("report.html")}" target="_blank" id="report">full report</a>` : ""}</p>
    <section><h2>Learning curves</h2><div id="curves"></div></section>
    <section><h2>Try it</h2><div id="try"></div></section>
    <section><h2>Metrics</h2>${table(names.map((n) => [n, ...splits.map((s) => page.metrics[s][n])]), ["metric", ...splits])}</section>
    ${page.leaderboard ? `<section><h2>Leaderboard</h2>${table(page.leaderboard.rows.map((r) =>
      [r.model, r[page.leaderboard.metric], r.train_seconds]), ["model", page.leaderboard.metric, "train s"])}
      <p>${esc(page.leaderboard.verdict)}</p></section>` : ""}
    ${page.audit ? `<section><h2>Data audit</h2><ul>${page.audit.findings.map((f) =>
      `<li><b>${esc(f.severity)}</b> ${esc(f.message)}</li>`).join("")}</ul></section>` : ""}
    ${page.deployment ? `<section><h2>Deployment card</h2>${table(page.deployment.rows.map((r) =>
      [r.format, r.size_bytes, r.p99_ms, r.metric, r.parity, r.verdict]), ["form", "bytes", "p99 ms", "metric", "parity", "verdict"])}</section>` : ""}
    <section class="figures"><h2>Figures</h2>${page.figures.map((f) => `<img src="${files(f)}" alt="${esc(f)}">`).join("")}
      ${page.explanations.map((f) => `<img src="${files("explanations/" + f)}" alt="${esc(f)}">`).join("")}</section>
    <section><h2>Config</h2><pre>${esc(page.config)}</pre></section>`;
  curves(document.getElementById("curves"), page.history, plottable(page.history), (g) => g.join(", "));
  tryForm(id);
  if (info.status === "running") {
    poll(async () => {
      if (location.hash !== `#/run/${encodeURIComponent(id)}`) return;
      const fresh = await api(`/api/runs/${encodeURIComponent(id)}`);
      curves(document.getElementById("curves"), fresh.history, plottable(fresh.history), (g) => g.join(", "));
      if (fresh.info.status !== "running") route();
    }, 2000);
  }
}

async function tryForm(id) {
  const box = document.getElementById("try");
  let form;
  try { form = await api(`/api/runs/${encodeURIComponent(id)}/form`); } catch (e) {
    box.innerHTML = `<p class="muted">${esc(e.message)}</p>`; return;
  }
  const inputs = {
    row: () => `<div class="form-grid">${form.fields.map((f) => `<label for="f-${esc(f.name)}">${esc(f.name)}</label>${
      f.kind === "choice" ? `<select id="f-${esc(f.name)}" name="${esc(f.name)}">${f.choices.map((c) => `<option>${esc(c)}</option>`).join("")}</select>`
        : `<input id="f-${esc(f.name)}" name="${esc(f.name)}" value="${esc(f.default)}" ${f.kind === "number" ? 'type="number" step="any"' : ""}>`}`).join("")}</div>`,
    text: () => `<textarea id="text" rows="4" cols="80" placeholder="paste a text"></textarea>`,
    numbers: () => `<input id="numbers" size="60" placeholder="${form.width} numbers, comma-separated">`,
    upload: () => `<input id="file" type="file">`,
  };
  box.innerHTML = `<form id="try-form">${inputs[form.kind]()}<p><button id="predict" type="submit">predict</button></p></form>
    <div id="answer"></div>`;
  document.getElementById("try-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const answer = document.getElementById("answer");
    answer.innerHTML = `<p class="muted">predicting…</p>`;
    let options;
    if (form.kind === "upload") {
      const data = new FormData();
      data.append("file", document.getElementById("file").files[0]);
      options = { method: "POST", body: data };
    } else {
      const input = form.kind === "row" ? Object.fromEntries(form.fields.map((f) => [f.name, document.getElementById(`f-${f.name}`).value]))
        : form.kind === "text" ? document.getElementById("text").value
        : document.getElementById("numbers").value.split(",").map(Number);
      options = { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ input }) };
    }
    try {
      const result = await api(`/api/runs/${encodeURIComponent(id)}/try`, options);
      const entries = Object.entries(result.prediction);
      const why = result.explanation || {};
      answer.innerHTML = `<table id="prediction">${entries.map(([k, v]) => `<tr><th>${esc(k)}</th><td data-key="${esc(k)}">${num(v)}</td></tr>`).join("")}</table>
        <p class="muted">${result.seconds} s</p>
        ${(why.pictures || []).map((p) => `<img class="why" src="${p}" alt="explanation" style="max-width:48%">`).join("")}
        ${why.html ? `<iframe class="why" srcdoc="${esc(why.html)}" style="width:100%;height:12rem;border:0"></iframe>` : ""}`;
    } catch (err) {
      answer.innerHTML = `<p class="error">${esc(err.message)}</p>`;
    }
  });
}

// ----------------------------------------------------------------------------- compare
async function compareView(ids) {
  const data = await api(`/api/compare?ids=${encodeURIComponent(ids)}`);
  const keys = [...new Set(data.runs.flatMap((r) => plottable(r.history)))].sort();
  const first = keys.find((k) => k.startsWith("valid_") && !k.endsWith("loss")) || keys[0];
  view.innerHTML = `<h1>Compare ${data.runs.length} runs</h1>
    <section><h2>Learning curves</h2><select id="metric">${keys.map((k) => `<option ${k === first ? "selected" : ""}>${esc(k)}</option>`).join("")}</select>
      <div id="overlay"></div></section>
    <section><h2>Test metrics</h2><table id="metrics"><thead><tr><th>metric</th>${data.runs.map((r) => `<th>${esc(r.id)}</th>`).join("")}</tr></thead>
      <tbody>${data.metrics.map((m) => `<tr><td>${esc(m.metric)}</td>${m.values.map((v) =>
        `<td class="num ${v !== null && v === m.best && data.runs.length > 1 ? "best" : ""}">${num(v)}</td>`).join("")}</tr>`).join("")}</tbody></table></section>
    <section><h2>Config differences</h2>${data.config_diff.map((d) => `<pre>${esc(d || "(the same config)")}</pre>`).join("")}</section>
    <section><h2>Leaderboards</h2>${data.runs.map((r) => r.leaderboard ? `<h3>${esc(r.id)}</h3>${table(r.leaderboard.rows.map((x) =>
      [x.model, x[r.leaderboard.metric]]), ["model", r.leaderboard.metric])}` : "").join("")}</section>`;
  const draw = (key) => {
    const box = document.getElementById("overlay");
    box.innerHTML = "";
    const longest = data.runs.reduce((a, r) => Math.max(a, r.history.length), 0);
    const xs = Array.from({ length: longest }, (_, i) => i + 1);
    lineChart(box, key, xs, data.runs.map((r) => ({ label: r.id, values: xs.map((i) => r.history[i - 1]?.[key] ?? null) })), "epoch");
  };
  document.getElementById("metric").addEventListener("change", (e) => draw(e.target.value));
  if (first) draw(first);
}

// ----------------------------------------------------------------------------- studies
async function studiesView() {
  const list = await api("/api/studies");
  view.innerHTML = `<h1>Studies</h1>${list.length ? "" : `<p class="muted">No study yet: <code>deepworks tune CONFIG</code>.</p>`}` +
    list.map((s, i) => `<section><h2>${esc(s.name)} <span class="muted">(${esc(s.direction)})</span></h2>
      <div id="study-${i}"></div>
      <h3>Which settings mattered</h3>${Object.entries(s.importance).map(([k, v]) =>
        `<div>${esc(k)} <span class="bar" style="width:${Math.round(v * 300)}px"></span> ${v.toFixed(2)}</div>`).join("") || `<p class="muted">after three finished trials</p>`}
      ${table(s.trials.map((t) => [t.number, t.state, t.value, Object.entries(t.settings).map(([k, v]) => `${k}=${setting(v)}`).join(", ")]), ["trial", "state", "value", "settings"])}
      </section>`).join("");
  list.forEach((s, i) => {
    const xs = s.trials.map((t) => t.number);
    lineChart(document.getElementById(`study-${i}`), "trials over time", xs, [
      { label: "trial value", values: s.trials.map((t) => t.value) },
      { label: "best so far", values: s.best_so_far }], "trial");
  });
}

// ------------------------------------------------------------------------------ routes
async function route() {
  clearInterval(state.timer);
  const hash = decodeURIComponent(location.hash || "#/");
  try {
    if (hash.startsWith("#/run/")) await runView(hash.slice(6));
    else if (hash.startsWith("#/compare/")) await compareView(hash.slice(10));
    else if (hash.startsWith("#/studies")) await studiesView();
    else await runsView();
  } catch (err) {
    view.innerHTML = `<p class="error">${esc(err.message)}</p>`;
  }
}

window.addEventListener("hashchange", route);
route();
