// The OrleansCrates dashboard: reads /health/ready, /api/v1/stats, /mirrors.json and /api/v1/cluster and draws everything itself
// (inline SVG charts, no libraries). Every chart keeps its data on its elements (data-day, data-value), and says so
// when there is none, so a page with no traffic yet is still clean.
(() => {
  "use strict";
  const SVG = "http://www.w3.org/2000/svg";
  const DAYS = 14;
  const REFRESH_MS = 30000;

  const $ = (id) => document.getElementById(id);

  function formatCount(n) {
    if (n === null || n === undefined) return "–";
    if (n >= 1e9) return (n / 1e9).toFixed(1) + " G";
    if (n >= 1e6) return (n / 1e6).toFixed(1) + " M";
    if (n >= 1e4) return (n / 1e3).toFixed(1) + " k";
    return String(n);
  }

  function formatBytes(n) {
    if (n === null || n === undefined) return "–";
    const units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let i = 0;
    let v = n;
    while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
    return (i === 0 ? String(v) : v.toFixed(v >= 100 ? 0 : 1)) + " " + units[i];
  }

  function formatRatio(r) {
    return r === null || r === undefined ? "–" : (r * 100).toFixed(r >= 0.999 || r === 0 ? 0 : 1) + " %";
  }

  function el(tag, attrs, text) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  }

  function svg(tag, attrs, text) {
    const node = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, String(v));
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function badge(state) {
    return el("span", { class: "badge " + state }, state);
  }

  function fillTable(id, rows, columns, emptyText) {
    const body = $(id).querySelector("tbody");
    body.replaceChildren();
    if (rows.length === 0) {
      const tr = el("tr");
      tr.append(el("td", { class: "none", colspan: String(columns) }, emptyText));
      body.append(tr);
      return;
    }
    for (const cells of rows) {
      const tr = el("tr");
      for (const cell of cells) {
        const td = el("td", cell.cls ? { class: cell.cls } : {});
        if (cell.node) td.append(cell.node); else td.textContent = cell.text ?? "";
        tr.append(td);
      }
      body.append(tr);
    }
  }

  // One chart: bars (kind "bar") or a line with points (kind "line", values 0..1 or null). Labels every few days.
  function drawChart(target, days, value, kind, format) {
    const W = 560, H = 200, left = 56, right = 10, top = 12, bottom = 28;
    const plotW = W - left - right, plotH = H - top - bottom;
    target.replaceChildren();
    const values = days.map(value);
    const present = values.filter((v) => v !== null && v !== undefined);
    const hasData = kind === "line" ? present.length > 0 : present.some((v) => v > 0);
    target.setAttribute("data-points", hasData ? String(present.length) : "0");
    target.setAttribute("data-empty", hasData ? "false" : "true");

    const max = kind === "line" ? 1 : Math.max(1, ...present);
    const y = (v) => top + plotH - (v / max) * plotH;
    for (const fraction of [0, 0.5, 1]) {
      const gy = top + plotH - fraction * plotH;
      target.append(svg("line", { class: "axis", x1: left, x2: W - right, y1: gy, y2: gy }));
      target.append(svg("text", { class: "label", x: left - 6, y: gy + 4, "text-anchor": "end" }, format(kind === "line" ? fraction : max * fraction)));
    }

    const step = plotW / Math.max(1, days.length);
    const labelEvery = Math.max(1, Math.ceil(days.length / 7));
    days.forEach((d, i) => {
      if ((days.length - 1 - i) % labelEvery === 0) { // evenly spaced, ending on the newest day
        target.append(svg("text", { class: "label", x: left + step * i + step / 2, y: H - 8, "text-anchor": "middle" }, d.day.slice(5)));
      }
    });

    if (!hasData) {
      target.append(svg("text", { class: "empty", x: left + plotW / 2, y: top + plotH / 2, "text-anchor": "middle" }, "No traffic recorded yet"));
      return;
    }

    if (kind === "bar") {
      days.forEach((d, i) => {
        const v = values[i] || 0;
        const h = (v / max) * plotH;
        const bar = svg("rect", {
          class: "bar", x: left + step * i + step * 0.15, y: top + plotH - h, width: step * 0.7, height: Math.max(h, v > 0 ? 1 : 0),
          "data-day": d.day, "data-value": v,
        });
        bar.append(svg("title", {}, d.day + ": " + format(v)));
        target.append(bar);
      });
      return;
    }

    const points = days.map((d, i) => ({ d, v: values[i], x: left + step * i + step / 2 })).filter((p) => p.v !== null && p.v !== undefined);
    target.append(svg("polyline", { class: "line", points: points.map((p) => p.x + "," + y(p.v)).join(" ") }));
    for (const p of points) {
      const dot = svg("circle", { class: "point", cx: p.x, cy: y(p.v), r: 3.5, "data-day": p.d.day, "data-value": p.v });
      dot.append(svg("title", {}, p.d.day + ": " + format(p.v)));
      target.append(dot);
    }
  }

  function showHealth(health) {
    if (!health) {
      $("storage-state").replaceChildren(badge("unknown"));
      $("storage-detail").textContent = "health could not be read";
      fillTable("upstreams", [], 5, "unknown");
      return;
    }
    $("storage-state").replaceChildren(badge(health.status));
    $("storage-detail").textContent = (health.storage.provider || "") + (health.storage.detail ? ": " + health.storage.detail : "");
    fillTable("upstreams", health.upstreams.map((u) => [
      { text: u.name },
      { text: u.indexUrl, cls: "mono" },
      { node: badge(u.state) },
      { text: u.smoothedLatencyMs !== null && u.smoothedLatencyMs !== undefined ? u.smoothedLatencyMs + " ms" : "–" },
      { text: u.lastError ? u.lastError + (u.lastErrorAt ? " (" + u.lastErrorAt.slice(0, 19).replace("T", " ") + ")" : "") : "" },
    ]), 5, "no upstream configured");
  }

  function showCluster(cluster) {
    if (!cluster) {
      $("cluster-summary").textContent = "";
      fillTable("silos", [], 5, "unknown");
      return;
    }
    $("cluster-summary").textContent = cluster.activeSilos + " active silo" + (cluster.activeSilos === 1 ? "" : "s") + ", " + formatCount(cluster.crateActivations) + " crate grains";
    fillTable("silos", cluster.silos.map((s) => [
      { text: s.address + (s.self ? " (this node)" : ""), cls: "mono" },
      { text: s.name },
      { node: badge(s.status === "Active" ? "up" : "down") },
      { text: formatCount(s.crateActivations) },
      { text: s.startedAt ? s.startedAt.slice(0, 19).replace("T", " ") : "" },
    ]), 5, "no active silo");
  }

  function showStats(stats) {
    if (!stats) {
      $("meta").textContent = "statistics could not be read";
      return;
    }
    const t = stats.totals;
    $("meta").textContent = "node " + stats.node + " · updated " + stats.generatedAt.slice(11, 19) + " UTC · counters flushed every " + stats.flushIntervalSeconds + " s";
    $("total-requests").textContent = formatCount(t.requests);
    $("total-range").textContent = stats.from + " to " + stats.to + (t.errors ? " · " + t.errors + " errors" : "");
    $("total-bytes").textContent = formatBytes(t.bytes);
    $("total-saved").textContent = formatBytes(t.upstreamBytesSaved) + " saved upstream";
    $("total-hit").textContent = formatRatio(t.hitRatio);
    $("total-outcomes").textContent = t.hits + " hits · " + t.misses + " misses · " + t.stale + " stale";
    $("total-clients").textContent = formatCount(t.uniqueClients);
    $("total-downloads").textContent = t.downloads + " downloads";
    const a = stats.approvals;
    $("approvals").textContent = a.mode === "on" ? (a.pending === null ? "–" : String(a.pending)) : "off";
    $("approvals-detail").textContent = a.mode === "on" ? (a.error ? "could not be read: " + a.error : "crates waiting for a decision") : "approval mode off";

    drawChart($("chart-requests"), stats.days, (d) => d.requests, "bar", formatCount);
    drawChart($("chart-bytes"), stats.days, (d) => d.bytes, "bar", formatBytes);
    drawChart($("chart-hits"), stats.days, (d) => d.hitRatio, "line", formatRatio);

    fillTable("top-crates", stats.topCrates.map((c) => [
      { text: c.crate, cls: "mono" },
      { text: c.registry },
      { text: String(c.downloads), cls: "num" },
      { text: formatBytes(c.bytes), cls: "num" },
      { text: c.versions.slice(0, 3).map((v) => v.version + " (" + v.downloads + ")").join(", "), cls: "mono" },
    ]), 5, "no downloads in this period");

    const tc = stats.toolchains || { downloads: 0, bytes: 0, topArchives: [] };
    $("toolchain-summary").textContent = tc.downloads + " archive download" + (tc.downloads === 1 ? "" : "s") + " · " + formatBytes(tc.bytes);
    fillTable("toolchains", tc.topArchives.map((a) => [
      { text: a.archive, cls: "mono" },
      { text: a.release, cls: "mono" },
      { text: String(a.downloads), cls: "num" },
      { text: formatBytes(a.bytes), cls: "num" },
    ]), 4, "no toolchain downloads in this period");

    fillTable("errors", stats.recentErrors.slice(0, 15).map((e) => [
      { text: e.at.slice(0, 19).replace("T", " "), cls: "mono" },
      { text: String(e.status) },
      { text: e.method + " " + e.path, cls: "mono" },
      { text: e.detail || "" },
    ]), 4, "no errors since this node started");
  }

  function showMirrors(directory) {
    const mirrors = directory ? directory.mirrors : [];
    fillTable("mirrors", mirrors.map((m) => [
      { text: m.name },
      { text: m.url, cls: "mono" },
      { text: m.source },
      { node: badge(m.check ? m.check.state : "unknown") },
      { text: m.check && m.check.latencyMs !== null ? m.check.latencyMs + " ms" : "–", cls: "num" },
    ]), 5, directory ? "no mirrors known: configure Directory:Mirrors or Directory:AnnounceUrl" : "directory could not be read");
  }

  async function getJson(url) {
    try {
      const response = await fetch(url, { headers: { Accept: "application/json" }, cache: "no-store" });
      return await response.json(); // /health/ready answers JSON with 503 too
    } catch {
      return null;
    }
  }

  async function refresh() {
    const [health, stats, mirrors, cluster] = await Promise.all([
      getJson("/health/ready"),
      getJson("/api/v1/stats?days=" + DAYS + "&top=10"),
      getJson("/mirrors.json"),
      getJson("/api/v1/cluster"),
    ]);
    showHealth(health);
    showCluster(cluster);
    showStats(stats);
    showMirrors(mirrors);
    document.body.setAttribute("data-loaded", "true");
  }

  $("copy-config").addEventListener("click", async () => {
    const text = $("cargo-config").textContent;
    const button = $("copy-config");
    try {
      await navigator.clipboard.writeText(text);
      button.textContent = "Copied";
    } catch {
      const range = document.createRange();
      range.selectNodeContents($("cargo-config"));
      const selection = window.getSelection();
      selection.removeAllRanges();
      selection.addRange(range);
      button.textContent = "Selected: press Ctrl+C";
    }
    setTimeout(() => { button.textContent = "Copy"; }, 2000);
  });

  refresh();
  setInterval(refresh, REFRESH_MS);
})();
