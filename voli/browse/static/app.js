// voli browse: the vowel chart, token and utterance tables, playback and exclusions.
// Plain JavaScript and SVG; everything comes from the local server (no library, no CDN).
"use strict";

const SVG_NS = "http://www.w3.org/2000/svg";
const PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2",
                 "#17becf", "#bcbd22", "#7f7f7f", "#393b79", "#637939", "#843c39", "#7b4173"];
const MARGIN = {left: 56, right: 16, top: 20, bottom: 44};
const PAGE_ROWS = 200;   // table rows shown before "show more"
// the session's secret, written into the page by the server: every request that changes something
// sends it back in X-Voli-Token (a page of another site cannot read it, so cannot forge the request)
const TOKEN = (document.querySelector('meta[name="voli-token"]') || {}).content || "";

const state = {
  data: null,
  speakers: {},          // speaker_id -> survey row
  excluded: new Set(),   // token_ids
  selected: null,        // the token or utterance shown in the detail panel
  selectedKind: null,    // "token" | "utterance"
  tab: "tokens",
  sort: {key: "mahalanobis", dir: "desc"},
  rows: PAGE_ROWS,
};

const $ = (id) => document.getElementById(id);
const fmt = (x, digits = 0) => (x === null || x === undefined || Number.isNaN(x)) ? "" : Number(x).toFixed(digits);

function el(tag, attrs = {}, text) {
  const node = tag.startsWith("svg:") ? document.createElementNS(SVG_NS, tag.slice(4)) : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
}

function audioUrl(recording, start, end, speaker) {
  const q = new URLSearchParams({recording, start: String(start), end: String(end)});
  if (speaker) q.set("speaker", speaker);
  return "/audio?" + q.toString();
}

function play(recording, start, end, speaker) {
  const player = $("player");
  player.src = audioUrl(recording, start, end, speaker);
  const p = player.play();
  if (p && p.catch) p.catch(() => {});  // a page without a user gesture may not autoplay
}

// -- grouping and filters -------------------------------------------------------------------------

function groupValue(token) {
  const col = $("group-by").value;
  if (col === "speaker_id") return token.speaker_id;
  const row = state.speakers[token.speaker_id] || {};
  const v = col in row ? row[col] : token[col];
  return (v === null || v === undefined || v === "") ? "(missing)" : String(v);
}

function filtered() {
  const lang = $("language").value, group = $("group").value, phone = $("phone").value;
  const fillers = $("fillers").checked, showExcluded = $("show-excluded").checked;
  const checkedOnly = $("checked-only").checked;
  const search = $("search").value.trim().toLowerCase();
  return state.data.tokens.filter((t) =>
    (!lang || t.language === lang) &&
    (fillers || !t.is_filler) &&
    (showExcluded || !state.excluded.has(t.token_id)) &&
    (!checkedOnly || t.checked) &&
    (!phone || t.phone === phone) &&
    (!group || groupValue(t) === group) &&
    (!search || String(t.word).toLowerCase().includes(search)) &&
    t.f1 !== null && t.f2 !== null);
}

function fillSelect(select, values, allLabel) {
  const keep = select.value;
  select.replaceChildren();
  if (allLabel) select.append(el("option", {value: ""}, allLabel));
  for (const v of values) select.append(el("option", {value: v}, v));
  if ([...select.options].some((o) => o.value === keep)) select.value = keep;
}

function refreshChoices() {
  const lang = $("language").value;
  const inLang = state.data.tokens.filter((t) => !lang || t.language === lang);
  const groups = [...new Set(inLang.map(groupValue))].sort();
  fillSelect($("group"), groups, "all");
  const counts = {};
  for (const t of inLang) counts[t.phone] = (counts[t.phone] || 0) + 1;
  fillSelect($("phone"), Object.keys(counts).sort((a, b) => counts[b] - counts[a]), "all");
}

// -- the vowel chart ------------------------------------------------------------------------------

function niceStep(span, target) {
  const raw = span / target, p = Math.pow(10, Math.floor(Math.log10(raw)));
  for (const m of [1, 2, 5, 10]) if (raw <= m * p) return m * p;
  return 10 * p;
}

function drawChart() {
  const svg = $("chart");
  const W = +svg.getAttribute("width"), H = +svg.getAttribute("height");
  const w = W - MARGIN.left - MARGIN.right, h = H - MARGIN.top - MARGIN.bottom;
  svg.replaceChildren();
  const tokens = filtered();
  const lang = $("language").value;
  const all = state.data.tokens.filter((t) => (!lang || t.language === lang) && t.f1 !== null && t.f2 !== null);
  const base = all.length ? all : tokens;
  if (!base.length) {
    svg.append(el("svg:text", {x: W / 2, y: H / 2, "text-anchor": "middle"}, "no tokens"));
    return;
  }
  // axes fixed per language, so filtering does not rescale the chart
  const f1s = base.map((t) => t.f1).sort((a, b) => a - b), f2s = base.map((t) => t.f2).sort((a, b) => a - b);
  const q = (a, p) => a[Math.min(a.length - 1, Math.max(0, Math.round(p * (a.length - 1))))];
  const f1min = Math.floor(Math.min(q(f1s, 0.005), 250) / 100) * 100, f1max = Math.ceil(q(f1s, 0.995) / 100) * 100 + 50;
  const f2min = Math.floor(q(f2s, 0.005) / 100) * 100 - 50, f2max = Math.ceil(q(f2s, 0.995) / 100) * 100 + 50;
  const x = (f2) => MARGIN.left + (f2max - f2) / (f2max - f2min) * w;   // F2 reversed: front vowels left
  const y = (f1) => MARGIN.top + (f1 - f1min) / (f1max - f1min) * h;    // F1 reversed: close vowels on top
  const clampX = (v) => Math.max(MARGIN.left, Math.min(MARGIN.left + w, v));
  const clampY = (v) => Math.max(MARGIN.top, Math.min(MARGIN.top + h, v));

  const axes = el("svg:g", {class: "axis"});
  const s2 = niceStep(f2max - f2min, 8), s1 = niceStep(f1max - f1min, 8);
  for (let v = Math.ceil(f2min / s2) * s2; v <= f2max; v += s2) {
    axes.append(el("svg:line", {class: "grid", x1: x(v), x2: x(v), y1: MARGIN.top, y2: MARGIN.top + h}));
    axes.append(el("svg:text", {x: x(v), y: MARGIN.top + h + 16, "text-anchor": "middle"}, String(v)));
  }
  for (let v = Math.ceil(f1min / s1) * s1; v <= f1max; v += s1) {
    axes.append(el("svg:line", {class: "grid", x1: MARGIN.left, x2: MARGIN.left + w, y1: y(v), y2: y(v)}));
    axes.append(el("svg:text", {x: MARGIN.left - 6, y: y(v) + 4, "text-anchor": "end"}, String(v)));
  }
  axes.append(el("svg:rect", {x: MARGIN.left, y: MARGIN.top, width: w, height: h, fill: "none", stroke: "#999"}));
  axes.append(el("svg:text", {x: MARGIN.left + w / 2, y: H - 8, "text-anchor": "middle"}, "F2 (Hz, midpoint)"));
  axes.append(el("svg:text", {x: 14, y: MARGIN.top + h / 2, "text-anchor": "middle",
                              transform: `rotate(-90 14 ${MARGIN.top + h / 2})`}, "F1 (Hz, midpoint)"));
  svg.append(axes);

  const groups = [...new Set(base.map(groupValue))].sort();
  const colour = Object.fromEntries(groups.map((g, i) => [g, PALETTE[i % PALETTE.length]]));
  const points = el("svg:g", {id: "points"});
  for (const t of tokens) {
    const excluded = state.excluded.has(t.token_id);
    const selected = state.selectedKind === "token" && state.selected.token_id === t.token_id;
    const c = el("svg:circle", {
      class: "token" + (excluded ? " excluded" : "") + (selected ? " selected" : ""),
      cx: clampX(x(t.f2)).toFixed(1), cy: clampY(y(t.f1)).toFixed(1), r: selected ? 6 : 4,
      fill: colour[groupValue(t)], "data-id": t.token_id,
    });
    points.append(c);
  }
  svg.append(points);

  // phone labels at the mean of the shown tokens of each phone
  const sums = {};
  for (const t of tokens) {
    const s = sums[t.phone] || (sums[t.phone] = {f1: 0, f2: 0, n: 0});
    s.f1 += t.f1; s.f2 += t.f2; s.n += 1;
  }
  const labels = el("svg:g");
  for (const [phone, s] of Object.entries(sums)) {
    labels.append(el("svg:text", {class: "phone-label", x: clampX(x(s.f2 / s.n)), y: clampY(y(s.f1 / s.n)),
                                  "text-anchor": "middle", "dominant-baseline": "middle"}, phone));
  }
  svg.append(labels);

  const legend = $("legend");
  legend.replaceChildren();
  const shown = {};
  for (const t of tokens) shown[groupValue(t)] = (shown[groupValue(t)] || 0) + 1;
  for (const g of groups) {
    if (!shown[g]) continue;
    const item = el("span");
    item.append(el("span", {class: "swatch", style: `background:${colour[g]}`}), `${g} (${shown[g]})`);
    legend.append(item);
  }
  $("status").textContent = `${tokens.length} tokens shown; ${state.excluded.size} excluded`;
}

function tokenById(id) { return state.data.tokens[id]; }   // token_id is the row of vowels.parquet

function showTooltip(event, t) {
  const tip = $("tooltip");
  tip.replaceChildren();
  const lines = [
    `${t.word}  /${t.phone}/`,
    `speaker ${t.speaker_id} (${t.role})`,
    `context: ${t.previous_phone ?? "#"} _ ${t.next_phone ?? "#"}`,
    `duration ${fmt(t.duration_s * 1000)} ms`,
    `F1 ${fmt(t.f1)} Hz, F2 ${fmt(t.f2)} Hz`,
  ];
  if (state.excluded.has(t.token_id)) lines.push("excluded");
  lines.forEach((line, i) => { if (i) tip.append(el("br")); tip.append(line); });
  tip.style.left = (event.clientX + 14) + "px";
  tip.style.top = (event.clientY + 10) + "px";
  tip.hidden = false;
}

// -- the detail panel -----------------------------------------------------------------------------

function spectrogramUrl(recording, start, end, speaker, marks, ceiling, title) {
  const q = new URLSearchParams({recording, start: String(start), end: String(end), title});
  if (speaker) q.set("speaker", speaker);
  if (marks) { q.set("mark_start", String(marks[0])); q.set("mark_end", String(marks[1])); }
  if (ceiling) q.set("ceiling", String(ceiling));
  return "/spectrogram.png?" + q.toString();
}

function showTextGrid(recording) {
  const tg = state.data.recordings[recording] || {};
  $("textgrid-path").textContent = tg.textgrid || "(no TextGrid: run `voli align`)";
  $("praat-command").textContent = tg.praat || "";
  $("copy-praat").hidden = !tg.praat;
}

function kvTable(rows) {
  const table = $("detail-table");
  table.replaceChildren();
  for (const [k, v] of rows) {
    const tr = el("tr");
    tr.append(el("td", {}, k), el("td", {}, v));
    table.append(tr);
  }
}

function selectToken(t, {autoplay = true} = {}) {
  state.selected = t;
  state.selectedKind = "token";
  $("detail-empty").hidden = true;
  $("detail-body").hidden = false;
  $("exclude-box").hidden = false;
  $("play-word").hidden = false;
  $("play-token").hidden = false;
  $("detail-title").textContent = `${t.word} /${t.phone}/ — ${t.speaker_id}`;
  const survey = state.speakers[t.speaker_id] || {};
  const surveyText = state.data.group_columns.filter((c) => c !== "speaker_id" && c !== "role" && survey[c] !== null && survey[c] !== undefined)
    .map((c) => `${c} ${survey[c]}`).join(", ");
  kvTable([
    ["recording", `${t.recording_id}  ${fmt(t.start, 3)}–${fmt(t.end, 3)} s`],
    ["utterance", t.utterance_id],
    ["speaker", `${t.speaker_id} (${t.role})${surveyText ? "; " + surveyText : ""}`],
    ["context", `${t.previous_phone ?? "#"} _ ${t.next_phone ?? "#"}`],
    ["duration", `${fmt(t.duration_s * 1000)} ms`],
    ["F1, F2 (midpoint)", `${fmt(t.f1)} Hz, ${fmt(t.f2)} Hz; F0 ${fmt(t.f0_hz)} Hz`],
    ["Mahalanobis", fmt(t.mahalanobis, 2)],
    ["aligner log-likelihood", fmt(t.log_likelihood, 1)],
    ["word probability", fmt(t.word_probability, 3)],
    ["checked by hand", t.checked ? "yes (corrections/)" : "no"],
  ]);
  updateExcludeButton();
  const pad = 0.08;
  $("spectrogram").src = spectrogramUrl(t.recording_id, Math.max(0, Math.min(t.word_start, t.start) - pad),
    Math.max(t.word_end, t.end) + pad, t.speaker_id, [t.start, t.end], t.ceiling_hz, `${t.word} /${t.phone}/`);
  showTextGrid(t.recording_id);
  if (autoplay) play(t.recording_id, t.start, t.end, t.speaker_id);
  drawChart();
  drawTable();
}

function selectUtterance(u) {
  state.selected = u;
  state.selectedKind = "utterance";
  $("detail-empty").hidden = true;
  $("detail-body").hidden = false;
  $("exclude-box").hidden = true;
  $("play-word").hidden = true;
  $("play-token").hidden = true;
  $("detail-title").textContent = `${u.utterance_id} — ${u.speaker_id}`;
  kvTable([
    ["recording", `${u.recording_id}  ${fmt(u.start, 3)}–${fmt(u.end, 3)} s`],
    ["text", u.text || ""],
    ["aligner", `${u.status ?? ""}, log-likelihood ${fmt(u.log_likelihood, 1)}`],
    ["speech rate", `${fmt(u.speech_rate, 2)} syll/s`],
    ["F0 median", `${fmt(u.f0_median_hz)} Hz`],
  ]);
  $("spectrogram").src = spectrogramUrl(u.recording_id, u.start, Math.min(u.end, u.start + 30), u.speaker_id, null, null, u.utterance_id);
  showTextGrid(u.recording_id);
  play(u.recording_id, u.start, u.end, u.speaker_id);
  drawTable();
}

function updateExcludeButton() {
  const t = state.selected;
  if (!t || state.selectedKind !== "token") return;
  $("exclude").textContent = state.excluded.has(t.token_id) ? "Include again" : "Exclude";
}

// every state-changing request goes through here, so that it carries the session's token
function postJson(url, body) {
  return fetch(url, {
    method: "POST", headers: {"Content-Type": "application/json", "X-Voli-Token": TOKEN},
    body: JSON.stringify(body),
  });
}

async function toggleExclusion() {
  const t = state.selected;
  if (!t || state.selectedKind !== "token") return;
  const include = state.excluded.has(t.token_id);
  const resp = await postJson(include ? "/api/include" : "/api/exclude",
                              {token_id: t.token_id, reason: $("reason").value});
  if (!resp.ok) { alert(await resp.text()); return; }
  state.excluded = new Set((await resp.json()).excluded);
  $("status").dataset.saved = String(Date.now());
  updateExcludeButton();
  drawChart();
  drawTable();
}

// -- tables ---------------------------------------------------------------------------------------

const TOKEN_COLUMNS = [
  ["word", "word"], ["phone", "phone"], ["previous_phone", "prev"], ["next_phone", "next"],
  ["speaker_id", "speaker"], ["group", "group"], ["duration_s", "ms", (v) => fmt(v * 1000)],
  ["f1", "F1", (v) => fmt(v)], ["f2", "F2", (v) => fmt(v)], ["mahalanobis", "Mahalanobis", (v) => fmt(v, 2)],
  ["log_likelihood", "log-lik", (v) => fmt(v, 1)], ["word_probability", "word p", (v) => fmt(v, 3)],
  ["checked", "checked", (v) => (v ? "✓" : "")],
];
const UTTERANCE_COLUMNS = [
  ["utterance_id", "utterance"], ["speaker_id", "speaker"], ["start", "start", (v) => fmt(v, 2)],
  ["duration_s", "s", (v) => fmt(v, 2)], ["status", "aligner"], ["log_likelihood", "log-lik", (v) => fmt(v, 1)],
  ["speech_rate", "syll/s", (v) => fmt(v, 2)], ["text", "text"],
];

function compare(key, dir) {
  const sign = dir === "asc" ? 1 : -1;
  return (a, b) => {
    const va = key === "group" ? groupValue(a) : a[key], vb = key === "group" ? groupValue(b) : b[key];
    const na = va === null || va === undefined, nb = vb === null || vb === undefined;
    if (na || nb) return na - nb;                   // missing values last, whatever the direction
    if (typeof va === "number" && typeof vb === "number") return sign * (va - vb);
    return sign * String(va).localeCompare(String(vb));
  };
}

function header(table, columns) {
  const tr = el("tr");
  for (const [key, label] of columns) {
    const arrow = state.sort.key === key ? (state.sort.dir === "asc" ? " ▲" : " ▼") : "";
    const th = el("th", {"data-key": key}, label + arrow);
    th.addEventListener("click", () => {
      state.sort = {key, dir: state.sort.key === key && state.sort.dir === "desc" ? "asc" : "desc"};
      state.rows = PAGE_ROWS;
      drawTable();
    });
    tr.append(th);
  }
  table.tHead.replaceChildren(tr);
}

function drawTable() {
  const tokensTab = state.tab === "tokens";
  const table = tokensTab ? $("token-table") : $("utterance-table");
  $("token-table").hidden = !tokensTab;
  $("utterance-table").hidden = tokensTab;
  const columns = tokensTab ? TOKEN_COLUMNS : UTTERANCE_COLUMNS;
  let rows;
  if (tokensTab) {
    rows = filtered();
  } else {
    const lang = $("language").value;
    const speakers = new Set(state.data.tokens.filter((t) => !lang || t.language === lang).map((t) => t.speaker_id));
    rows = state.data.utterances.filter((u) => !lang || speakers.has(u.speaker_id));
  }
  if (!columns.some(([key]) => key === state.sort.key)) state.sort = {key: "log_likelihood", dir: "asc"};
  rows = rows.slice().sort(compare(state.sort.key, state.sort.dir));
  header(table, columns);
  const body = table.tBodies[0];
  body.replaceChildren();
  for (const r of rows.slice(0, state.rows)) {
    const tr = el("tr");
    if (tokensTab) {
      tr.dataset.id = r.token_id;
      if (state.excluded.has(r.token_id)) tr.classList.add("excluded");
      if (state.selectedKind === "token" && state.selected.token_id === r.token_id) tr.classList.add("selected");
    } else {
      tr.dataset.utterance = r.utterance_id;
      if (state.selectedKind === "utterance" && state.selected.utterance_id === r.utterance_id) tr.classList.add("selected");
    }
    for (const [key, , show] of columns) {
      const v = key === "group" ? groupValue(r) : r[key];
      const td = el("td", typeof v === "number" ? {class: "num"} : {}, show ? show(v) : (v ?? ""));
      tr.append(td);
    }
    body.append(tr);
  }
  $("more").hidden = rows.length <= state.rows;
  $("table-count").textContent = `${Math.min(rows.length, state.rows)} of ${rows.length} ${tokensTab ? "tokens" : "utterances"}`;
}

// -- wiring ---------------------------------------------------------------------------------------

function redraw() { state.rows = PAGE_ROWS; drawChart(); drawTable(); }

function wire() {
  $("language").addEventListener("change", () => { refreshChoices(); redraw(); });
  $("group-by").addEventListener("change", () => { refreshChoices(); redraw(); });
  for (const id of ["group", "phone", "fillers", "show-excluded", "checked-only"]) $(id).addEventListener("change", redraw);
  $("search").addEventListener("input", redraw);
  const chart = $("chart");
  chart.addEventListener("mouseover", (e) => {
    if (e.target.classList.contains("token")) showTooltip(e, tokenById(+e.target.dataset.id));
  });
  chart.addEventListener("mousemove", (e) => {
    if (e.target.classList.contains("token")) showTooltip(e, tokenById(+e.target.dataset.id));
  });
  chart.addEventListener("mouseout", () => { $("tooltip").hidden = true; });
  chart.addEventListener("click", (e) => {
    if (e.target.classList.contains("token")) selectToken(tokenById(+e.target.dataset.id));
  });
  $("token-table").tBodies[0].addEventListener("click", (e) => {
    const tr = e.target.closest("tr");
    if (tr) selectToken(tokenById(+tr.dataset.id));
  });
  $("utterance-table").tBodies[0].addEventListener("click", (e) => {
    const tr = e.target.closest("tr");
    if (tr) selectUtterance(state.data.utterances.find((u) => u.utterance_id === tr.dataset.utterance));
  });
  $("play-token").addEventListener("click", () => {
    const t = state.selected;
    if (state.selectedKind === "token") play(t.recording_id, t.start, t.end, t.speaker_id);
  });
  $("play-word").addEventListener("click", () => {
    const t = state.selected;
    if (state.selectedKind === "token") play(t.recording_id, t.word_start, t.word_end, t.speaker_id);
  });
  $("play-utterance").addEventListener("click", () => {
    const t = state.selected;
    if (state.selectedKind === "token") play(t.recording_id, t.utt_start, t.utt_end, t.speaker_id);
    else if (t) play(t.recording_id, t.start, t.end, t.speaker_id);
  });
  $("exclude").addEventListener("click", toggleExclusion);
  $("copy-praat").addEventListener("click", () => {
    if (navigator.clipboard) navigator.clipboard.writeText($("praat-command").textContent).catch(() => {});
  });
  $("sort-key").addEventListener("change", () => {
    const [key, dir] = $("sort-key").value.split(":");
    state.sort = {key, dir};
    redraw();
  });
  for (const tab of ["tokens", "utterances"]) {
    $("tab-" + tab).addEventListener("click", () => {
      state.tab = tab;
      $("tab-tokens").classList.toggle("active", tab === "tokens");
      $("tab-utterances").classList.toggle("active", tab === "utterances");
      $("sort-key").disabled = tab !== "tokens";
      state.sort = tab === "tokens" ? {key: "mahalanobis", dir: "desc"} : {key: "log_likelihood", dir: "asc"};
      redraw();
    });
  }
  $("more").addEventListener("click", () => { state.rows += PAGE_ROWS; drawTable(); });
}

async function main() {
  const resp = await fetch("/api/data");
  if (!resp.ok) { document.body.prepend(el("pre", {}, await resp.text())); return; }
  state.data = await resp.json();
  state.excluded = new Set(state.data.excluded);
  state.speakers = Object.fromEntries(state.data.speakers.map((s) => [s.speaker_id, s]));
  $("workdir").textContent = state.data.workdir;
  const langs = [...new Set(state.data.tokens.map((t) => t.language))].sort();
  fillSelect($("language"), langs);
  fillSelect($("group-by"), state.data.group_columns);
  wire();
  refreshChoices();
  redraw();
  document.body.dataset.ready = "true";
}

main();
