// The candlestick chart with volume (TradingView's lightweight-charts, vendored unmodified),
// loaded from the API's history and carried forward by the live ticks.

import {
  CandlestickSeries, HistogramSeries, createChart,
} from "../vendor/lightweight-charts/lightweight-charts.standalone.production.mjs";
import { api, background, field, h, number } from "./core.js";
import * as live from "./live.js";

const INTERVALS = { "1m": 60, "5m": 300, "15m": 900, "1h": 3600, "1d": 86400 };
const UP = "#0a7a33";
const DOWN = "#c62828";

export function candleChart() {
  const holder = h("div", { class: "chart", role: "img" });
  const title = h("h3", { id: "chart-title" }, "Chart");
  const last = h("p", { class: "hint", "aria-live": "off" });
  const picker = field("Interval", { name: "interval", options: Object.keys(INTERVALS).map((k) => [k, k]) }, "select");
  const element = h("section", { class: "panel", "aria-labelledby": "chart-title" },
    h("div", { class: "row" }, title, picker), holder, last,
    h("p", { class: "hint" }, "Times in UTC. Chart by ",
      h("a", { href: "https://www.tradingview.com/", rel: "noopener noreferrer" }, "TradingView")));
  const chart = createChart(holder, {
    autoSize: true,
    layout: { attributionLogo: false, background: { color: "#ffffff" }, textColor: "#1a1d21" },
    timeScale: { timeVisible: true, secondsVisible: false },
    grid: { vertLines: { color: "#eef0f3" }, horzLines: { color: "#eef0f3" } },
  });
  const candles = chart.addSeries(CandlestickSeries, {
    upColor: UP, downColor: DOWN, borderVisible: false, wickUpColor: UP, wickDownColor: DOWN,
  });
  const volume = chart.addSeries(HistogramSeries, { priceFormat: { type: "volume" }, priceScaleId: "" });
  volume.priceScale().applyOptions({ scaleMargins: { top: 0.8, bottom: 0 } });
  const select = picker.querySelector("select");

  let symbol = null;
  let bar = null; // the bar forming now
  let lastVolume = null;
  let unwatch = () => {};
  let generation = 0;

  async function load() {
    const mine = ++generation;
    const interval = select.value;
    const answer = await api(`/api/candles/historical/${encodeURIComponent(symbol)}?interval=${interval}`);
    if (mine !== generation) return;
    const bars = answer.candles.map((c) => ({
      time: Date.parse(c.timestamp) / 1000, open: c.open, high: c.high, low: c.low, close: c.close, volume: c.volume,
    }));
    candles.setData(bars);
    volume.setData(bars.map((b) => ({ time: b.time, value: b.volume, color: b.close >= b.open ? `${UP}66` : `${DOWN}66` })));
    bar = bars.at(-1) ?? null;
    lastVolume = null;
    chart.timeScale().scrollToRealTime();
    describe();
  }

  function describe() {
    if (!bar) return;
    holder.setAttribute("aria-label", `Candlestick chart of ${symbol}, ${select.value} bars with volume; last ${bar.close}`);
    last.textContent = `${symbol} last ${number(bar.close, 2)} · O ${number(bar.open, 2)} H ${number(bar.high, 2)} L ${number(bar.low, 2)}`;
  }

  function onTick(tick) {
    if (tick.symbol !== symbol || !bar) return;
    const seconds = INTERVALS[select.value];
    const at = Math.floor(Date.parse(tick.timestamp) / 1000 / seconds) * seconds;
    if (at < bar.time) return;
    const traded = lastVolume === null || tick.volume < lastVolume ? 0 : tick.volume - lastVolume;
    lastVolume = tick.volume;
    if (at > bar.time) bar = { time: at, open: tick.ltp, high: tick.ltp, low: tick.ltp, close: tick.ltp, volume: 0 };
    bar.high = Math.max(bar.high, tick.ltp);
    bar.low = Math.min(bar.low, tick.ltp);
    bar.close = tick.ltp;
    bar.volume += traded;
    candles.update({ time: bar.time, open: bar.open, high: bar.high, low: bar.low, close: bar.close });
    volume.update({ time: bar.time, value: bar.volume, color: bar.close >= bar.open ? `${UP}66` : `${DOWN}66` });
    describe();
  }

  select.addEventListener("change", () => background(load()));
  const stopTicks = live.on("tick", onTick);
  return {
    element,
    show(name) {
      symbol = name;
      title.textContent = `Chart: ${name}`;
      unwatch();
      unwatch = live.watch([name]);
      background(load());
    },
    stop() {
      generation += 1; // a history still loading is dropped
      bar = null;
      stopTicks();
      unwatch();
      chart.remove();
    },
  };
}
