// SPDX-License-Identifier: Apache-2.0
// mqota console (docs/CONSOLE.md): the operator's page. Everything it shows or does goes
// through mqotad's HTTP API (docs/API.md), the same the CLI uses. mqotad pushes "something
// changed" over server-sent events (GET /api/v1/events); the page then fetches what is on
// screen. When mqotad cannot be reached the page says so and greys what it shows.
"use strict";

const $ = (sel, root) => (root || document).querySelector(sel);
const $$ = (sel, root) => Array.from((root || document).querySelectorAll(sel));
const TOKEN_KEY = "mqotaToken";
const RETRY_MS = 2000;          // a lost mqotad is asked again this often
const SILENCE_MS = 15000;       // no event (mqotad beats every 5 s) for this long: unreachable
const REFRESH_GAP_MS = 700;     // at most one refetch of the view per this many ms
const PAGE = 50;                // devices per inventory page

const S = {
  token: localStorage.getItem(TOKEN_KEY) || "",
  tokenRequired: true,
  reachable: true,
  downSince: 0,
  es: null,
  lastEvent: 0,
  mqttConnected: true,
  view: null,
  refreshTimer: 0,
  lastRefresh: 0,
  inv: { q: "", state: "", online: "", chip: "", version: "", group: "", tag: "", expr: "",
         sort: "id", order: "asc", offset: 0 },
  rate: {},                     // deployment id -> [[ms, bytes done]] for throughput and ETA
  charts: [],
};

/* ---- formatting ---- */

function esc(v) {
  return String(v === undefined || v === null ? "" : v).replace(/[&<>"']/g, (c) =>
    ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}
function fmtSize(n) {
  n = Number(n) || 0;
  if (n < 1024) return n + " B";
  const u = ["KiB", "MiB", "GiB", "TiB"];
  let i = -1;
  do { n /= 1024; i++; } while (n >= 1023.95 && i < u.length - 1);
  return n.toFixed(1) + " " + u[i];
}
function fmtNum(n) { return Number(n || 0).toLocaleString("en"); }
function fmtDur(s) {
  s = Math.max(0, Math.round(s));
  if (s < 60) return s + " s";
  if (s < 3600) return Math.floor(s / 60) + " min " + (s % 60) + " s";
  return Math.floor(s / 3600) + " h " + Math.floor((s % 3600) / 60) + " min";
}
function fmtAgo(t) {
  if (!t) return "never";
  const d = Math.max(0, Math.floor(Date.now() / 1000 - t));
  if (d < 60) return d + " s ago";
  if (d < 3600) return Math.floor(d / 60) + " min ago";
  if (d < 86400) return Math.floor(d / 3600) + " h ago";
  return Math.floor(d / 86400) + " d ago";
}
function fmtDate(t) {
  if (!t) return "-";
  const d = new Date(t * 1000), p = (x) => String(x).padStart(2, "0");
  return d.getFullYear() + "-" + p(d.getMonth() + 1) + "-" + p(d.getDate()) + " " +
         p(d.getHours()) + ":" + p(d.getMinutes()) + ":" + p(d.getSeconds());
}
function pct(done, total) {
  if (!total || total <= 0) return 0;
  return Math.max(0, Math.min(100, done * 100 / total));
}

/* Colour class of a device update state, a target state or a rollout/wave state. */
function stateClass(s) {
  switch (s) {
    case "confirmed": case "succeeded": case "done": case "finished": return "s-ok";
    case "failed": case "rolled-back": case "aborted": case "timeout": case "expired": case "refused": return "s-bad";
    case "ready-to-reboot": case "pending-verify": case "paused": case "awaiting-approval": return "s-warn";
    case "held": case "ready": return "s-warn"; /* holding a verified release until activated */
    case "offered": case "downloading": case "verifying": case "active": case "running": case "sent": case "queued": return "s-info";
    case "superseded": case "cancelled": return "s-violet"; /* cancelled: offer withdrawn */
    default: return "s-idle";
  }
}
function badge(s, extra) {
  return '<span class="badge ' + stateClass(s) + '">' + esc(s || "-") + (extra ? " " + esc(extra) : "") + "</span>";
}
/* A legacy device (docs/LEGACY.md) names its protocol beside its state; a native one (mqota) nothing. */
function protoNote(d) {
  return d.protocol && d.protocol !== "mqota" ? ' <span class="muted proto">legacy ' + esc(d.protocol) + "</span>" : "";
}
function onlineCell(on) {
  return '<span class="online ' + (on ? "s-ok" : "s-bad") + '">' + (on ? "online" : "offline") + "</span>";
}

/* A stacked bar: segs is [[value, "ok"|"bad"|"info"|"warn"], ...] of total; label its text.
 * Widths are set by applyBars() after the HTML is in place (the CSP forbids style="..."). */
function bar(segs, total, label, big) {
  let h = '<span class="bar"><span class="track' + (big ? " big" : "") + '">';
  segs.forEach(([v, cls]) => {
    h += '<span class="seg ' + cls + '" data-w="' + pct(v, total).toFixed(2) + '"></span>';
  });
  return h + '</span><span class="pct">' + esc(label) + "</span></span>";
}
function applyBars(root) {
  $$(".seg[data-w]", root).forEach((el) => { el.style.width = el.dataset.w + "%"; });
}

/* What each failure reason of a device means and what to do (mqota_reason_name()). */
const REASONS = {
  "chip-mismatch": ["The release was built for another chip than this device's.",
                    "Deploy a release built for the device's chip."],
  "too-large": ["The image is larger than the device's OTA slot.",
                "Make the image smaller or give the device larger OTA partitions."],
  "bad-chunk-size": ["mqotad offered chunks larger than the device takes.",
                     "Check the device's --max-chunk / MQOTA_MAX_CHUNK; retry the device."],
  "flash": ["Erasing or writing the device's flash failed.",
            "Retry; if it fails again the flash may be worn or the partition table wrong."],
  "hash-mismatch": ["The image the device wrote does not match the release's SHA-256: data was corrupted on the way or on flash.",
                    "Retry the device; if it repeats, check its flash and its link."],
  "invalid-image": ["The received image failed the bootloader's checks (header, segments, chip, checksum).",
                    "Check that the release is a real app image for this device; rebuild and upload it."],
  "set-boot": ["The device could not make the new slot the boot slot (otadata write failed).",
               "Retry; if it repeats, check the device's flash."],
  "self-test": ["The new image booted but its own self-test failed, so the device went back to its previous image.",
                "Fix the application's self-test failure and upload a new release; the device still runs the old one."],
  "confirm-timeout": ["The new image booted but did not reach mqotad in time to confirm it, so the device rolled back.",
                      "Check that the new image joins the network and the broker; raise the confirm timeout for slow links."],
  "reset": ["The device reset (watchdog, brown-out, crash) while checking the new image, and the bootloader rolled back.",
            "Look for a crash or a power problem in the new image."],
  "too-many-chunks": ["The image needs more chunks than the device's agent can track.",
                      "Use larger chunks or a smaller image."],
  "store": ["The device could not save its update record (NVS).",
            "Check the device's NVS partition; erase it if it is corrupt."],
  "malformed-offer": ["The device could not read mqotad's offer.",
                      "Check that device and mqotad speak the same protocol version."],
  "signature": ["The release's signature did not verify against the key the device trusts.",
                "Sign the release with the key the device was given (mqota release add --sign)."],
  "unsigned": ["The device accepts only signed releases and this one is unsigned.",
               "Upload the release signed (mqota release add --sign KEY)."],
  "security-version": ["The release's secure version is below the device's anti-rollback counter.",
                       "Build the release with a secure_version at least the device's."],
  "command": ["An operator's command (rollback) ended the update.", "Nothing to fix; deploy again when ready."],
  "file-release": ["The release is a set of files and this device takes firmware images only.",
                   "Deploy file releases to MicroPython devices (they announce the files capability)."],
  "decode": ["A compressed chunk passed its checksum but did not decode to the image's bytes.",
             "Deploy again; if it repeats, delete the release's cached compressed forms (DIR/releases/*.z*) and report it."],
  "bad-encoding": ["The device cannot decode the compressed form it was offered (encoding or window).",
                   "Deploy again: mqotad offers the device a form it announces, or the whole image."],
  "base-mismatch": ["The device does not run the image a delta was made from; nothing was erased.",
                    "Nothing to fix: mqotad sends the same deployment the whole (or compressed) image instead."],
  "deadline": ["The device did not finish within the rollout's deadline.",
               "Check that the device is online; retry the wave."],
};
function explain(reason) {
  const r = REASONS[reason];
  return r ? r[0] + " " + r[1] : "mqotad reported '" + reason + "'.";
}

/* ---- talking to mqotad ---- */

class ApiError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

/* fetch an API path; resolves to the JSON body; rejects with ApiError carrying mqotad's own
 * sentence, or status 0 when mqotad cannot be reached (then the page goes to its outage state). */
async function api(path, opts) {
  opts = opts || {};
  const headers = Object.assign({ Accept: "application/json" }, opts.headers || {});
  if (S.token) headers.Authorization = "Bearer " + S.token;
  let r;
  try {
    r = await fetch(path, { method: opts.method || "GET", headers, body: opts.body, cache: "no-store" });
  } catch (e) {
    setReachable(false);
    throw new ApiError(0, "mqotad cannot be reached");
  }
  let body = null;
  try { body = await r.json(); } catch (e) { /* not JSON: said below */ }
  if (r.status === 401 && !opts.signingIn) {
    signOut("mqotad refused the stored token (it may have been revoked); sign in again.");
    throw new ApiError(401, "signed out");
  }
  if (!r.ok) throw new ApiError(r.status, (body && body.error) || ("HTTP " + r.status + " for " + path));
  return body;
}
const post = (path, obj) => api(path, { method: "POST", headers: { "Content-Type": "application/json" },
                                        body: obj === undefined ? undefined : JSON.stringify(obj) });

/* ---- live: the event stream, and the outage state ---- */

function setLive(text, cls) {
  const el = $("#live");
  el.textContent = text;
  el.className = "live " + (cls || "");
}

function setReachable(ok) {
  if (ok === S.reachable) return;
  S.reachable = ok;
  document.body.classList.toggle("stale", !ok);
  const b = $("#banner");
  if (!ok) {
    S.downSince = Date.now();
    if (S.es) { S.es.close(); S.es = null; }
    b.textContent = "mqotad cannot be reached (since " + new Date(S.downSince).toLocaleTimeString() +
      "). What you see is what it said last, greyed: device states and online marks may be out of date. Retrying every " +
      RETRY_MS / 1000 + " s.";
    b.hidden = false;
    setLive("mqotad unreachable", "down");
    // nobody can vouch for a device now: its online mark says so (the next fetch redraws it)
    $$(".online").forEach((el) => { el.title = "was " + el.textContent; el.textContent = "unknown"; });
    setTimeout(probe, RETRY_MS);
  } else {
    b.hidden = true;
    b.textContent = "";
  }
}

/* mqotad lost: ask its health until it answers, then open the stream again. */
async function probe() {
  if (S.reachable) return;
  try {
    const r = await fetch("api/v1/health", { cache: "no-store" });
    if (r.ok) {
      setReachable(true);
      openEvents();
      refresh(true);
      return;
    }
  } catch (e) { /* still down */ }
  setTimeout(probe, RETRY_MS);
}

/* Trade the token for a one-use ticket (EventSource cannot send headers) and open the stream. */
async function openEvents() {
  if (S.es) { S.es.close(); S.es = null; }
  let t;
  try { t = await post("api/v1/events/ticket"); } catch (e) { return; }
  const es = new EventSource("api/v1/events?ticket=" + encodeURIComponent(t.ticket));
  S.es = es;
  S.lastEvent = Date.now();
  es.addEventListener("change", (ev) => {
    S.lastEvent = Date.now();
    try { S.mqttConnected = JSON.parse(ev.data).mqtt_connected !== false; } catch (e) { /* keep */ }
    setLive(S.mqttConnected ? "live" : "live, broker not connected", S.mqttConnected ? "ok" : "down");
    refresh(false);
  });
  es.addEventListener("beat", () => { S.lastEvent = Date.now(); });
  es.onerror = () => {
    if (S.es !== es) return;
    es.close();
    S.es = null;
    setReachable(false);
  };
}

setInterval(() => {
  if (S.reachable && S.es && Date.now() - S.lastEvent > SILENCE_MS) setReachable(false);
}, 1000);

/* Fetch the view again: at once (force) or at most once per REFRESH_GAP_MS, or per four times
 * what the last fetch took (a deployment of 10,000 devices is a large answer: the page then
 * spends at most a fifth of its time fetching it). */
function refresh(force) {
  if (!S.view || !S.view.refresh) return;
  const gap = Math.max(REFRESH_GAP_MS, 4 * (S.lastTook || 0));
  const wait = force ? 0 : Math.max(0, S.lastRefresh + gap - Date.now());
  if (S.refreshTimer) { if (!force) return; clearTimeout(S.refreshTimer); }
  S.refreshTimer = setTimeout(async () => {
    S.refreshTimer = 0;
    S.lastRefresh = Date.now();
    const view = S.view;
    try { await view.refresh(); } catch (e) { if (e.status !== 0 && e.status !== 401) showError(e); }
    S.lastTook = Date.now() - S.lastRefresh;
  }, wait);
}

function showError(e) {
  const b = $("#banner");
  if (!S.reachable) return;
  b.textContent = e.message;
  b.hidden = false;
  setTimeout(() => { if (S.reachable && b.textContent === e.message) b.hidden = true; }, 8000);
}

/* ---- sign in ---- */

function signOut(why) {
  S.token = "";
  localStorage.removeItem(TOKEN_KEY);
  if (S.es) { S.es.close(); S.es = null; }
  showSignIn(why || "");
}

function showSignIn(why) {
  S.view = null;
  $("#signout").hidden = true;
  $("#nav").hidden = true;
  setLive("signed out", "");
  $("#main").innerHTML =
    '<section class="signin"><h2>Sign in to mqotad</h2><form id="signin-form" class="form">' +
    '<label class="wide">API token<input type="password" id="token" autocomplete="current-password" ' +
    'placeholder="paste a token" required></label>' +
    '<button type="submit" id="signin-btn">Sign in</button></form>' +
    '<div class="msg err" id="signin-msg" role="alert">' + esc(why) + "</div>" +
    '<div class="msg muted">A token is in mqotad\'s <code>DIR/api.token</code>; make another with ' +
    "<code>mqotad --data DIR token create NAME</code>. It is kept in this browser until you sign out.</div></section>";
  $("#token").focus();
  $("#signin-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const token = $("#token").value.trim();
    const msg = $("#signin-msg");
    msg.textContent = "";
    try {
      const r = await fetch("api/v1/devices?count=1", { headers: { Authorization: "Bearer " + token }, cache: "no-store" });
      if (r.status === 401) {
        msg.textContent = "mqotad refused this token: it is not one of its API tokens. Check for a typo, " +
          "or list the tokens with 'mqotad --data DIR token list'.";
        return;
      }
      if (!r.ok) { msg.textContent = "mqotad answered " + r.status + "; try again."; return; }
    } catch (e) {
      msg.textContent = "mqotad cannot be reached; is it running?";
      return;
    }
    S.token = token;
    localStorage.setItem(TOKEN_KEY, token);
    start();
  });
}

/* ---- router ---- */

const VIEWS = [
  [/^#\/devices\/(.+)$/, (m) => deviceView(decodeURIComponent(m[1]))],
  [/^#\/devices$/, () => inventoryView()],
  [/^#\/releases$/, () => releasesView()],
  [/^#\/new(?:\?release=(\d+))?$/, (m) => newView(m[1])],
  [/^#\/deployments\/(\d+)$/, (m) => deploymentView(m[1])],
  [/^#\/deployments$/, () => deploymentsView()],
  [/^#\/rollouts\/(\d+)$/, (m) => rolloutView(m[1])],
  [/^#\/rollouts$/, () => rolloutsView()],
];

function route() {
  if (S.tokenRequired && !S.token) return;
  const h = location.hash || "#/devices";
  S.charts.forEach((c) => c.destroy());
  S.charts = [];
  for (const [re, make] of VIEWS) {
    const m = h.match(re);
    if (m) {
      const top = h.split("/")[1].split("?")[0];
      $$("#nav a").forEach((a) => a.classList.toggle("on", a.dataset.nav === top || (top === "new" && a.dataset.nav === "releases")));
      S.view = make(m);
      $("#main").innerHTML = S.view.html;
      if (S.view.mount) S.view.mount();
      refresh(true);
      return;
    }
  }
  location.hash = "#/devices";
}
window.addEventListener("hashchange", route);

/* ---- inventory ---- */

const STATES = ["idle", "offered", "downloading", "verifying", "ready-to-reboot", "pending-verify",
                "confirmed", "failed", "rolled-back", "held"];
const UPDATING = new Set(["offered", "downloading", "verifying", "ready-to-reboot", "pending-verify"]);

function invFilter() {
  const f = S.inv, parts = [];
  if (f.state) parts.push("state=" + f.state);
  if (f.online) parts.push("online=" + f.online);
  if (f.chip) parts.push("chip=" + f.chip);
  if (f.version) parts.push("version=" + f.version);
  if (f.group) parts.push("group=" + f.group);
  if (f.tag) parts.push("tag=" + f.tag);
  if (f.expr) parts.push(f.expr);
  return parts.join(" ");
}

function inventoryView() {
  const f = S.inv;
  const opt = (vals, cur) => vals.map((v) => '<option value="' + esc(v[0]) + '"' + (v[0] === cur ? " selected" : "") + ">" +
                                          esc(v[1]) + "</option>").join("");
  return {
    html: '<div class="cards" id="cards"></div>' +
      '<section><h2>Devices <small id="inv-count"></small></h2><div class="toolbar">' +
      '<label class="grow">Search id, version, project<input id="f-q" type="search" value="' + esc(f.q) + '"></label>' +
      '<label>State<select id="f-state">' + opt([["", "any"]].concat(STATES.map((s) => [s, s])), f.state) + "</select></label>" +
      '<label>Online<select id="f-online">' + opt([["", "any"], ["true", "online"], ["false", "offline"]], f.online) + "</select></label>" +
      '<details class="more" id="f-more"' + (f.chip || f.version || f.group || f.tag || f.expr || window.innerWidth > 700 ? " open" : "") +
      "><summary>More filters</summary><div class=\"toolbar inner\">" +
      '<label>Chip<select id="f-chip">' + opt([["", "any"], ["esp32", "ESP32"], ["esp32-s2", "ESP32-S2"], ["esp32-s3", "ESP32-S3"],
        ["esp32-c3", "ESP32-C3"], ["esp32-c6", "ESP32-C6"], ["esp32-h2", "ESP32-H2"]], f.chip) + "</select></label>" +
      '<label>Version<input id="f-version" size="10" value="' + esc(f.version) + '"></label>' +
      '<label>Group<select id="f-group"><option value="">any</option></select></label>' +
      '<label>Tag<input id="f-tag" size="10" placeholder="key=value" value="' + esc(f.tag) + '"></label>' +
      '<label class="grow">Filter expression<input id="f-expr" placeholder="last_seen&gt;1h" value="' + esc(f.expr) + '"></label>' +
      '</div></details></div><div class="msg err" id="inv-err" hidden></div><div class="scroll" id="inv"></div>' +
      '<div class="pager"><span id="pg-text" class="muted"></span><button class="quiet" id="pg-prev">Previous</button>' +
      '<button class="quiet" id="pg-next">Next</button></div></section>',
    mount() {
      let t = 0;
      const upd = (k, v) => { S.inv[k] = v; S.inv.offset = 0; clearTimeout(t); t = setTimeout(() => refresh(true), 250); };
      [["f-q", "q"], ["f-version", "version"], ["f-tag", "tag"], ["f-expr", "expr"]].forEach(([id, k]) =>
        $("#" + id).addEventListener("input", (e) => upd(k, e.target.value.trim())));
      [["f-state", "state"], ["f-online", "online"], ["f-chip", "chip"], ["f-group", "group"]].forEach(([id, k]) =>
        $("#" + id).addEventListener("change", (e) => upd(k, e.target.value)));
      $("#pg-prev").addEventListener("click", () => { S.inv.offset = Math.max(0, S.inv.offset - PAGE); refresh(true); });
      $("#pg-next").addEventListener("click", () => { S.inv.offset += PAGE; refresh(true); });
      api("api/v1/groups").then((gs) => {
        $("#f-group").innerHTML = opt([["", "any"]].concat(gs.map((g) => [g.name, g.name + " (" + g.size + ")"])), S.inv.group);
      }).catch(() => {});
    },
    async refresh() {
      const q = new URLSearchParams({ limit: PAGE, offset: f.offset, sort: f.sort, order: f.order });
      if (f.q) q.set("q", f.q);
      const filter = invFilter();
      if (filter) q.set("filter", filter);
      let page;
      try {
        page = await api("api/v1/devices?" + q);
      } catch (e) {
        if (e.status === 400) { const el = $("#inv-err"); el.textContent = e.message; el.hidden = false; return; }
        throw e;
      }
      if (S.view === null || !$("#inv")) return;
      $("#inv-err").hidden = true;
      if (page.total > 0 && f.offset >= page.total) { f.offset = Math.max(0, Math.floor((page.total - 1) / PAGE) * PAGE); return refresh(true); }
      renderInventory(page);
    },
  };
}

function renderInventory(page) {
  const st = page.states || {};
  const updating = STATES.filter((s) => UPDATING.has(s)).reduce((a, s) => a + (st[s] || 0), 0);
  const failed = (st.failed || 0) + (st["rolled-back"] || 0);
  const card = (n, l, cls) => '<div class="card"><div class="n ' + (cls || "") + '">' + fmtNum(n) +
                              '</div><div class="l">' + l + "</div></div>";
  $("#cards").innerHTML = card(page.total, "devices") + card(page.online, "online") +
    card(page.total - page.online, "offline") + card(updating, "updating") +
    card(failed, "failed / rolled back", failed ? "reason" : "");
  $("#inv-count").textContent = fmtNum(page.total) + " match" + (invFilter() || S.inv.q ? " the filter" : "");
  const f = S.inv;
  const cols = [["id", "ID"], ["state", "State"], ["online", "Online"], ["progress", "Progress"],
                ["version", "Version"], ["chip", "Chip", "wide-only"], [null, "Slot", "wide-only"], ["last_seen", "Last seen", "wide-only"]];
  let h = "<table><thead><tr>";
  cols.forEach(([k, name, cls]) => {
    const sorted = k && f.sort === k ? " " + f.order : "";
    h += "<th" + (k ? ' class="sort' + sorted + (cls ? " " + cls : "") + '" data-sort="' + k + '"' : cls ? ' class="' + cls + '"' : "") +
         ">" + esc(name) + "</th>";
  });
  h += "</tr></thead><tbody>";
  page.devices.forEach((d) => {
    const bad = d.state === "failed" || d.state === "rolled-back";
    // while a deployment runs for it, the same figure as the deployment page (its ACKs)
    const prog = d.target_progress !== undefined ? d.target_progress : d.progress;
    const busy = UPDATING.has(d.state) && d.image_size;
    h += '<tr class="click" data-dev="' + esc(d.id) + '">' +
      '<td><a class="mono" href="#/devices/' + encodeURIComponent(d.id) + '">' + esc(d.id) + "</a></td>" +
      "<td>" + badge(d.state) + (bad && d.reason !== "none" ? ' <span class="reason" title="' + esc(explain(d.reason)) + '">' +
        esc(d.reason) + "</span>" : "") + protoNote(d) + "</td>" +
      "<td>" + onlineCell(d.online) + "</td>" +
      "<td>" + (busy ? bar([[prog, "info"]], d.image_size, Math.floor(pct(prog, d.image_size)) + "%") :
        '<span class="muted">-</span>') + "</td>" +
      '<td class="mono">' + esc(d.version) + "</td>" +
      '<td class="wide-only">' + esc(d.chip) + "</td>" +
      '<td class="wide-only">' + esc(d.slot) + "</td>" +
      '<td class="wide-only" title="' + esc(fmtDate(d.last_seen)) + '">' + esc(fmtAgo(d.last_seen)) + "</td></tr>";
  });
  h += "</tbody></table>";
  if (!page.devices.length) {
    h = '<div class="empty">' + (page.total ? "No devices on this page." :
      invFilter() || f.q ? "No device matches." : "No devices yet; a device appears once it connects to the broker.") + "</div>";
  }
  const inv = $("#inv");
  inv.innerHTML = h;
  applyBars(inv);
  $$("th[data-sort]", inv).forEach((th) => th.addEventListener("click", () => {
    const k = th.dataset.sort;
    if (f.sort === k) f.order = f.order === "asc" ? "desc" : "asc";
    else { f.sort = k; f.order = k === "last_seen" || k === "progress" ? "desc" : "asc"; }
    refresh(true);
  }));
  $$("tr[data-dev]", inv).forEach((tr) => tr.addEventListener("click", (e) => {
    if (e.target.tagName !== "A") location.hash = "#/devices/" + encodeURIComponent(tr.dataset.dev);
  }));
  const from = page.total ? f.offset + 1 : 0, to = Math.min(page.total, f.offset + page.devices.length);
  $("#pg-text").textContent = fmtNum(from) + "–" + fmtNum(to) + " of " + fmtNum(page.total);
  $("#pg-prev").disabled = f.offset === 0;
  $("#pg-next").disabled = to >= page.total;
}

/* ---- device page ---- */

function deviceView(id) {
  const enc = encodeURIComponent(id);
  return {
    html: '<h1>Device <span class="mono">' + esc(id) + '</span> <small id="dv-sub"></small></h1>' +
      '<div class="grid2"><section><h2>Identity and image</h2><dl class="kv" id="dv-id"></dl></section>' +
      '<section id="dv-health-s"><h2>Health</h2><dl class="kv" id="dv-health"></dl></section></div>' +
      '<section class="spaced"><h2>Telemetry <small>last hour</small></h2><div id="dv-tel" class="grid2 pad"></div></section>' +
      '<div class="grid2"><section><h2>Commands and diagnostics</h2><div class="form">' +
      '<button id="cmd-diag">Run diagnostics</button><button class="quiet" id="cmd-reboot">Reboot</button></div>' +
      '<div class="msg" id="cmd-msg"></div><div class="scroll" id="dv-cmds"></div></section>' +
      '<section><h2>Update history</h2><div class="scroll" id="dv-hist"></div></section></div>',
    mount() {
      const send = async (name) => {
        const m = $("#cmd-msg");
        try {
          const c = await post("api/v1/devices/" + enc + "/commands", { name });
          m.className = "msg ok";
          m.textContent = "Command " + c.id + " (" + name + ") " + c.state + "; its reply shows below when the device answers.";
          refresh(true);
        } catch (e) { m.className = "msg err"; m.textContent = e.message; }
      };
      $("#cmd-diag").addEventListener("click", () => send("diagnostics"));
      $("#cmd-reboot").addEventListener("click", () => { if (confirm("Reboot " + id + "?")) send("reboot"); });
      this.plotted = {};
    },
    async refresh() {
      const [d, hist, cmds, tel] = await Promise.all([
        api("api/v1/devices/" + enc), api("api/v1/devices/" + enc + "/deployments"),
        api("api/v1/devices/" + enc + "/commands"), api("api/v1/devices/" + enc + "/telemetry")]);
      if (!$("#dv-id")) return;
      $("#dv-sub").innerHTML = badge(d.state) + " " + onlineCell(d.online);
      const kv = (rows) => rows.map(([k, v]) => "<dt>" + esc(k) + "</dt><dd>" + v + "</dd>").join("");
      $("#dv-id").innerHTML = kv([
        ["protocol", d.protocol && d.protocol !== "mqota" ? "legacy " + esc(d.protocol) + " (its adapter in mqotad updates it)" : "mqota (the agent)"],
        ["chip", esc(d.chip)], ["project", esc(d.project)],
        ["running version", '<span class="mono">' + esc(d.version) + "</span>" +
          (d.running_release ? ' (<a href="#/releases">release ' + esc(d.running_release) + "</a>)" : "")],
        ["slot", "ota_" + esc(d.slot)], ["ESP-IDF", esc(d.idf_version)],
        ["update state", badge(d.state) + (d.reason && d.reason !== "none" ? ' <span class="reason">' + esc(d.reason) + "</span> " +
          esc(explain(d.reason)) : "")],
        ["boot count", esc(d.boot_count)],
        ["first seen", esc(fmtDate(d.first_seen))], ["last seen", esc(fmtDate(d.last_seen)) + " (" + esc(fmtAgo(d.last_seen)) + ")"],
        ["groups", esc((d.groups || []).join(", ") || "-")], ["tags", esc((d.tags || []).join(", ") || "-")],
        ["takes commands", d.takes_commands ? "yes" : "no" + (d.command_key ? "" : " (no command key)")],
      ]);
      // a legacy device (docs/LEGACY.md) takes no mqota commands: mqotad would refuse them (409)
      const legacy = d.protocol && d.protocol !== "mqota";
      $("#cmd-diag").disabled = $("#cmd-reboot").disabled = !!legacy;
      if (legacy && !$("#cmd-msg").textContent) {
        $("#cmd-msg").className = "msg";
        $("#cmd-msg").textContent = "A legacy " + d.protocol + " device takes no mqota commands; update it to an image with the agent first.";
      }
      const h = d.health;
      if (h && typeof h === "object") {
        $("#dv-health-s").hidden = false;
        $("#dv-health").innerHTML = kv(Object.keys(h).map((k) => [k.replace(/_/g, " "), fmtHealth(k, h[k])]));
      } else {
        $("#dv-health-s").hidden = true;
      }
      renderHistory(hist.targets);
      await renderCommands(cmds);
      await renderTelemetry(this, enc, tel);
    },
  };
}

/* One field of a device's health (h-health's "health" object) as HTML: known units named. */
function fmtHealth(k, v) {
  if (v === null || v === undefined || v === "") return '<span class="muted">-</span>';
  if (typeof v === "object") return '<span class="mono">' + esc(JSON.stringify(v)) + "</span>";
  if (k === "at") return esc(fmtDate(v)) + " (" + esc(fmtAgo(v)) + ")";
  if (k === "uptime_s") return esc(fmtDur(v));
  if (/heap/.test(k)) return v === 0 ? '<span class="muted">unknown</span>' : esc(fmtSize(v)); /* §16: 0 = unknown */
  if (k === "rssi") return esc(v) + " dBm";
  if (k === "reset_reason") return /panic|wdt|brownout|lockup/.test(v) ? '<span class="reason">' + esc(v) + "</span>" : esc(v);
  return esc(v);
}

function renderHistory(ts) {
  const el = $("#dv-hist");
  if (!ts.length) { el.innerHTML = '<div class="empty">Never part of a deployment.</div>'; return; }
  let h = "<table><thead><tr><th>Deployment</th><th>Release</th><th>Result</th><th>When</th><th>Took</th></tr></thead><tbody>";
  ts.forEach((t) => {
    h += '<tr><td><a href="#/deployments/' + t.deployment + '">#' + t.deployment + "</a></td><td>" + esc(t.release) + "</td>" +
      "<td>" + badge(t.state) + (t.reason && t.reason !== "none" ? ' <span class="reason" title="' + esc(explain(t.reason)) + '">' +
        esc(t.reason) + "</span>" : "") + "</td><td>" + esc(fmtDate(t.started_at)) + "</td><td>" +
      (t.started_at && t.finished_at ? esc(fmtDur(t.finished_at - t.started_at)) : "-") + "</td></tr>";
  });
  el.innerHTML = h + "</tbody></table>";
}

async function renderCommands(cmds) {
  const el = $("#dv-cmds");
  if (!cmds.length) { el.innerHTML = '<div class="empty">No commands sent to this device.</div>'; return; }
  const recent = cmds.slice(0, 10);
  const replies = await Promise.all(recent.map((c) => c.state === "done" || c.state === "failed" ?
    api("api/v1/commands/" + c.id).catch(() => null) : null));
  let h = "<table><thead><tr><th>#</th><th>Command</th><th>State</th><th>Reply</th><th>Sent</th></tr></thead><tbody>";
  recent.forEach((c, i) => {
    const r = replies[i];
    h += "<tr><td>" + esc(c.id) + "</td><td>" + esc(c.name) + " " + esc(c.args) + "</td><td>" + badge(c.state) +
      (c.result && c.result !== "ok" ? ' <span class="reason">' + esc(c.result) + "</span>" : "") +
      '</td><td class="wrap mono">' + (r && r.reply ? esc(r.reply).replace(/\n/g, "<br>") : "") + "</td><td>" + esc(fmtAgo(c.created_at)) + "</td></tr>";
  });
  el.innerHTML = h + "</tbody></table>";
}

/* One uPlot chart per telemetry series (at most 6), last hour; updated in place. */
async function renderTelemetry(view, enc, tel) {
  const el = $("#dv-tel");
  const names = (tel.names || []).slice(0, 6);
  if (!names.length) {
    el.innerHTML = '<div class="empty">This device sends no telemetry (mqota_agent_publish_telemetry()).</div>';
    return;
  }
  const series = await Promise.all(names.map((n) =>
    api("api/v1/devices/" + enc + "/telemetry?name=" + encodeURIComponent(n.name) + "&since=1h&limit=3600")));
  if (!$("#dv-tel")) return;
  series.forEach((s, i) => {
    const name = names[i].name;
    const data = [s.points.map((p) => p.ts / 1000), s.points.map((p) => p.value)];
    const chart = view.plotted[name];
    if (chart) { chart.setData(data); return; }
    if (!Object.keys(view.plotted).length) el.innerHTML = "";
    const box = document.createElement("div");
    box.className = "plot";
    box.dataset.series = name;
    box.innerHTML = "<h3>" + esc(name) + "</h3>";
    el.appendChild(box);
    const width = Math.max(260, Math.min(box.clientWidth || 600, 640) - 8);
    const style = getComputedStyle(document.body);
    const u = new uPlot({
      width, height: 180,
      series: [{}, { label: name, stroke: style.getPropertyValue("--accent").trim() || "#2f6fed", width: 1.5 }],
      axes: [{ stroke: style.color }, { stroke: style.color }],
      legend: { show: true },
    }, data, box);
    view.plotted[name] = u;
    S.charts.push(u);
  });
}

/* ---- releases: upload, list ---- */

function releasesView() {
  return {
    html: '<section><h2>Upload a release</h2>' +
      '<div class="drop" id="drop">Drop an ESP32 app image (<code>.bin</code>) or a file bundle here, or ' +
      '<label class="btn">choose a file<input type="file" id="file" accept=".bin,application/octet-stream" hidden></label></div>' +
      '<div class="form"><label>Version (optional)<input id="up-version" size="16" placeholder="from the image"></label>' +
      '<label class="grow">Notes (optional)<input id="up-notes" size="30"></label></div>' +
      '<div class="msg" id="up-msg" role="status"></div></section>' +
      '<section><h2>Releases <small id="rel-count"></small></h2><div class="scroll" id="releases"></div></section>',
    mount() {
      const drop = $("#drop");
      ["dragenter", "dragover"].forEach((t) => drop.addEventListener(t, (e) => { e.preventDefault(); drop.classList.add("over"); }));
      ["dragleave", "drop"].forEach((t) => drop.addEventListener(t, () => drop.classList.remove("over")));
      drop.addEventListener("drop", (e) => { e.preventDefault(); if (e.dataTransfer.files[0]) upload(e.dataTransfer.files[0]); });
      $("#file").addEventListener("change", (e) => { if (e.target.files[0]) upload(e.target.files[0]); });
    },
    async refresh() {
      const rs = await api("api/v1/releases");
      const el = $("#releases");
      if (!el) return;
      $("#rel-count").textContent = rs.length ? String(rs.length) : "";
      if (!rs.length) { el.innerHTML = '<div class="empty">No releases yet: drop an image above.</div>'; return; }
      let h = "<table><thead><tr><th>ID</th><th>Kind</th><th>Version</th><th>Project</th><th>Chip</th><th class=\"num\">Size</th>" +
              '<th class="wide-only">SHA-256</th><th>Signed</th><th class="wide-only">Created</th><th></th></tr></thead><tbody>';
      rs.forEach((r) => {
        /* a file release (docs/PROTOCOL.md §17): its file count; its paths on hover */
        const kind = r.kind === "files" ? "files (" + r.file_count + ")" : "image";
        h += "<tr><td>" + esc(r.id) + '</td><td data-release-kind="' + esc(r.kind) + '">' + esc(kind) +
          '</td><td class="mono">' + esc(r.version) + "</td><td>" + esc(r.project) + "</td><td>" +
          esc(r.chip) + '</td><td class="num">' + esc(fmtSize(r.size)) + '</td><td class="mono wide-only" title="' + esc(r.sha256) + '">' +
          esc(String(r.sha256).slice(0, 12)) + "</td><td>" + (r.signed ? "yes" : "no") + '</td><td class="wide-only">' +
          esc(fmtDate(r.created_at)) + '</td><td><a class="btn" href="#/new?release=' + r.id + '">Deploy…</a></td></tr>';
      });
      el.innerHTML = h + "</tbody></table>";
    },
  };
}

async function upload(file) {
  const msg = $("#up-msg");
  msg.className = "msg";
  msg.textContent = "Uploading " + file.name + " (" + fmtSize(file.size) + ")…";
  const q = new URLSearchParams();
  const v = $("#up-version").value.trim(), n = $("#up-notes").value.trim();
  if (v) q.set("version", v);
  if (n) q.set("notes", n);
  try {
    const r = await api("api/v1/releases" + (q.toString() ? "?" + q : ""), {
      method: "POST", headers: { "Content-Type": "application/octet-stream" }, body: file });
    msg.className = "msg ok";
    msg.innerHTML = "Release " + esc(r.id) + " (" + esc(r.version) + ", " + esc(r.chip) + ") added. " +
      '<a href="#/new?release=' + r.id + '">Deploy it…</a>';
    refresh(true);
  } catch (e) {
    msg.className = "msg err";
    msg.textContent = "mqotad refused " + file.name + ": " + e.message;
  }
}

/* ---- a new deployment or rollout ---- */

function newView(releaseId) {
  return {
    html: '<h1>Deploy a release</h1><section><h2>What and where</h2><form id="new-form">' +
      '<div class="form"><label>Release<select id="n-release" required></select></label>' +
      '<label>Kind<select id="n-kind"><option value="rollout">Rollout: canary, then waves</option>' +
      '<option value="deployment">Deployment: every device at once</option></select></label>' +
      '<label class="wide">Target filter (empty: every device of the release\'s chip)<input id="n-filter" ' +
      'placeholder="group=lab online=true"></label></div>' +
      '<div class="msg preview" id="n-preview" role="status"></div>' +
      '<div class="form" id="n-plan"><label>Canary<input id="n-canary" size="5" value="1"></label>' +
      '<label>Waves<input id="n-waves" size="14" value="50%,100%"></label>' +
      '<label>Success %<input id="n-success" size="4" value="100"></label>' +
      '<label>Error %<input id="n-error" size="4" value="0"></label>' +
      '<label>Deadline (s)<input id="n-deadline" size="6" value="3600"></label>' +
      '<label>On error<select id="n-onerror"><option>pause</option><option>abort</option></select></label>' +
      '<label>Approval<select id="n-approval"><option value="false">automatic</option><option value="true">each wave</option></select></label></div>' +
      '<div class="form"><button type="submit" id="n-go">Start</button></div>' +
      '<div class="msg err" id="n-msg" role="alert"></div></form></section>',
    mount() {
      let t = 0;
      const preview = async () => {
        const f = $("#n-filter").value.trim(), out = $("#n-preview");
        const q = new URLSearchParams({ count: 1 });
        if (f) q.set("filter", f);
        try {
          const rel = this.releases && this.releases.find((r) => String(r.id) === $("#n-release").value);
          const all = await api("api/v1/devices?" + q);
          let text = (f ? "The filter matches " : "There are ") + fmtNum(all.total) + " device" + (all.total === 1 ? "" : "s") +
            " (" + fmtNum(all.online) + " online)";
          if (rel && rel.kind === "files") {
            text += "; only those that take file releases (MicroPython) get release " + rel.id;
          } else if (rel) {
            q.set("filter", (f ? f + " " : "") + "chip=" + rel.chip);
            const same = await api("api/v1/devices?" + q);
            text += ", " + fmtNum(same.total) + " of them " + rel.chip + " like release " + rel.id;
          }
          out.className = "msg preview";
          out.textContent = text + ".";
        } catch (e) {
          out.className = "msg err";
          out.textContent = e.message;
        }
      };
      this.preview = preview;
      $("#n-filter").addEventListener("input", () => { clearTimeout(t); t = setTimeout(preview, 250); });
      $("#n-release").addEventListener("change", preview);
      $("#n-kind").addEventListener("change", () => { $("#n-plan").hidden = $("#n-kind").value !== "rollout"; });
      $("#new-form").addEventListener("submit", async (ev) => {
        ev.preventDefault();
        const msg = $("#n-msg");
        msg.textContent = "";
        const release = Number($("#n-release").value), filter = $("#n-filter").value.trim();
        const stage = (s) => /^\d+$/.test(s) ? Number(s) : s;
        try {
          if ($("#n-kind").value === "deployment") {
            const d = await post("api/v1/deployments", filter ? { release, filter } : { release, all: true });
            location.hash = "#/deployments/" + d.id;
          } else {
            const body = { release, filter: filter || "online=true|false", // every device
              canary: stage($("#n-canary").value.trim()),
              waves: $("#n-waves").value.split(",").map((s) => stage(s.trim())).filter((s) => s !== ""),
              success_percent: Number($("#n-success").value), error_percent: Number($("#n-error").value),
              deadline_s: Number($("#n-deadline").value), on_error: $("#n-onerror").value,
              approval: $("#n-approval").value === "true" };
            const r = await post("api/v1/rollouts", body);
            location.hash = "#/rollouts/" + r.id;
          }
        } catch (e) { if (e.status) msg.textContent = "mqotad refused it: " + e.message; }
      });
    },
    async refresh() {
      if (this.releases) return this.preview();
      const rs = await api("api/v1/releases");
      this.releases = rs;
      const sel = $("#n-release");
      if (!sel) return;
      sel.innerHTML = rs.map((r) => '<option value="' + r.id + '"' + (String(r.id) === releaseId ? " selected" : "") + ">" +
        esc(r.id + ": " + r.version + " (" + (r.kind === "files" ? r.file_count + " files" : r.chip) + ", " +
            fmtSize(r.size) + ")") + "</option>").join("");
      if (!rs.length) $("#n-msg").textContent = "No release yet: upload one on the Releases page first.";
      return this.preview();
    },
  };
}

/* ---- deployments ---- */

/* A deployment's outcome in words and colour: finished with every target succeeded is green,
 * finished with failures amber (some succeeded) or red (none did), running blue. */
function outcome(d) {
  const done = d.succeeded + d.failed + d.superseded + (d.cancelled || 0);
  if (d.state === "running") return ["running", "s-info", done + " of " + d.total + " done"];
  if (d.state === "cancelled") return ["cancelled", "s-violet", d.succeeded + " of " + d.total + " succeeded, " + d.cancelled + " cancelled"];
  if (d.failed === 0) return ["succeeded", "s-ok", d.succeeded + " of " + d.total + " succeeded"];
  if (d.succeeded === 0) return ["failed", "s-bad", "0 of " + d.total + " succeeded"];
  return ["partly failed", "s-warn", d.succeeded + " of " + d.total + " succeeded, " + d.failed + " failed"];
}
function outcomeBadge(d) {
  const [word, cls, text] = outcome(d);
  return '<span class="badge ' + cls + '">' + esc(word) + "</span> <span class=\"muted\">" + esc(text) + "</span>";
}

/* Bytes done of a deployment: finished targets count a whole image, the others their progress. */
function bytesDone(d) {
  if (!d.targets) return (d.succeeded + d.failed + d.superseded + (d.cancelled || 0)) * d.image_size;
  return d.targets.reduce((a, t) => a + (t.state === "pending" || t.state === "active" ? Math.min(t.progress, d.image_size) : d.image_size), 0);
}
function depBar(d, big) {
  const size = d.image_size || 1, total = d.total * size;
  let active = 0;
  if (d.targets) d.targets.forEach((t) => { if (t.state === "active" || t.state === "pending") active += Math.min(t.progress, size); });
  const done = d.targets ? bytesDone(d) : (d.succeeded + d.failed + d.superseded + (d.cancelled || 0)) * size;
  // a running deployment whose bytes are all in still waits for devices to verify and confirm
  const p = Math.floor(pct(done, total));
  return bar([[d.succeeded * size, "ok"], [d.failed * size, "bad"], [d.superseded * size, "warn"], [(d.cancelled || 0) * size, "violet"], [active, "info"]], total,
             (d.state === "running" ? Math.min(p, 99) : p) + "%", big);
}

function deploymentsView() {
  return {
    html: '<section><h2>Deployments <small id="deps-count"></small></h2><div class="scroll" id="deps"></div></section>',
    async refresh() {
      const ds = await api("api/v1/deployments");
      const el = $("#deps");
      if (!el) return;
      $("#deps-count").textContent = ds.length ? String(ds.length) : "";
      if (!ds.length) { el.innerHTML = '<div class="empty">No deployments yet: upload a release and deploy it.</div>'; return; }
      let h = "<table><thead><tr><th>ID</th><th>Release</th><th>Outcome</th><th>Done</th><th class=\"num wide-only\">Devices</th>" +
              '<th class="wide-only">Created</th></tr></thead><tbody>';
      ds.slice(0, 200).forEach((d) => {
        h += '<tr class="click" data-dep="' + d.id + '"><td><a href="#/deployments/' + d.id + '">#' + d.id + "</a></td><td>" +
          esc(d.release) + ' <span class="mono muted">' + esc(d.release_version) + "</span></td><td>" + outcomeBadge(d) + "</td><td>" +
          depBar(d) + '</td><td class="num wide-only">' + esc(d.total) + '</td><td class="wide-only">' + esc(fmtDate(d.created_at)) + "</td></tr>";
      });
      el.innerHTML = h + "</tbody></table>";
      applyBars(el);
      $$("tr[data-dep]", el).forEach((tr) => tr.addEventListener("click", () => { location.hash = "#/deployments/" + tr.dataset.dep; }));
    },
  };
}

/* Throughput over the last 30 s of samples the page took, and the finish it implies. */
function throughput(id, done, total) {
  const now = Date.now(), h = (S.rate[id] = S.rate[id] || []);
  h.push([now, done]);
  while (h.length > 2 && now - h[0][0] > 30000) h.shift();
  if (h.length < 2 || h[h.length - 1][0] - h[0][0] < 1500) return null;
  const bps = (h[h.length - 1][1] - h[0][1]) * 1000 / (h[h.length - 1][0] - h[0][0]);
  return { bps, eta: bps > 0 ? (total - done) / bps : Infinity };
}

function deploymentView(id) {
  return {
    html: '<h1>Deployment #' + esc(id) + ' <small id="dep-sub"></small></h1>' +
      '<section><h2>Progress <small>byte-weighted: every device\'s share of its image</small></h2><div class="pad" id="dep-head"></div></section>' +
      '<section id="dep-why-s" hidden><h2>Why devices failed</h2><div id="dep-why"></div></section>' +
      '<section><h2>Devices <small id="dep-n"></small></h2><div class="scroll" id="dep-targets"></div></section>' +
      '<section id="dep-act-s" hidden><h2>Cancel</h2><div class="form"><button class="quiet" id="dep-cancel">Cancel deployment</button>' +
      '<span class="muted">withdraws the offers; devices already rebooting into the release finish (ROLLOUTS.md "Cancelling")</span></div>' +
      '<div class="msg" id="dep-msg"></div></section>',
    mount() {
      $("#dep-cancel").addEventListener("click", async () => {
        if (!confirm("Cancel deployment #" + id + "? Its offers are withdrawn; this is final.")) return;
        const m = $("#dep-msg");
        try {
          const d = await post("api/v1/deployments/" + id + "/cancel");
          m.className = "msg ok";
          m.textContent = "Deployment #" + id + " cancelled" + (d.kept ? "; " + d.kept + " device" + (d.kept === 1 ? "" : "s") +
            " already rebooting into the release finish" : "") + ".";
          refresh(true);
        } catch (e) { m.className = "msg err"; m.textContent = e.message; }
      });
    },
    async refresh() {
      const d = await api("api/v1/deployments/" + id);
      if (!$("#dep-head")) return;
      renderDeployment(d);
    },
  };
}

function renderDeployment(d) {
  const size = d.image_size, total = d.total * size, done = bytesDone(d);
  $("#dep-act-s").hidden = d.state !== "running" && !$("#dep-msg").textContent;
  $("#dep-cancel").disabled = d.state !== "running";
  $("#dep-sub").innerHTML = "release " + esc(d.release) + ' <span class="mono">' + esc(d.release_version) + "</span> · " +
    esc(fmtSize(size)) + " · " + outcomeBadge(d);
  const tp = d.state === "running" ? throughput(d.id, done, total) : null;
  const took = d.targets.reduce((a, t) => Math.max(a, t.finished_at || 0), 0) - d.created_at;
  let h = depBar(d, true) +
    '<div class="legend"><span class="s-ok lg">' + esc(d.succeeded) + " succeeded</span>" +
    '<span class="s-bad lg">' + esc(d.failed) + " failed</span>" +
    '<span class="s-info lg">' + esc(d.active) + " active</span>" +
    '<span class="s-idle lg">' + esc(d.pending) + " pending</span>" +
    (d.ready ? '<span class="s-warn lg">' + esc(d.ready) + " ready (held until activated)</span>" : "") +
    (d.superseded ? '<span class="s-warn lg">' + esc(d.superseded) + " superseded</span>" : "") +
    (d.cancelled ? '<span class="s-violet lg">' + esc(d.cancelled) + " cancelled (offers withdrawn)</span>" : "") + "</div>" +
    '<dl class="kv">' +
    "<dt>done</dt><dd>" + esc(fmtSize(done)) + " of " + esc(fmtSize(total)) +
    ' <span class="muted">(a finished device counts its whole image)</span></dd>' +
    "<dt>sent on the multicast stream</dt><dd>" + esc(fmtSize(d.stream_bytes_sent)) + "</dd>" +
    "<dt>sent to single devices</dt><dd>" + esc(fmtSize(d.unicast_bytes_sent)) + "</dd>" +
    (d.compressed ? "<dt>compressed</dt><dd>" + esc(d.compressed) + " target" + (d.compressed === 1 ? "" : "s") +
      " got the image compressed: " + esc(fmtSize(d.bytes_saved)) + ' saved on the wire <span class="muted">(against the whole image to each)</span></dd>' : "") +
    "<dt>" + (d.state === "running" ? "throughput" : "took") + "</dt><dd>" +
    (d.state === "running" ? (done >= total ? "all bytes received; waiting for the devices to verify, reboot and confirm" :
      tp ? esc(fmtSize(tp.bps)) + "/s · about " + (isFinite(tp.eta) ? esc(fmtDur(tp.eta)) + " to go" : "no progress lately") :
      "measuring…") : took > 0 ? esc(fmtDur(took)) : "-") + "</dd>" +
    "<dt>started</dt><dd>" + esc(fmtDate(d.created_at)) + "</dd></dl>";
  const head = $("#dep-head");
  head.innerHTML = h;
  applyBars(head);
  // failures, grouped by reason, in words
  const byReason = {};
  d.targets.filter((t) => t.state === "failed").forEach((t) => { (byReason[t.reason] = byReason[t.reason] || []).push(t.device); });
  const keys = Object.keys(byReason);
  $("#dep-why-s").hidden = !keys.length;
  $("#dep-why").innerHTML = keys.map((r) => {
    const e = REASONS[r] || ["mqotad reported '" + r + "'.", "See the device's page."];
    const devs = byReason[r];
    return '<div class="why"><b>' + esc(r) + "</b> on " + devs.length + " device" + (devs.length === 1 ? "" : "s") + " (" +
      devs.slice(0, 8).map((x) => '<a class="mono" href="#/devices/' + encodeURIComponent(x) + '">' + esc(x) + "</a>").join(", ") +
      (devs.length > 8 ? ", …" : "") + "): " + esc(e[0]) + " <i>What to do:</i> " + esc(e[1]) + "</div>";
  }).join("");
  // targets: failed and active first
  const order = { failed: 0, active: 1, ready: 2, pending: 2, superseded: 3, cancelled: 3, succeeded: 4 };
  const ts = d.targets.slice().sort((a, b) => (order[a.state] - order[b.state]) || (a.device < b.device ? -1 : 1));
  const shown = ts.slice(0, 500);
  $("#dep-n").textContent = ts.length > shown.length ? "first " + shown.length + " of " + ts.length + ", failed and active first" : "";
  let t = "<table><thead><tr><th>Device</th><th>Target</th><th>Progress</th><th>Reason</th><th class=\"num wide-only\">Unicast sent</th>" +
          '<th class="wide-only">Took</th></tr></thead><tbody>';
  shown.forEach((x) => {
    const p = x.state === "succeeded" ? size : Math.min(x.progress, size);
    const cls = x.state === "succeeded" ? "ok" : x.state === "failed" ? "bad" : "info";
    t += '<tr><td><a class="mono" href="#/devices/' + encodeURIComponent(x.device) + '">' + esc(x.device) + "</a></td><td>" +
      badge(x.state) + ((x.state === "pending" || x.state === "active") && x.online === false ? ' <span class="muted">device offline</span>' : "") +
      "</td><td>" + bar([[p, cls]], size, Math.floor(pct(p, size)) + "%") + "</td><td>" +
      (x.reason && x.reason !== "none" ? '<span class="reason" title="' + esc(explain(x.reason)) + '">' + esc(x.reason) + "</span>" : "") +
      '</td><td class="num wide-only">' + esc(fmtSize(x.bytes_sent)) +
      (x.encoding && x.encoding !== "none" ? ' <span class="muted">(' + esc(x.encoding) + ", " + esc(fmtSize(x.bytes_saved)) + " saved)</span>" : "") +
      (x.bytes_sent < Math.min(p, x.wire_size || p) && x.state !== "pending" ? ' <span class="muted">(the rest from the stream)</span>' : "") +
      '</td><td class="wide-only">' + (x.started_at && x.finished_at ? esc(fmtDur(x.finished_at - x.started_at)) : "-") + "</td></tr>";
  });
  const el = $("#dep-targets");
  el.innerHTML = t + "</tbody></table>";
  applyBars(el);
}

/* ---- rollouts ---- */

function rolloutsView() {
  return {
    html: '<section><h2>Rollouts <small id="ro-count"></small></h2><div class="scroll" id="ros"></div></section>',
    async refresh() {
      const rs = await api("api/v1/rollouts");
      const el = $("#ros");
      if (!el) return;
      $("#ro-count").textContent = rs.length ? String(rs.length) : "";
      if (!rs.length) { el.innerHTML = '<div class="empty">No rollouts yet: deploy a release as a rollout from the Releases page.</div>'; return; }
      let h = "<table><thead><tr><th>ID</th><th>Release</th><th>State</th><th>Progress</th><th class=\"wide-only\">Filter</th>" +
              '<th class="wide-only">Created</th></tr></thead><tbody>';
      rs.forEach((r) => {
        const c = rolloutCounts(r);
        h += '<tr class="click" data-ro="' + r.id + '"><td><a href="#/rollouts/' + r.id + '">#' + r.id + "</a></td><td>" + esc(r.release) +
          "</td><td>" + badge(r.state) + "</td><td>" + bar([[c.confirmed, "ok"], [c.failed, "bad"], [c.active, "info"]], r.devices,
            c.confirmed + "/" + r.devices) + '</td><td class="mono wide-only">' + esc(r.filter) + '</td><td class="wide-only">' +
          esc(fmtDate(r.created_at)) + "</td></tr>";
      });
      el.innerHTML = h + "</tbody></table>";
      applyBars(el);
      $$("tr[data-ro]", el).forEach((tr) => tr.addEventListener("click", () => { location.hash = "#/rollouts/" + tr.dataset.ro; }));
    },
  };
}

function rolloutCounts(r) {
  const c = { confirmed: 0, failed: 0, active: 0, pending: 0, cancelled: 0 };
  (r.waves || []).forEach((w) => { c.confirmed += w.confirmed; c.failed += w.failed; c.active += w.active; c.pending += w.pending; c.cancelled += w.cancelled || 0; });
  return c;
}

const ACTIONS = [["pause", ["running"]], ["resume", ["paused"]], ["approve", ["awaiting-approval"]],
                 ["retry", ["paused"]], ["abort", ["running", "paused", "awaiting-approval"]]];

function rolloutView(id) {
  return {
    html: '<h1>Rollout #' + esc(id) + ' <small id="ro-sub"></small></h1>' +
      '<section><h2>Control</h2><div class="form actions" id="ro-actions">' +
      ACTIONS.map(([a]) => '<button type="button" class="' + (a === "abort" ? "danger" : a === "pause" ? "quiet" : "") +
        '" data-act="' + a + '" id="ro-' + a + '" disabled>' + a[0].toUpperCase() + a.slice(1) + "</button>").join("") +
      '</div><div class="msg" id="ro-msg" role="status"></div></section>' +
      '<section><h2>Waves <small>devices confirmed of each wave</small></h2><div class="pad" id="ro-overall"></div><div class="scroll" id="ro-waves"></div></section>' +
      '<section><h2>Current wave\'s deployment</h2><div class="pad" id="ro-dep"></div></section>' +
      '<section><h2>History</h2><ul class="events pad" id="ro-events"></ul></section>',
    mount() {
      $$("#ro-actions button").forEach((b) => b.addEventListener("click", async () => {
        const a = b.dataset.act, msg = $("#ro-msg");
        if (a === "abort" && !confirm("Abort rollout " + id + "? This is final.")) return;
        try {
          const r = await post("api/v1/rollouts/" + id + "/" + a);
          msg.className = "msg ok";
          msg.textContent = a + ": done; the rollout is " + r.state + ".";
          renderRollout(r);
        } catch (e) { msg.className = "msg err"; msg.textContent = e.message; }
      }));
    },
    async refresh() {
      const r = await api("api/v1/rollouts/" + id);
      if (!$("#ro-waves")) return;
      renderRollout(r);
      const w = r.waves[r.current_wave];
      if (w && w.deployment) {
        const d = await api("api/v1/deployments/" + w.deployment);
        const el = $("#ro-dep");
        if (!el) return;
        const total = d.total * d.image_size, done = bytesDone(d);
        const tp = d.state === "running" ? throughput(d.id, done, total) : null;
        el.innerHTML = '<a href="#/deployments/' + d.id + '">Deployment #' + d.id + "</a> (" + esc(w.name) + ") " + outcomeBadge(d) +
          depBar(d, true) + '<div class="legend">' + esc(fmtSize(done)) + " of " + esc(fmtSize(total)) + " · stream " +
          esc(fmtSize(d.stream_bytes_sent)) + " · unicast " + esc(fmtSize(d.unicast_bytes_sent)) +
          (done >= total && d.state === "running" ? " · all bytes received, devices confirming" :
           tp ? " · " + esc(fmtSize(tp.bps)) + "/s" + (isFinite(tp.eta) ? ", about " + esc(fmtDur(tp.eta)) + " to go" : "") : "") + "</div>";
        applyBars(el);
      }
    },
  };
}

function renderRollout(r) {
  $("#ro-sub").innerHTML = "release " + esc(r.release) + " · " + badge(r.state) + ' · <span class="mono">' + esc(r.filter || "all") +
    "</span> · " + esc(r.devices) + " devices";
  ACTIONS.forEach(([a, states]) => {
    let ok = states.includes(r.state);
    if (a === "retry") ok = ok && r.waves[r.current_wave] && r.waves[r.current_wave].state === "failed";
    $("#ro-" + a).disabled = !ok;
  });
  const c = rolloutCounts(r);
  const ov = $("#ro-overall");
  ov.innerHTML = bar([[c.confirmed, "ok"], [c.failed, "bad"], [c.active, "info"]], r.devices,
    Math.floor(pct(c.confirmed, r.devices)) + "%", true) +
    '<div class="legend"><span class="s-ok">' + c.confirmed + ' confirmed</span><span class="s-bad">' + c.failed +
    ' failed</span><span class="s-info">' + c.active + ' active</span>' +
    (c.cancelled ? '<span class="s-violet">' + c.cancelled + " cancelled</span>" : "") + '<span class="s-idle">' +
    (r.devices - c.confirmed - c.failed - c.active - c.cancelled) + " waiting</span></div>";
  applyBars(ov);
  let h = "<table><thead><tr><th>Wave</th><th>State</th><th>Progress</th><th class=\"num\">Devices</th><th class=\"wide-only\">Deployment</th></tr></thead><tbody>";
  r.waves.forEach((w) => {
    h += "<tr><td>" + esc(w.name) + (w.index === r.current_wave ? " <b>(current)</b>" : "") + "</td><td>" + badge(w.state) + "</td><td>" +
      bar([[w.confirmed, "ok"], [w.failed, "bad"], [w.active, "info"]], w.size, w.confirmed + "/" + w.size) + '</td><td class="num">' +
      esc(w.size) + '</td><td class="wide-only">' + (w.deployment ? '<a href="#/deployments/' + w.deployment + '">#' + w.deployment + "</a>" : "-") + "</td></tr>";
  });
  const el = $("#ro-waves");
  el.innerHTML = h + "</tbody></table>";
  applyBars(el);
  $("#ro-events").innerHTML = (r.events || []).slice().reverse().map((e) =>
    "<li><span class=\"muted\">" + esc(fmtDate(e.at)) + "</span> " + esc(e.message) + "</li>").join("");
}

/* ---- start ---- */

async function start() {
  let health;
  try {
    const r = await fetch("api/v1/health", { cache: "no-store" });
    health = await r.json();
  } catch (e) {
    setReachable(false);
    $("#main").innerHTML = '<div class="empty">mqotad cannot be reached.</div>';
    const wait = setInterval(async () => {
      try { if ((await fetch("api/v1/health", { cache: "no-store" })).ok) { clearInterval(wait); location.reload(); } } catch (e2) { /* down */ }
    }, RETRY_MS);
    return;
  }
  S.tokenRequired = health.token_required !== false;
  if (S.tokenRequired && !S.token) { showSignIn(""); return; }
  $("#nav").hidden = false;
  $("#signout").hidden = !S.tokenRequired;
  setLive("connecting…", "");
  route();
  openEvents();
}

$("#signout").addEventListener("click", () => signOut("Signed out."));
start();
