// tests/integration/browser/check_dashboard.mjs - opens riffle's dashboard
// in headless Chromium and watches its plots move.
//
// Usage: node check_dashboard.mjs URL SCREENSHOT_PREFIX
// Loads URL once, waits for the first plotted points, records what every
// plot shows, then waits (bounded) for the same page, without a reload, to
// show more points, a new newest value and a newer model version. Prints
// one JSON line with both readings; test_dashboard.sh asserts on it.
import { chromium } from "playwright-core";

const [url, shots] = process.argv.slice(2);
const WAIT_MS = 90000; // an upper bound on a slow machine, not a target
const PLOTS = ["plot-q1", "plot-q2", "plot-rate", "plot-lag"];

async function reading(page) {
  return page.evaluate((ids) => {
    const out = { version: document.getElementById("version").textContent,
                  events: document.getElementById("events").textContent,
                  state: document.getElementById("state").textContent,
                  plots: {} };
    for (const id of ids) {
      const svg = document.getElementById(id);
      const line = svg.querySelector("polyline");
      out.plots[id] = { points: Number(svg.dataset.points),
                        last: svg.dataset.last,
                        polyline: line ? line.getAttribute("points") : "" };
    }
    return out;
  }, PLOTS);
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
});
try {
  const page = await browser.newPage({ viewport: { width: 1300, height: 900 } });
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  await page.goto(url);
  await page.waitForFunction(
    () => Number(document.getElementById("plot-q1").dataset.points) >= 2 &&
          Number(document.getElementById("version").textContent) > 0,
    null, { timeout: WAIT_MS });
  const first = await reading(page);
  await page.screenshot({ path: `${shots}-1.png` });
  await page.waitForFunction(
    (before) => {
      const svg = document.getElementById("plot-q1");
      return Number(svg.dataset.points) >= before.points + 3 &&
             svg.dataset.last !== before.last &&
             document.getElementById("version").textContent !== before.version;
    },
    { points: first.plots["plot-q1"].points, last: first.plots["plot-q1"].last,
      version: first.version },
    { timeout: WAIT_MS });
  const second = await reading(page);
  await page.screenshot({ path: `${shots}-2.png` });
  console.log(JSON.stringify({ first, second, errors }));
} finally {
  await browser.close();
}
