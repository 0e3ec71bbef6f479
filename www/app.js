/* app.js -- the status page: polls the JSON API of the carouseld that
 * served it (same origin, no other host) and draws the last five minutes. */
"use strict";

const HISTORY = 300; /* samples, one a second */
const PATHS = [
  ["socket", "#2e86de"], ["dpdk", "#e67e22"], ["xdp", "#8e44ad"], ["recursion", "#16a085"],
];
const series = { t: [], socket: [], dpdk: [], xdp: [], recursion: [], cache: [], fastpath: [],
  rrl: [], errors: [] };
let last = null;

function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = String(text);
  if (cls) e.className = cls;
  return e;
}

async function get(path) {
  const r = await fetch(path, { cache: "no-store", credentials: "same-origin" });
  if (!r.ok) throw new Error(path + ": HTTP " + r.status);
  return r.json();
}

/* The counters the graphs are made of, from one /api/v1/stats document. */
function totals(s) {
  const r = s.resolver || {}, d = s.dataplane || {};
  const errors = ["SERVFAIL", "FORMERR", "REFUSED", "NOTIMP"]
    .reduce((a, k) => a + (s.rcode[k] || 0), 0);
  return {
    t: s.time_ms / 1000,
    socket: s.socket.udp + s.socket.tcp,
    dpdk: d["dpdk.answered"] || 0,
    xdp: d["xdp.answered"] || 0,
    recursion: (r["cache.hits"] || 0) + (r["cache.misses"] || 0),
    hits: r["cache.hits"] || 0,
    misses: r["cache.misses"] || 0,
    rrl: s.rrl.slipped + s.rrl.dropped,
    errors: errors,
  };
}

function push(name, v) {
  series[name].push(v);
  if (series[name].length > HISTORY) series[name].shift();
}

function rate(a, b, k, dt) {
  return Math.max(0, (b[k] - a[k]) / dt);
}

function fmt(v, digits) {
  if (v === null || v === undefined || Number.isNaN(v)) return "–";
  return v.toFixed(digits === undefined ? 0 : digits);
}

function sample(s) {
  const now = totals(s);
  if (last && now.t > last.t) {
    const dt = now.t - last.t;
    const q = {};
    for (const [p] of PATHS) q[p] = rate(last, now, p, dt);
    const all = q.socket + q.dpdk + q.xdp;
    const lookups = (now.hits - last.hits) + (now.misses - last.misses);
    const hit = lookups > 0 ? 100 * (now.hits - last.hits) / lookups : null;
    const fast = all > 0 ? 100 * (q.dpdk + q.xdp) / all : null;
    push("t", now.t);
    for (const [p] of PATHS) push(p, q[p]);
    push("cache", hit);
    push("fastpath", fast);
    push("rrl", rate(last, now, "rrl", dt));
    push("errors", rate(last, now, "errors", dt));
    document.getElementById("qps-total").textContent = fmt(all);
    document.getElementById("cache-hit").textContent = hit === null ? "–" : fmt(hit, 1) + " %";
    document.getElementById("fastpath-share").textContent = fast === null ? "–" : fmt(fast, 1) + " %";
    document.getElementById("rrl-rate").textContent = fmt(series.rrl[series.rrl.length - 1], 1);
    document.getElementById("error-rate").textContent = fmt(series.errors[series.errors.length - 1], 1);
    draw();
  }
  last = now;
}

function plot(id, lines, fixedMax) {
  const c = document.getElementById(id), g = c.getContext("2d");
  const w = c.width, h = c.height, pad = 34;
  g.clearRect(0, 0, w, h);
  let max = fixedMax || 1;
  if (!fixedMax)
    for (const [name] of lines)
      for (const v of series[name]) if (v !== null && v > max) max = v;
  g.strokeStyle = "#dde"; g.fillStyle = "#667"; g.font = "11px sans-serif"; g.lineWidth = 1;
  for (let i = 0; i <= 4; i++) {
    const y = h - 14 - (h - 24) * i / 4;
    g.beginPath(); g.moveTo(pad, y); g.lineTo(w, y); g.stroke();
    g.fillText(fmt(max * i / 4, max < 10 ? 1 : 0), 2, y + 4);
  }
  g.fillText("−5 min", pad, h - 2); g.fillText("now", w - 22, h - 2);
  for (const [name, color] of lines) {
    const s = series[name];
    g.strokeStyle = color; g.lineWidth = 2; g.beginPath();
    let started = false;
    s.forEach((v, i) => {
      if (v === null) return;
      const x = pad + (w - pad) * (HISTORY - s.length + i) / (HISTORY - 1);
      const y = h - 14 - (h - 24) * v / max;
      if (started) g.lineTo(x, y); else { g.moveTo(x, y); started = true; }
    });
    g.stroke();
  }
}

function draw() {
  plot("graph-qps", PATHS);
  plot("graph-share", [["cache", "#16a085"], ["fastpath", "#e67e22"]], 100);
  plot("graph-errors", [["rrl", "#d68910"], ["errors", "#c0392b"]]);
}

function legend() {
  const l = document.getElementById("legend-qps");
  for (const [name, color] of PATHS) {
    const s = el("span"), i = el("i");
    i.style.background = color;
    s.append(i, name);
    l.append(s);
  }
}

function renderPools(pools) {
  const box = document.getElementById("pools");
  const frag = document.createDocumentFragment();
  let down = 0;
  for (const p of pools) {
    const div = el("div", null, "pool");
    div.dataset.pool = p.name;
    div.append(el("h3", `${p.name} — ${p.method}, ${p.state}, serving ${p.serving}, ttl ${p.ttl}`));
    const t = el("table"), head = el("tr");
    for (const c of ["member", "state", "drained", "since", "monitor", "checks", "failures", "latency", "last check"])
      head.append(el("th", c));
    t.append(head);
    for (const m of p.members) {
      const tr = el("tr", null, "member");
      tr.dataset.address = m.address;
      tr.dataset.state = m.state;
      if (m.state !== "up") down++;
      tr.append(el("td", m.address), el("td", m.state, m.state),
        el("td", m.drained ? "yes" : "no"), el("td", m.since_seconds + " s"),
        el("td", m.monitor || "none"), el("td", m.checks === undefined ? "" : m.checks),
        el("td", m.failures === undefined ? "" : m.failures),
        el("td", m.latency_ms === undefined ? "" : m.latency_ms.toFixed(3) + " ms"),
        el("td", m.last === undefined ? "" : (m.last_ok ? "ok: " : "fail: ") + m.last, "reason"));
      t.append(tr);
    }
    div.append(t);
    frag.append(div);
  }
  box.replaceChildren(frag);
  const badge = document.getElementById("health");
  badge.textContent = down ? `${down} member${down > 1 ? "s" : ""} down` : "all members up";
  badge.className = "badge " + (down ? "bad" : "ok");
}

function renderStatus(s) {
  document.getElementById("version").textContent =
    `v${s.version}${s.dataplane ? " · " + s.dataplane : ""} · ${s.listen.join(", ")}`;
  document.getElementById("uptime").textContent = `up ${s.uptime_seconds} s`;
  const body = document.querySelector("#zones tbody"), frag = document.createDocumentFragment();
  for (const z of s.zones) {
    const tr = el("tr");
    tr.append(el("td", z.name), el("td", z.serial), el("td", z.records));
    frag.append(tr);
  }
  body.replaceChildren(frag);
}

async function tick(n) {
  try {
    sample(await get("/api/v1/stats"));
    if (n % 2 === 0) renderPools(await get("/api/v1/pools"));
    if (n % 5 === 0) renderStatus(await get("/api/v1/status"));
  } catch (e) {
    const badge = document.getElementById("health");
    badge.textContent = "no answer: " + e.message;
    badge.className = "badge warn";
  }
  setTimeout(() => tick(n + 1), 1000);
}

document.addEventListener("DOMContentLoaded", () => { legend(); draw(); tick(0); });
