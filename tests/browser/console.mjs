// SPDX-License-Identifier: Apache-2.0
// The console's browser test (run by test_console.sh, which starts mqotad and the fleets and
// passes them in the environment). Each step prints "ok N STEP" and leaves SHOTS/NN-step.png;
// the first failure prints "FAIL: ..." and exits 1. Any JavaScript console error or uncaught
// exception fails the step it happens in, except the network errors a step expects (a refused
// token is a 401 that Chromium logs; stopping mqotad refuses connections).
import { createRequire } from "node:module";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { basename, join } from "node:path";

const env = (k) => {
  if (!process.env[k]) { console.log("FAIL: " + k + " is not set"); process.exit(2); }
  return process.env[k];
};
const URL = env("MQOTA_URL"), TOKEN = env("MQOTA_TOKEN"), SHOTS = env("MQOTA_SHOTS");
const IMAGE = env("MQOTA_IMAGE"), ARDUINO = env("MQOTA_ARDUINO_IMAGE"), NEWVER = env("MQOTA_NEWVER");
const MQOTAD_PID = Number(env("MQOTAD_PID"));
const require = createRequire(join(env("MQOTA_DASHBOARD"), "package.json"));
const { chromium } = require("playwright-core");

let step = 0, allowed = [], errors = [];
const fail = (msg) => { throw new Error(msg); };

// GET an API path with the token, as the CLI would: the test's own view of the truth.
async function api(path, opts) {
  const r = await fetch(URL + path, Object.assign({ headers: { Authorization: "Bearer " + TOKEN } }, opts || {}));
  if (!r.ok) fail(path + " answered " + r.status + ": " + (await r.text()));
  return r.json();
}

// Poll fn (bounded): resolves to its first truthy value, or fails with what after ms.
async function until(what, ms, fn) {
  const end = Date.now() + ms;
  let last;
  while (Date.now() < end) {
    try { last = await fn(); if (last) return last; } catch (e) { last = e.message; }
    await new Promise((r) => setTimeout(r, 200));
  }
  fail(what + " (not within " + ms / 1000 + " s; last: " + JSON.stringify(last) + ")");
}

async function run(page, name, fn, allow) {
  step++;
  allowed = allow || [];
  errors = [];
  await fn();
  const file = join(SHOTS, String(step).padStart(2, "0") + "-" + name + ".png");
  await page.screenshot({ path: file, fullPage: true });
  if (errors.length) fail("JavaScript console errors in step " + name + ": " + errors.join(" | "));
  console.log("ok " + step + " " + name + " (" + basename(file) + ")");
}

// Drop a file on the upload zone the way a desktop drag does: a DataTransfer holding a File.
async function drop(page, path, type) {
  const b64 = readFileSync(path).toString("base64");
  await page.evaluate(([b64, name, type]) => {
    const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    const dt = new DataTransfer();
    dt.items.add(new File([bytes], name, { type }));
    const zone = document.querySelector("#drop");
    zone.dispatchEvent(new DragEvent("dragover", { dataTransfer: dt, bubbles: true, cancelable: true }));
    zone.dispatchEvent(new DragEvent("drop", { dataTransfer: dt, bubbles: true, cancelable: true }));
  }, [b64, basename(path), type]);
}

const browser = await chromium.launch({
  executablePath: process.env.MQOTA_CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
});
let code = 0, page = null;
try {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  page = await ctx.newPage();
  page.on("console", (m) => {
    if (m.type() !== "error") return;
    const text = m.text();
    if (!allowed.some((re) => re.test(text))) errors.push(text);
  });
  page.on("pageerror", (e) => errors.push("uncaught: " + e.message));
  // a dialog is an error, except the one confirm() a step expects (expectDialog, then accepted)
  let expectDialog = null;
  page.on("dialog", (d) => {
    if (expectDialog && expectDialog.test(d.message())) { expectDialog = null; d.accept(); return; }
    errors.push("a dialog opened: " + d.message());
    d.dismiss();
  });

  await run(page, "sign-in-wrong-token", async () => {
    await page.goto(URL + "/");
    await page.waitForSelector("#token");
    await page.fill("#token", "not-the-token");
    await page.click("#signin-btn");
    await page.waitForFunction(() => /refused this token/.test(document.querySelector("#signin-msg").textContent));
    if (await page.isVisible("#nav a")) fail("the navigation shows although the token was refused");
  }, [/status of 401/]);

  await run(page, "sign-in", async () => {
    await page.fill("#token", TOKEN);
    await page.click("#signin-btn");
    await page.waitForFunction(() => document.querySelectorAll("#inv tr[data-dev]").length === 7, null, { timeout: 15000 });
    await page.waitForFunction(() => /^live/.test(document.querySelector("#live").textContent), null, { timeout: 10000 });
    const text = await page.textContent("#pg-text");
    if (!/1–7 of 7/.test(text)) fail("the pager says '" + text + "', not 1–7 of 7");
  });

  await run(page, "upload-refused-and-dropped", async () => {
    await page.click('nav a[data-nav="releases"]');
    await page.waitForSelector("#drop");
    // an Arduino build carries the core's version, not the application's: mqotad refuses it
    // without ?version= and the page shows mqotad's sentence
    await drop(page, ARDUINO, "application/octet-stream");
    await page.waitForFunction(() => /refused .*\.bin: this is an Arduino build: .*give the release version/.test(
      document.querySelector("#up-msg").textContent));
    await drop(page, IMAGE, "application/octet-stream");
    await page.waitForFunction((v) => new RegExp("Release \\d+ \\(" + v + ", ").test(document.querySelector("#up-msg").textContent),
      NEWVER, { timeout: 20000 });
    const rels = await api("/api/v1/releases");
    if (!rels.some((r) => r.version === NEWVER)) fail("mqotad has no release " + NEWVER + " after the drop");
    // a file release (docs/PROTOCOL.md §17.1's bundle of one main.py) shows its kind and count
    const data = Buffer.from("VERSION = 2\n"), path = Buffer.from("main.py"), entry = Buffer.alloc(38);
    entry.writeUInt32LE(data.length, 0);
    createHash("sha256").update(data).digest().copy(entry, 4);
    entry[36] = path.length;
    const head = Buffer.alloc(16);
    head.write("MQFB", 0);
    head[4] = 1;
    head.writeUInt16LE(1, 6);
    head.writeUInt32LE(16 + 38 + path.length + data.length, 8);
    const fr = await api("/api/v1/releases?version=app-2", { method: "POST",
      headers: { Authorization: "Bearer " + TOKEN, "Content-Type": "application/octet-stream" },
      body: Buffer.concat([head, entry, path, data]) });
    if (fr.kind !== "files" || fr.files[0].path !== "main.py") fail("the bundle is not a file release: " + JSON.stringify(fr));
    await page.waitForFunction(() => { const c = document.querySelector('[data-release-kind="files"]');
      return c && c.textContent === "files (1)"; }, null, { timeout: 10000 });
  }, [/status of 400/]);

  let rolloutId;
  await run(page, "rollout-created-and-paused", async () => {
    await page.click("#up-msg a");
    await page.waitForSelector("#n-filter");
    await page.fill("#n-filter", "bogus=1");
    await page.waitForFunction(() => document.querySelector("#n-preview").classList.contains("err") &&
                                     /bogus/.test(document.querySelector("#n-preview").textContent));
    await page.fill("#n-filter", "online=true");
    await page.waitForFunction(() => /matches 7 devices \(7 online\), 7 of them ESP32/.test(document.querySelector("#n-preview").textContent));
    await page.selectOption("#n-kind", "rollout");
    await page.fill("#n-canary", "1");
    await page.fill("#n-waves", "100%");
    await page.fill("#n-success", "50");
    await page.fill("#n-error", "50");
    await page.click("#n-go");
    await page.waitForURL(/#\/rollouts\/\d+$/);
    rolloutId = Number(page.url().match(/(\d+)$/)[1]);
    await page.waitForSelector("#ro-pause:not([disabled])");
    await page.click("#ro-pause");
    await page.waitForFunction(() => /paused/.test(document.querySelector("#ro-sub").textContent));
    const r = await api("/api/v1/rollouts/" + rolloutId);
    if (r.state !== "paused") fail("rollout " + rolloutId + " is " + r.state + " after Pause, not paused");
  }, [/status of 400/]);

  await run(page, "live-progress-without-reload", async () => {
    await page.evaluate(() => { window.__notReloaded = true; });
    await page.waitForSelector("#ro-resume:not([disabled])");
    await page.click("#ro-resume");
    // the canary confirms, then wave 1 starts: its deployment's bar must move on the page alone
    const seen = new Set();
    await until("the current wave's progress to move on the page while the wave downloads", 90000, async () => {
      const t = await page.evaluate(() => {
        const p = document.querySelector("#ro-dep .pct");
        const w = document.querySelector("#ro-dep a");
        return p && w ? w.textContent + " " + p.textContent : "";
      });
      if (/Deployment/.test(t) && !/ 100%$/.test(t) && !/ 0%$/.test(t)) seen.add(t);
      return seen.size >= 2;
    });
    if (!(await page.evaluate(() => window.__notReloaded))) fail("the page reloaded");
    await until("the rollout to finish", 120000, async () => (await api("/api/v1/rollouts/" + rolloutId)).state === "finished");
    await page.waitForFunction(() => /finished/.test(document.querySelector("#ro-sub").textContent), null, { timeout: 10000 });
    console.log("   progress seen: " + [...seen].join(", "));
  });

  await run(page, "failed-device-explained", async () => {
    const r = await api("/api/v1/rollouts/" + rolloutId);
    const dep = r.waves[r.waves.length - 1].deployment;
    await until("deployment " + dep + " to finish", 120000, async () => (await api("/api/v1/deployments/" + dep)).state === "finished");
    await page.goto(URL + "/#/deployments/" + dep);
    await page.waitForSelector("#dep-why .why", { timeout: 10000 });
    const why = await page.textContent("#dep-why");
    if (!/self-test on 1 device \(zbad-0001\)/.test(why) || !/self-test failed/.test(why) || !/What to do/.test(why))
      fail("the failure is not explained: " + why);
    const sub = await page.textContent("#dep-sub");
    if (!/partly failed/.test(sub) || !/5 of 6 succeeded, 1 failed/.test(sub)) fail("the outcome reads '" + sub + "'");
    const green = await page.evaluate(() => getComputedStyle(document.querySelector(".track.big .seg.ok")).backgroundColor);
    const red = await page.evaluate(() => getComputedStyle(document.querySelector(".track.big .seg.bad")).backgroundColor);
    if (green === red) fail("succeeded and failed share one colour (" + green + ")");
  });

  await run(page, "device-page-plot", async () => {
    await page.goto(URL + "/#/devices/vdev-0002");
    await page.waitForSelector('.plot[data-series="temperature"] canvas', { timeout: 20000 });
    await page.waitForFunction(() => /confirmed/.test(document.querySelector("#dv-id").textContent));
    const hist = await page.textContent("#dv-hist");
    if (!/succeeded/.test(hist)) fail("the update history does not show the succeeded update: " + hist);
  });

  await run(page, "layout-390px", async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    await page.goto(URL + "/#/devices");
    await page.waitForSelector("#inv tr[data-dev]");
    const m = await page.evaluate(() => {
      const box = (el) => el.getBoundingClientRect();
      const th = [...document.querySelectorAll("#inv th")].filter((t) => t.offsetParent !== null).map((t) => [t.textContent, box(t).right]);
      return { header: box(document.querySelector("header")).height, th, width: document.documentElement.scrollWidth };
    });
    if (m.header > 110) fail("the header takes " + m.header + " px at 390 px");
    for (const col of ["State", "Progress", "Online"]) {
      const c = m.th.find((t) => t[0] === col);
      if (!c) fail("the " + col + " column is gone at 390 px: " + JSON.stringify(m.th));
      if (c[1] > 390) fail("the " + col + " column ends at " + c[1] + " px, off screen");
    }
    if (m.width > 400) fail("the page is " + m.width + " px wide at 390 px");
  });

  await run(page, "legacy-protocol", async () => {
    // a legacy device (docs/LEGACY.md, protocol md5; nothing runs as it): the inventory and its
    // page name the protocol, a native device's row does not
    await api("/api/v1/legacy-devices", { method: "POST", headers: { Authorization: "Bearer " + TOKEN,
      "Content-Type": "application/json" }, body: JSON.stringify({ id: "pump-7", protocol: "md5", chip: "esp32",
      version: "2.3", params: { chip: "esp32-a1b2c3" } }) });
    await page.goto(URL + "/#/devices");
    await page.waitForFunction(() => /legacy md5/.test((document.querySelector('#inv tr[data-dev="pump-7"]') || {}).textContent),
      null, { timeout: 10000 });
    if (/legacy/.test(await page.textContent('#inv tr[data-dev="vdev-0001"]'))) fail("a native device's row names a legacy protocol");
    await page.goto(URL + "/#/devices/pump-7");
    await page.waitForFunction(() => /protocol\s*legacy md5/.test(document.querySelector("#dv-id").textContent), null, { timeout: 10000 });
    // no command buttons for it (mqotad refuses commands to a legacy device), a sentence instead
    const cmd = await page.evaluate(() => ({ diag: document.querySelector("#cmd-diag").disabled,
      reboot: document.querySelector("#cmd-reboot").disabled, msg: document.querySelector("#cmd-msg").textContent }));
    if (!cmd.diag || !cmd.reboot || !/takes no mqota commands/.test(cmd.msg)) fail("a legacy device's page offers commands: " + JSON.stringify(cmd));
  });

  await run(page, "cancel-deployment", async () => {
    // a deployment to pump-7, the legacy device no board answers for: running until cancelled
    const rel = (await api("/api/v1/releases")).find((r) => r.chip_id === 0 && r.kind !== "files");
    if (!rel) fail("no ESP32 release to deploy");
    const dep = await api("/api/v1/deployments", { method: "POST", headers: { Authorization: "Bearer " + TOKEN,
      "Content-Type": "application/json" }, body: JSON.stringify({ release: rel.id, devices: ["pump-7"] }) });
    await page.goto(URL + "/#/deployments/" + dep.id);
    await page.waitForSelector("#dep-cancel:not([disabled])", { state: "visible", timeout: 10000 });
    expectDialog = /^Cancel deployment #/;
    await page.click("#dep-cancel");
    await page.waitForFunction((id) => document.querySelector("#dep-msg").textContent === "Deployment #" + id + " cancelled.",
      dep.id, { timeout: 10000 });
    if (expectDialog) fail("Cancel deployment asked for no confirmation");
    const d = await api("/api/v1/deployments/" + dep.id);
    if (d.state !== "cancelled" || d.targets[0].state !== "cancelled") fail("not cancelled: " + JSON.stringify(d.targets));
    await page.waitForSelector("#dep-cancel[disabled]", { timeout: 10000 });
  });

  await run(page, "outage", async () => {
    await page.setViewportSize({ width: 1280, height: 900 });
    await page.goto(URL + "/#/devices");
    // the live mark can come before the inventory's first fetch has answered: wait for a drawn
    // online row, or the kill below races that fetch and leaves nothing to grey out
    await page.waitForFunction(() => /^live/.test(document.querySelector("#live").textContent) &&
      document.querySelector("#inv tr[data-dev] .online.s-ok"), null, { timeout: 10000 });
    process.kill(MQOTAD_PID, "SIGTERM");
    await page.waitForFunction(() => document.querySelector("#live").textContent === "mqotad unreachable", null, { timeout: 20000 });
    const s = await page.evaluate(() => ({
      stale: document.body.classList.contains("stale"),
      banner: !document.querySelector("#banner").hidden && document.querySelector("#banner").textContent,
      dot: getComputedStyle(document.querySelector(".online.s-ok"), "::before").backgroundColor,
      marks: [...document.querySelectorAll("#inv .online")].map((e) => e.textContent),
      ok: getComputedStyle(document.body).getPropertyValue("--ok").trim(),
    }));
    if (!s.stale || !/cannot be reached/.test(s.banner)) fail("no outage state: " + JSON.stringify(s));
    if (s.dot === "rgb(28, 138, 76)") fail("devices still show a green online mark while mqotad is down");
    if (!s.marks.length || s.marks.some((m) => m !== "unknown")) fail("devices still read online or offline: " + s.marks);
  }, [/ERR_CONNECTION_REFUSED|ERR_EMPTY_RESPONSE|ERR_CONNECTION_RESET|ERR_INCOMPLETE_CHUNKED_ENCODING/]);
} catch (e) {
  console.log("FAIL: step " + (step) + ": " + e.message);
  if (page) await page.screenshot({ path: join(SHOTS, String(step).padStart(2, "0") + "-FAILED.png"), fullPage: true }).catch(() => {});
  code = 1;
} finally {
  await browser.close();
}
process.exit(code);
