// Time to the first page load in Chromium: navigation start to the load event, and to
// hydration (the WASM bundle marks <body data-hydrated>), for the overview with demo data.
// Run after `cargo leptos build --release`:
//   GATEHOUSE_BIN=target/release/gatehouse node end2end/bench/first-load.mjs
import { launchChromium, startPortal, waitForHydration } from '../support/portal.mjs';

const runs = Number(process.env.RUNS ?? 15);
const portal = await startPortal();
const browser = await launchChromium();
const loads = [];
const hydrations = [];
try {
  for (let i = 0; i < runs; i += 1) {
    // A new context each time: an empty cache, as for a first visit.
    const context = await browser.newContext();
    const page = await context.newPage();
    const started = performance.now();
    await page.goto(portal.url, { waitUntil: 'load' });
    const loaded = performance.now();
    await waitForHydration(page);
    const hydrated = performance.now();
    loads.push(loaded - started);
    hydrations.push(hydrated - started);
    await context.close();
  }
} finally {
  await browser.close();
  await portal.stop();
}
const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
};
console.log(`first page load over ${runs} cold contexts: load event median ${median(loads).toFixed(0)} ms, hydrated median ${median(hydrations).toFixed(0)} ms`);
