// The option chain of NIFTY or BANKNIFTY: CE on the left, PE on the right (as NSE shows it),
// with greeks, IV and OI per strike, and PCR and max pain from the same chain.

import { api, background, field, h, number } from "./core.js";

const UNDERLYINGS = ["NIFTY", "BANKNIFTY"];
const SIDE = [
  ["OI", (o) => number(o.oi, 0)],
  ["Chg OI", (o) => number(o.change_in_oi, 0)],
  ["Volume", (o) => number(o.volume, 0)],
  ["IV %", (o) => number(o.iv, 2)],
  ["Delta", (o) => number(o.delta, 4)],
  ["Gamma", (o) => number(o.gamma, 6)],
  ["Theta", (o) => number(o.theta, 2)],
  ["Vega", (o) => number(o.vega, 2)],
  ["LTP", (o) => h("a", { href: `#/trade/${encodeURIComponent(o.tradingsymbol)}`, "aria-label": `Trade ${o.tradingsymbol} at ${o.ltp}` }, number(o.ltp, 2))],
];
const REFRESH_MS = 5000;

export function chainScreen(container) {
  const underlying = field("Underlying", { name: "symbol", options: UNDERLYINGS.map((s) => [s, s]) }, "select");
  const expiry = field("Expiry", { name: "expiry", options: [] }, "select");
  const controls = h("form", { "aria-label": "Chain", class: "row", novalidate: true }, underlying, expiry);
  const summary = h("dl", { class: "figures", "aria-label": "Chain summary" });
  const holder = h("div", {});
  container.append(controls, h("section", { class: "panel", "aria-label": "Summary" }, summary), holder);
  const symbolSelect = underlying.querySelector("select");
  const expirySelect = expiry.querySelector("select");
  let generation = 0;

  async function loadExpiries() {
    const answer = await api(`/api/expiries/${symbolSelect.value}`);
    expirySelect.replaceChildren(...answer.data.map((day) => h("option", { value: day }, day)));
    await loadChain();
  }

  async function loadChain() {
    const mine = ++generation;
    const query = `symbol=${symbolSelect.value}&expiry=${expirySelect.value}`;
    const [chain, dashboard] = await Promise.all([
      api(`/api/option_chain?${query}`),
      api(`/api/dashboard_data?${query}`),
    ]);
    if (mine !== generation) return;
    draw(chain.data, dashboard.data);
  }

  function draw(chain, metrics) {
    const figure = (label, value) => h("div", {}, h("dt", {}, label), h("dd", {}, value));
    summary.replaceChildren(
      figure("Spot", number(chain.spot_price, 2)),
      figure("ATM strike", number(chain.atm_strike, 0)),
      figure("PCR (OI)", number(metrics.pcr_oi, 2)),
      figure("PCR (volume)", number(metrics.pcr_volume, 2)),
      figure("Max pain", number(metrics.max_pain, 0)),
      figure("ATM IV", `${number(metrics.atm_iv, 2)}%`),
      figure("Days to expiry", number(chain.days_to_expiry, 2)),
      figure("Lot size", number(chain.lot_size, 0)),
    );
    const heading = h("thead", {},
      h("tr", {},
        h("th", { scope: "colgroup", colspan: SIDE.length }, "CE (calls)"),
        h("th", { scope: "col", rowspan: 2 }, "Strike"),
        h("th", { scope: "colgroup", colspan: SIDE.length }, "PE (puts)")),
      h("tr", {},
        ...SIDE.map(([name]) => h("th", { scope: "col" }, `CE ${name}`)),
        ...[...SIDE].reverse().map(([name]) => h("th", { scope: "col" }, `PE ${name}`))));
    const rows = chain.strikes.map((row) =>
      h("tr", { class: row.strike === chain.atm_strike ? "atm" : "" },
        ...SIDE.map(([, value]) => h("td", {}, row.CE ? value(row.CE) : "—")),
        h("th", { scope: "row", class: "strike" }, number(row.strike, 0)),
        ...[...SIDE].reverse().map(([, value]) => h("td", {}, row.PE ? value(row.PE) : "—"))));
    holder.replaceChildren(h("div", { class: "scroll panel" },
      h("table", {},
        h("caption", {}, `${chain.symbol} option chain, expiry ${chain.expiry}`),
        heading,
        h("tbody", {}, rows))));
  }

  symbolSelect.addEventListener("change", () => background(loadExpiries()));
  expirySelect.addEventListener("change", () => background(loadChain()));
  background(loadExpiries());
  const timer = setInterval(() => {
    if (expirySelect.value) background(loadChain());
  }, REFRESH_MS);
  return () => clearInterval(timer);
}
