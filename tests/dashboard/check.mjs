// Opens the OrleansCrates dashboard in Debian's headless Chromium (playwright-core, never a downloaded browser),
// waits for the charts, checks that they drew data points, that no console error or page error happened, and saves
// a screenshot. Usage: node check.mjs URL SCREENSHOT_PATH [CHROMIUM_PATH]. Prints one JSON line; exit 0 only if all held.
import { chromium } from "playwright-core";

const [url, screenshot, executablePath = "/usr/bin/chromium"] = process.argv.slice(2);
if (!url || !screenshot) {
  console.error("usage: node check.mjs URL SCREENSHOT_PATH [CHROMIUM_PATH]");
  process.exit(2);
}

const problems = [];
const consoleErrors = [];
const browser = await chromium.launch({
  executablePath,
  headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run", "--disable-quic", "--disable-dev-shm-usage"],
});
let result = {};
try {
  const page = await browser.newPage({ viewport: { width: 1360, height: 1000 } });
  page.on("console", (message) => { if (message.type() === "error") consoleErrors.push(message.text()); });
  page.on("pageerror", (error) => consoleErrors.push("page error: " + error.message));
  page.on("requestfailed", (request) => consoleErrors.push("request failed: " + request.url() + " " + (request.failure()?.errorText ?? "")));

  const response = await page.goto(url, { waitUntil: "load", timeout: 30000 });
  if (!response || response.status() !== 200) problems.push("the page answered " + (response ? response.status() : "nothing"));
  await page.waitForSelector("body[data-loaded='true']", { timeout: 30000 });

  const charts = await page.$$eval("svg[data-chart]", (svgs) => svgs.map((s) => ({
    chart: s.getAttribute("data-chart"),
    points: Number(s.getAttribute("data-points")),
    empty: s.getAttribute("data-empty"),
    marks: s.querySelectorAll("[data-value]").length,
    values: Array.from(s.querySelectorAll("[data-value]")).map((e) => Number(e.getAttribute("data-value"))),
  })));
  for (const name of ["requests", "bytes", "hit-ratio"]) {
    const chart = charts.find((c) => c.chart === name);
    if (!chart) problems.push("no chart " + name);
    else if (chart.empty !== "false" || chart.marks === 0) problems.push("chart " + name + " has no data points");
  }

  const text = (id) => page.$eval("#" + id, (e) => e.textContent.trim());
  result = {
    charts,
    storage: await text("storage-state"),
    requests: await text("total-requests"),
    hitRatio: await text("total-hit"),
    approvals: await text("approvals"),
    topCrates: await page.$$eval("#top-crates tbody tr", (rows) => rows.map((r) => r.textContent.trim())),
    toolchains: await page.$$eval("#toolchains tbody tr", (rows) => rows.map((r) => r.textContent.trim())),
    toolchainSummary: await text("toolchain-summary"),
    errors: await page.$$eval("#errors tbody tr", (rows) => rows.length),
    mirrors: await page.$$eval("#mirrors tbody tr", (rows) => rows.map((r) => r.textContent.trim())),
    upstreams: await page.$$eval("#upstreams tbody tr", (rows) => rows.length),
    silos: await page.$$eval("#silos tbody tr", (rows) => rows.map((r) => r.textContent.trim())),
    clusterSummary: await text("cluster-summary"),
    cargoConfig: await text("cargo-config"),
  };
  if (result.storage !== "ready") problems.push("storage shows " + result.storage);
  if (!result.cargoConfig.includes('registry = "sparse+')) problems.push("no cargo snippet");
  await page.screenshot({ path: screenshot, fullPage: true });
} catch (error) {
  problems.push(String(error));
} finally {
  await browser.close();
}

if (consoleErrors.length > 0) problems.push("console errors: " + consoleErrors.join(" | "));
console.log(JSON.stringify({ ok: problems.length === 0, problems, consoleErrors, screenshot, ...result }));
process.exit(problems.length === 0 ? 0 : 1);
