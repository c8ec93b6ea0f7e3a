// SPDX-License-Identifier: Apache-2.0
// bench/console-10k's browser half: times the console (MQOTA_BENCH_MODE=new) or the old
// dashboard (old) on an mqotad holding MQOTA_BENCH_DEVICES devices, in headless chromium.
// Prints "CASE MEDIAN_MS" lines. Any JavaScript console error stops it (exit 1).
import { createRequire } from "node:module";
import { join } from "node:path";

const URL = process.env.MQOTA_URL, TOKEN = process.env.MQOTA_TOKEN;
const N = Number(process.env.MQOTA_BENCH_DEVICES), R = Number(process.env.MQOTA_BENCH_REPEAT);
const MODE = process.env.MQOTA_BENCH_MODE;
const require = createRequire(join(process.env.MQOTA_DASHBOARD, "package.json"));
const { chromium } = require("playwright-core");

const median = (xs) => xs.slice().sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];
const browser = await chromium.launch({
  executablePath: process.env.MQOTA_CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
});
const errors = [];

// A signed-in page: the token in localStorage before the page's script runs.
async function signedInPage() {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  await ctx.addInitScript((t) => localStorage.setItem("mqotaToken", t), TOKEN);
  const page = await ctx.newPage();
  page.on("console", (m) => { if (m.type() === "error") errors.push(m.text()); });
  page.on("pageerror", (e) => errors.push(e.message));
  page.on("dialog", (d) => { errors.push("dialog: " + d.message()); d.dismiss(); });
  return [ctx, page];
}
const rows = "#inv tr[data-dev]";
const firstId = (page) => page.evaluate((sel) => document.querySelector(sel).dataset.dev, rows);

try {
  const load = [];
  for (let i = 0; i < R; i++) {
    const [ctx, page] = await signedInPage();
    const t0 = Date.now();
    if (MODE === "old") {
      await page.goto(URL + "/");
      await page.waitForFunction((n) => document.querySelectorAll("#devices tbody tr").length === n, N, { timeout: 180000 });
    } else {
      await page.goto(URL + "/#/devices");
      await page.waitForFunction((sel) => document.querySelectorAll(sel).length === 50, rows, { timeout: 60000 });
    }
    load.push(Date.now() - t0);
    await ctx.close();
  }
  console.log("load " + median(load));
  if (MODE === "new") {
    const [ctx, page] = await signedInPage();
    await page.goto(URL + "/#/devices");
    await page.waitForFunction((sel) => document.querySelectorAll(sel).length === 50, rows);
    const redraw = [];
    for (let i = 0; i < R; i++) {
      redraw.push(await page.evaluate(async () => {
        const t0 = performance.now();
        await S.view.refresh(); // what a change event runs
        return performance.now() - t0;
      }));
    }
    console.log("redraw " + median(redraw).toFixed(1));
    const sort = [];
    for (let i = 0; i < R; i++) {
      const before = await firstId(page);
      const t0 = Date.now();
      await page.click('th[data-sort="id"]');
      await page.waitForFunction(([sel, b]) => document.querySelector(sel).dataset.dev !== b, [rows, before]);
      sort.push(Date.now() - t0);
    }
    console.log("sort " + median(sort));
    const search = [];
    for (let i = 0; i < R; i++) {
      const id = "vdev-" + String(1 + Math.floor(Math.random() * N)).padStart(5, "0");
      const t0 = Date.now();
      await page.fill("#f-q", id);
      await page.waitForFunction(([sel, id]) => {
        const r = document.querySelectorAll(sel);
        return r.length === 1 && r[0].dataset.dev === id;
      }, [rows, id]);
      search.push(Date.now() - t0);
      await page.fill("#f-q", "");
      await page.waitForFunction((sel) => document.querySelectorAll(sel).length === 50, rows);
    }
    console.log("search " + median(search) + " (includes the box's 250 ms debounce)");
    await ctx.close();
    const dep = [];
    for (let i = 0; i < R; i++) {
      const [ctx2, page2] = await signedInPage();
      const t0 = Date.now();
      await page2.goto(URL + "/#/deployments/1");
      await page2.waitForFunction(() => document.querySelectorAll("#dep-targets tbody tr").length === 500 &&
                                        document.querySelector("#dep-why .why"), null, { timeout: 60000 });
      dep.push(Date.now() - t0);
      await ctx2.close();
    }
    console.log("deployment " + median(dep));
  }
  // the old dashboard's own errors (its 401 before it read the token) are not this bench's
  if (MODE === "new" && errors.length) throw new Error("JavaScript console errors: " + errors.join(" | "));
} catch (e) {
  console.log("FAIL: " + e.message);
  await browser.close();
  process.exit(1);
}
await browser.close();
