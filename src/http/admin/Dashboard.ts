// GET /admin/: one self-contained page (no external assets, works offline) that polls
// /admin/status. Values are set with textContent only, and the CSP admits nothing but this
// page's own script and style (by hash) and fetches to its origin.
import { createHash } from "node:crypto"

export const refreshSeconds = 3

const style = `
:root { font: 14px/1.4 system-ui, sans-serif; color: #1f2328; background: #f6f8fa; }
body { margin: 0 auto; padding: 16px 24px; max-width: 1200px; }
h1 { font-size: 20px; margin: 0 0 4px; } h2 { font-size: 15px; margin: 0 0 8px; }
.meta { color: #57606a; margin-bottom: 16px; } .meta span { margin-right: 16px; }
#banner { display: none; padding: 8px 12px; margin-bottom: 12px; border-radius: 6px; background: #ffebe9; color: #82071e; border: 1px solid #ff8182; }
#banner.shown { display: block; }
section { background: #fff; border: 1px solid #d0d7de; border-radius: 6px; padding: 12px 16px; margin-bottom: 16px; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(300px, 1fr)); gap: 16px; }
.cards section { margin-bottom: 0; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: 5px 8px; border-bottom: 1px solid #eaeef2; white-space: nowrap; }
th { color: #57606a; font-weight: 600; font-size: 12px; } td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
.state { display: inline-block; padding: 1px 8px; border-radius: 10px; font-weight: 600; font-size: 12px; color: #fff; }
.state-closed { background: #1a7f37; } .state-half_open { background: #bf8700; } .state-open { background: #cf222e; }
tr.row-open { background: #fff5f5; } tr.row-half_open { background: #fffbea; }
dl { display: grid; grid-template-columns: auto 1fr; gap: 4px 16px; margin: 0; } dt { color: #57606a; } dd { margin: 0; font-variant-numeric: tabular-nums; }
.bad { color: #cf222e; font-weight: 600; } .good { color: #1a7f37; font-weight: 600; } .muted { color: #8c959f; }
`

const script = `
"use strict";
var REFRESH_MS = ${refreshSeconds * 1000};
function $(id) { return document.getElementById(id); }
function text(el, value, cls) { el.textContent = value; if (cls !== undefined) el.className = cls; return el; }
function cell(row, value, cls) { return text(row.insertCell(), value, cls); }
function num(n, digits) { return n === null || n === undefined ? "–" : Number(n).toFixed(digits); }
function pct(r) { return r === null || r === undefined ? "–" : (r * 100).toFixed(1) + " %"; }
function ago(iso) {
  if (!iso) return "never";
  var s = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
  return s < 60 ? s + " s ago" : s < 3600 ? Math.round(s / 60) + " min ago" : Math.round(s / 3600) + " h ago";
}
function dl(el, pairs) {
  el.replaceChildren();
  pairs.forEach(function (p) {
    el.appendChild(text(document.createElement("dt"), p[0]));
    el.appendChild(text(document.createElement("dd"), p[1], p[2] || ""));
  });
}
function renderServices(services) {
  var body = $("services-body");
  body.replaceChildren();
  services.forEach(function (s) {
    var row = body.insertRow();
    var st = s.breaker.state;
    row.dataset.service = s.name;
    row.dataset.state = st;
    row.className = "row-" + st;
    cell(row, s.name);
    var badge = text(document.createElement("span"), st.replace("_", "-"), "state state-" + st);
    row.insertCell().appendChild(badge);
    var m = s.last_minute;
    cell(row, num(m.requests_per_second, 2), "num");
    cell(row, pct(m.error_ratio), "num" + (m.errors > 0 ? " bad" : ""));
    cell(row, num(m.latency_p50_ms, 1), "num");
    cell(row, num(m.latency_p99_ms, 1), "num");
    cell(row, s.breaker.counts.requests + " / " + s.breaker.counts.total_failures, "num");
    var t = s.breaker.last_transition;
    cell(row, t ? t.from + " → " + t.to + ", " + ago(t.at) : "never", t ? "" : "muted");
    cell(row, s.url, "muted");
  });
}
function renderCache(c) {
  dl($("cache"), [
    ["hit ratio", pct(c.hit_ratio), c.hit_ratio === null ? "muted" : ""],
    ["hits / misses", c.hits + " / " + c.misses],
    ["store", c.store + (c.enabled ? "" : " (disabled)")],
    ["entries", c.entries === null ? "–" : c.entries + (c.max_entries ? " of " + c.max_entries : "")],
    ["Redis", c.redis_reachable === null ? "not used" : c.redis_reachable ? "reachable" : "unreachable",
      c.redis_reachable === false ? "bad" : c.redis_reachable ? "good" : "muted"]
  ]);
}
function renderLimits(r) {
  dl($("limits"), [
    ["rejections", String(r.rejections.total), r.rejections.total > 0 ? "bad" : ""],
    ["by bucket", "global " + r.rejections.global + " · ip " + r.rejections.ip + " · endpoint " + r.rejections.endpoint],
    ["global tokens", num(r.tokens.global, 0) + " of " + r.configured.global.burst],
    ["store", r.store + (r.fallback_active ? " (local fallback)" : "") + (r.enabled ? "" : " (disabled)"), r.fallback_active ? "bad" : ""]
  ]);
  var body = $("ips-body");
  body.replaceChildren();
  if (r.top_rejected_ips.length === 0) cell(body.insertRow(), "none", "muted").colSpan = 2;
  r.top_rejected_ips.forEach(function (e) { var row = body.insertRow(); cell(row, e.ip); cell(row, String(e.rejections), "num"); });
}
function render(s) {
  text($("version"), "version " + s.version + " (" + s.git_commit.slice(0, 12) + ")");
  text($("uptime"), "up " + Math.floor(s.uptime_seconds / 60) + " min");
  text($("config"), "config " + s.config.file_hash.slice(0, 12) + ", loaded " + ago(s.config.loaded_at));
  renderServices(s.services);
  renderCache(s.cache);
  renderLimits(s.rate_limits);
  text($("updated"), "updated " + new Date().toLocaleTimeString());
  $("banner").className = "";
}
function refresh() {
  fetch("/admin/status", { cache: "no-store", credentials: "same-origin", headers: { accept: "application/json" } })
    .then(function (res) {
      if (!res.ok) throw new Error("/admin/status answered " + res.status);
      return res.json();
    })
    .then(render)
    .catch(function (e) { text($("banner"), "Refresh failed: " + e.message + " (showing the last data)", "shown"); })
    .finally(function () { setTimeout(refresh, REFRESH_MS); });
}
refresh();
`

const hash = (text: string) => `'sha256-${createHash("sha256").update(text).digest("base64")}'`

export const dashboardCsp = [
  "default-src 'none'",
  `script-src ${hash(script)}`,
  `style-src ${hash(style)}`,
  "connect-src 'self'",
  "img-src 'self' data:",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'"
].join("; ")

export const dashboardHtml = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>API gateway · operators</title>
<link rel="icon" href="data:,">
<style>${style}</style>
</head>
<body>
<h1>API gateway · operators</h1>
<div class="meta"><span id="version"></span><span id="uptime"></span><span id="config"></span><span id="updated">loading…</span></div>
<div id="banner" role="alert"></div>
<section>
<h2>Services</h2>
<table id="services">
<thead><tr><th>service</th><th>breaker</th><th class="num">req/s (1 min)</th><th class="num">errors</th><th class="num">p50 ms</th><th class="num">p99 ms</th><th class="num">window req / fail</th><th>last transition</th><th>backend</th></tr></thead>
<tbody id="services-body"></tbody>
</table>
</section>
<div class="cards">
<section><h2>Cache</h2><dl id="cache"></dl></section>
<section><h2>Rate limits</h2><dl id="limits"></dl></section>
<section><h2>Most refused client IPs</h2><table><thead><tr><th>client IP</th><th class="num">refused</th></tr></thead><tbody id="ips-body"></tbody></table></section>
</div>
<script>${script}</script>
</body>
</html>
`
