// Trade: the watchlist, the chart, the order ticket, funds, positions and orders, all live.

import {
  api, background, clearErrors, field, h, money, number, percent, session,
  signClass, signed, signedMoney,
} from "./core.js";
import { book } from "./book.js";
import { candleChart } from "./chart.js";
import * as live from "./live.js";
import { instruments } from "./market.js";
import { orderTicket } from "./ticket.js";

const DEFAULT_WATCHLIST = ["RELIANCE", "BTC-USDT"];
const FUNDS_REFRESH_MS = 5000;

function watchlistKey() {
  return `tradepit.watchlist.${session.user.id}`;
}

function loadWatchlist() {
  const stored = JSON.parse(localStorage.getItem(watchlistKey()) ?? "null");
  return Array.isArray(stored) && stored.length ? stored : [...DEFAULT_WATCHLIST];
}

/** Funds per currency: cash, available, blocked, equity and P&L, from the portfolio. */
function funds() {
  const box = h("section", { class: "panel", "aria-labelledby": "funds-title" });
  let pending = null;
  async function load() {
    const [portfolio, wallets] = await Promise.all([
      api("/api/paper-trading/portfolio"),
      api("/api/paper-trading/wallet"),
    ]);
    const blocks = portfolio.currencies
      .filter((c) => c.currency === "INR" || Number(c.equity) !== 0 || Number(c.cash) !== 0)
      .map((c) => {
        const wallet = wallets.find((w) => w.currency === c.currency) ?? {};
        const pnl = Number(c.realized_pnl) + Number(c.unrealized_pnl);
        const figure = (label, value) => h("div", {}, h("dt", {}, label), h("dd", {}, value));
        return h("dl", { class: "figures", "aria-label": `${c.currency} funds` },
          figure(`Cash (${c.currency})`, money(c.cash, c.currency)),
          figure("Available", money(wallet.available, c.currency)),
          figure("Blocked", money(wallet.blocked, c.currency)),
          figure("Equity", money(c.equity, c.currency)),
          figure("Realized P&L", signed(c.realized_pnl, signedMoney(c.realized_pnl, c.currency))),
          figure("Unrealized P&L", signed(c.unrealized_pnl, signedMoney(c.unrealized_pnl, c.currency))),
          figure("Total P&L", signed(pnl, signedMoney(pnl, c.currency))));
      });
    box.replaceChildren(h("h3", { id: "funds-title" }, "Funds"), ...blocks);
  }
  background(load());
  return {
    element: box,
    refresh() {
      clearTimeout(pending);
      pending = setTimeout(() => background(load()), 150);
    },
    stop() {
      clearTimeout(pending);
    },
  };
}

function watchlist(onPick) {
  let names = loadWatchlist();
  let chosen = names[0];
  const quotes = new Map();
  const list = h("ul", {});
  const datalist = h("datalist", { id: "symbols" });
  const search = h("form", { class: "search", novalidate: true, role: "search" },
    field("Add instrument", { name: "add", list: "symbols", autocomplete: "off", placeholder: "Search symbol or name" }),
    h("p", { class: "error", "data-form-error": true, role: "alert" }),
    h("button", { type: "submit", class: "secondary" }, "Add"));
  const box = h("section", { class: "panel watchlist", "aria-labelledby": "watchlist-title" },
    h("h3", { id: "watchlist-title" }, "Watchlist"), list, search, datalist);
  let unwatch = live.watch(names);

  background(instruments().then((all) => {
    datalist.replaceChildren(...all.map((i) => h("option", { value: i.symbol }, `${i.name} (${i.venue})`)));
  }));

  function save() {
    localStorage.setItem(watchlistKey(), JSON.stringify(names));
    unwatch();
    unwatch = live.watch(names);
  }

  function draw() {
    list.replaceChildren(...names.map((name) => {
      const quote = quotes.get(name);
      return h("li", {},
        h("button", { type: "button", class: "pick", "aria-pressed": String(name === chosen), onclick: () => pick(name), "aria-label": `${name} ${quote ? quote.ltp : ""}` },
          h("span", {}, name),
          h("span", { "data-ltp": name }, quote ? number(quote.ltp, 2) : "…"),
          quote ? h("span", { class: signClass(quote.change) }, percent(quote.changePercent)) : ""),
        h("button", { type: "button", class: "remove", "aria-label": `Remove ${name}`, onclick: () => remove(name) }, "×"));
    }));
  }

  function pick(name) {
    chosen = name;
    draw();
    onPick(name);
  }

  function remove(name) {
    names = names.filter((n) => n !== name);
    save();
    draw();
  }

  search.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(search);
    const typed = search.elements.namedItem("add").value.trim().toUpperCase();
    const all = await instruments();
    const found = all.find((i) => i.symbol === typed || i.name.toUpperCase() === typed || (i.aliases ?? []).includes(typed));
    if (!found) {
      search.querySelector("[data-error-for=add]").textContent = `No instrument "${typed}"`;
      return;
    }
    if (!names.includes(found.symbol)) names.push(found.symbol);
    search.reset();
    save();
    pick(found.symbol);
  });

  const stop = live.on("tick", (tick) => {
    if (!names.includes(tick.symbol)) return;
    const close = tick.ltp - tick.change;
    quotes.set(tick.symbol, { ltp: tick.ltp, change: tick.change, changePercent: close ? (tick.change / close) * 100 : 0 });
    const cell = list.querySelector(`[data-ltp="${CSS.escape(tick.symbol)}"]`);
    if (cell && cell.closest("li").children[0].children.length === 3) {
      cell.textContent = number(tick.ltp, 2);
      const change = cell.nextElementSibling;
      change.className = signClass(tick.change);
      change.textContent = percent(quotes.get(tick.symbol).changePercent);
      cell.parentElement.setAttribute("aria-label", `${tick.symbol} ${tick.ltp}`);
    } else draw();
  });
  draw();
  return { element: box, first: chosen, stop() { stop(); unwatch(); } };
}

/** The Trade screen; `#/trade/<symbol>` (a contract picked in the option chain) fills the
 * ticket with that symbol. */
export function tradeScreen(container, [picked]) {
  const money = funds();
  const orders = book({ onChange: () => money.refresh() });
  let ticket = null;
  const chart = candleChart();
  const list = watchlist((name) => {
    chart.show(name);
    ticket.setSymbol(name);
  });
  const symbol = picked ? decodeURIComponent(picked) : list.first;
  ticket = orderTicket({ symbol, placed: (order) => { orders.add(order); money.refresh(); } });
  chart.show(list.first);
  const balance = live.on("balance", () => money.refresh());
  // Cash moves with the events; the equity and unrealized P&L move with every price, so the
  // portfolio (the server's exact figures) is read again every few seconds.
  const marking = setInterval(() => money.refresh(), FUNDS_REFRESH_MS);
  container.append(h("div", { class: "grid" },
    list.element,
    chart.element,
    ticket.element,
    h("div", { class: "wide" }, money.element),
    h("section", { class: "panel wide", "aria-label": "Positions" }, orders.positions),
    h("section", { class: "panel wide", "aria-label": "Orders" }, orders.orders)));
  return () => {
    list.stop();
    chart.stop();
    orders.stop();
    money.stop();
    balance();
    clearInterval(marking);
  };
}
