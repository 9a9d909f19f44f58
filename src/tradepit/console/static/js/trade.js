// Trade: the watchlist, the chart, the order ticket, funds, positions and orders, all live.

import {
  ApiError, announce, api, background, clearErrors, confirmAction, field, h, money, number, percent,
  session, showErrors, signClass, signed, signedMoney, table, time,
} from "./core.js";
import { candleChart } from "./chart.js";
import * as live from "./live.js";

const DEFAULT_WATCHLIST = ["RELIANCE", "BTC-USDT"];
const FUNDS_REFRESH_MS = 5000;
const CONTRACT = /\d(CE|PE)$|FUT$/; // NIFTY26D0826000CE, NIFTY26DECFUT
const FINAL = new Set(["filled", "cancelled", "rejected", "expired"]);
const TYPES = [["MARKET", "MARKET"], ["LIMIT", "LIMIT"], ["STOP_LOSS", "SL"], ["STOP_LOSS_MARKET", "SL-M"]];
let catalogue = null;
let venues = null; // the last /api/market-status, kept current by the market_status events
live.on("market_status", (message) => {
  venues = Promise.resolve(message);
});

/** The instrument catalogue (symbol, name, currency, tick and lot size), fetched once. */
export async function instruments() {
  catalogue ??= api("/api/candles/instruments").then(
    (answer) => answer.instruments,
    (error) => {
      catalogue = null;
      throw error;
    },
  );
  return catalogue;
}

/** Say whether the venue of `symbol` trades now, and what an order does when it does not. */
async function describeVenue(symbol, line) {
  venues ??= api("/api/market-status");
  const [all, status] = await Promise.all([instruments(), venues]);
  const found = all.find((i) => i.symbol === symbol.trim().toUpperCase());
  const venue = found && status.venues.find((v) => v.venue === found.venue);
  if (!venue) {
    line.textContent = "";
    return;
  }
  const opens = venue.next_open ? ` (${new Date(venue.next_open).toISOString().slice(0, 16).replace("T", " ")} UTC)` : "";
  line.textContent = venue.is_open
    ? `${found.venue} is open; settles in ${found.currency}.`
    : `${found.venue} is closed: an order placed now waits for the open${opens}.`;
}

function watchlistKey() {
  return `tradepit.watchlist.${session.user.id}`;
}

function loadWatchlist() {
  const stored = JSON.parse(localStorage.getItem(watchlistKey()) ?? "null");
  return Array.isArray(stored) && stored.length ? stored : [...DEFAULT_WATCHLIST];
}

/** Which field of the ticket a refusal is about. */
function fieldOfRefusal(error) {
  const text = error.message.toLowerCase();
  switch (error.code) {
    case "INVALID_PRICE":
      if (text.includes("take")) return "take_profit";
      if (text.includes("stop")) return "stop_loss";
      return "price";
    case "INVALID_TRIGGER":
      return "trigger_price";
    case "INVALID_QUANTITY":
    case "INSUFFICIENT_FUNDS":
    case "ORDER_REJECTED":
      return "quantity";
    case "INVALID_BRACKET":
      if (text.includes("trailing")) return "trailing_stop";
      return text.includes("take") ? "take_profit" : "stop_loss";
    case "NOT_TRADABLE":
    case "CONTRACT_NOT_LISTED":
      return "product";
    case "NOT_FOUND":
      return "symbol";
    default:
      return error.status === 404 ? "symbol" : null;
  }
}

/** The order body the ticket's fields describe. */
function orderBody(form, tournamentId) {
  const value = (name) => form.elements.namedItem(name)?.value.trim() ?? "";
  const type = value("order_type");
  const body = {
    symbol: value("symbol"),
    order_side: form.elements.namedItem("side").value,
    order_type: type,
    quantity: value("quantity"),
    product: value("product"),
    validity: value("validity"),
  };
  if (type === "LIMIT" || type === "STOP_LOSS") body.price = value("price");
  if (type === "STOP_LOSS" || type === "STOP_LOSS_MARKET") body.trigger_price = value("trigger_price");
  if (value("take_profit")) body.take_profit = { price: value("take_profit") };
  if (value("stop_loss")) body.stop_loss = { price: value("stop_loss") };
  if (value("trailing_stop")) body.trailing_stop = { points: value("trailing_stop") };
  if (tournamentId) body.tournament_id = tournamentId;
  return body;
}

/** The order ticket; `placed(order)` is called with each accepted order. */
export function orderTicket({ symbol, tournamentId = null, placed = () => {} }) {
  const form = h("form", { "aria-labelledby": "ticket-title", novalidate: true, class: "ticket" },
    h("h3", { id: "ticket-title" }, "Order ticket"),
    field("Symbol", { name: "symbol", value: symbol, list: "symbols", autocomplete: "off", required: true }),
    h("fieldset", {},
      h("legend", {}, "Side"),
      h("label", {}, h("input", { type: "radio", name: "side", value: "BUY", checked: true }), " Buy"),
      h("label", {}, h("input", { type: "radio", name: "side", value: "SELL" }), " Sell")),
    h("div", { class: "row" },
      field("Order type", { name: "order_type", options: TYPES }, "select"),
      field("Quantity", { name: "quantity", type: "number", min: "0", step: "any", value: "1", inputmode: "decimal", required: true })),
    h("div", { class: "row" },
      field("Limit price", { name: "price", type: "number", step: "any", inputmode: "decimal" }),
      field("Trigger price", { name: "trigger_price", type: "number", step: "any", inputmode: "decimal" })),
    h("div", { class: "row" },
      field("Product", { name: "product", options: [["CNC", "CNC (delivery)"], ["MIS", "MIS (intraday)"], ["NRML", "NRML (carry forward)"]] }, "select"),
      field("Validity", { name: "validity", options: [["DAY", "DAY"], ["IOC", "IOC"], ["GTC", "GTC"]] }, "select")),
    h("fieldset", {},
      h("legend", {}, "Bracket (optional)"),
      h("div", { class: "row" },
        field("Take-profit price", { name: "take_profit", type: "number", step: "any", inputmode: "decimal" }),
        field("Stop-loss price", { name: "stop_loss", type: "number", step: "any", inputmode: "decimal" }),
        field("Trailing stop (points)", { name: "trailing_stop", type: "number", step: "any", inputmode: "decimal" }))),
    h("p", { class: "hint", "data-venue": true }),
    h("p", { class: "error", "data-form-error": true, role: "alert" }),
    h("button", { type: "submit" }, "Place order"));
  const venueLine = form.querySelector("[data-venue]");
  const symbolInput = form.elements.namedItem("symbol");
  const chosen = (name) => {
    // Futures and options are not delivered: carry them forward (NRML) unless told otherwise.
    if (CONTRACT.test(name.trim().toUpperCase())) form.elements.namedItem("product").value = "NRML";
    background(describeVenue(name, venueLine));
  };
  symbolInput.addEventListener("change", () => chosen(symbolInput.value));
  chosen(symbol);
  const priced = () => {
    const type = form.elements.namedItem("order_type").value;
    form.elements.namedItem("price").disabled = !(type === "LIMIT" || type === "STOP_LOSS");
    form.elements.namedItem("trigger_price").disabled = !type.startsWith("STOP");
  };
  form.elements.namedItem("order_type").addEventListener("change", priced);
  priced();
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(form);
    const body = orderBody(form, tournamentId);
    try {
      const order = await api("/api/paper-trading/orders", { method: "POST", body });
      announce(`Order ${order.id} ${order.status}: ${order.order_side} ${order.quantity} ${order.symbol}`);
      placed(order);
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      showErrors(form, error, fieldOfRefusal);
    }
  });
  return {
    element: form,
    setSymbol(name) {
      symbolInput.value = name;
      chosen(name);
    },
  };
}

/** Orders and positions kept current from the private events, shown as tables. */
export function book({ tournamentId = null, onChange = () => {} }) {
  const orders = new Map();
  const positions = new Map();
  const ltp = new Map();
  const mine = (item) => (item.tournament_id ?? null) === tournamentId;
  const ordersBox = h("div", {});
  const positionsBox = h("div", {});
  const ordersProblem = h("p", { class: "error", role: "alert" });
  const positionsProblem = h("p", { class: "error", role: "alert" });
  let unwatch = () => {};

  function positionKey(p) {
    return `${p.symbol}/${p.product}`;
  }

  function watchPositions() {
    unwatch();
    unwatch = live.watch([...new Set([...positions.values()].map((p) => p.symbol))]);
  }

  function drawPositions() {
    const rows = [...positions.values()].filter((p) => Number(p.quantity) !== 0).map((p) => {
      const last = ltp.get(p.symbol) ?? Number(p.ltp);
      const unrealized = (last - Number(p.average_price)) * Number(p.quantity) * Number(p.multiplier);
      const total = Number(p.realized_pnl) + unrealized;
      return h("tr", {},
        h("th", { scope: "row" }, p.symbol),
        h("td", {}, p.product),
        h("td", {}, signed(p.quantity, number(p.quantity, 0, p.currency))),
        h("td", {}, number(p.average_price, 2, p.currency)),
        h("td", {}, number(last, 2, p.currency)),
        h("td", {}, signed(total, signedMoney(total, p.currency))),
        h("td", {}, h("button", {
          type: "button", class: "danger", "aria-label": `Close ${p.symbol} ${p.product} position`,
          onclick: () => closePosition(p),
        }, "Close")));
    });
    positionsBox.replaceChildren(table("Positions",
      ["Symbol", "Product", "Qty", "Avg price", "LTP", "P&L", ""], rows, "No open positions"));
  }

  function drawOrders() {
    const list = [...orders.values()].sort((a, b) => b.id - a.id).slice(0, 50);
    const rows = list.map((o) => {
      const open = !FINAL.has(o.status);
      const modifiable = open && o.order_type !== "MARKET";
      return h("tr", {},
        h("th", { scope: "row" }, time(o.created_at)),
        h("td", {}, o.symbol),
        h("td", {}, h("span", { class: o.order_side === "BUY" ? "up" : "down" }, o.order_side)),
        h("td", {}, o.order_type + (o.leg ? ` (${o.leg.replace("_", "-")})` : "")),
        h("td", {}, `${number(o.filled_quantity, 0)}/${number(o.quantity, 0)}`),
        h("td", {}, number(o.average_price ?? o.price ?? o.trigger_price)),
        h("td", {}, o.status),
        h("td", {},
          modifiable && h("button", { type: "button", class: "secondary", "aria-label": `Modify order ${o.id}`, onclick: () => modify(o) }, "Modify"),
          open && h("button", { type: "button", class: "danger", "aria-label": `Cancel order ${o.id}`, onclick: () => cancel(o) }, "Cancel")));
    });
    ordersBox.replaceChildren(table("Orders",
      ["Time (UTC)", "Symbol", "Side", "Type", "Filled", "Price", "Status", ""], rows, "No orders yet"));
  }

  async function cancel(order) {
    if (!(await confirmAction(`Cancel order ${order.id}: ${order.order_side} ${order.quantity} ${order.symbol}?`, "Cancel order"))) return;
    ordersProblem.textContent = "";
    try {
      const done = await api(`/api/paper-trading/orders/${order.id}`, { method: "DELETE" });
      orders.set(done.id, done);
      drawOrders();
      announce(`Order ${order.id} cancelled`);
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      ordersProblem.textContent = error.message;
    }
  }

  async function closePosition(position) {
    if (!(await confirmAction(`Close your ${position.symbol} position (${position.quantity}, ${position.product}) at the market?`, "Close position"))) return;
    positionsProblem.textContent = "";
    try {
      if (tournamentId) {
        await api(`/api/tournaments/${tournamentId}/positions/${position.id}`, { method: "DELETE" });
      } else {
        await api(`/api/paper-trading/positions/${encodeURIComponent(position.symbol)}/close?product=${position.product}`, { method: "POST" });
      }
      announce(`${position.symbol} position closed`);
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      positionsProblem.textContent = error.message;
    }
  }

  function modify(order) {
    const dialog = h("dialog", { "aria-labelledby": "modify-title" });
    const form = h("form", { novalidate: true },
      h("h3", { id: "modify-title" }, `Modify order ${order.id}`),
      field("Quantity", { name: "quantity", type: "number", step: "any", value: order.quantity }),
      order.price !== null && field("Limit price", { name: "price", type: "number", step: "any", value: order.price }),
      order.trigger_price !== null && field("Trigger price", { name: "trigger_price", type: "number", step: "any", value: order.trigger_price }),
      h("p", { class: "error", "data-form-error": true, role: "alert" }),
      h("div", { class: "actions" },
        h("button", { type: "button", class: "secondary", onclick: () => dialog.close() }, "Back"),
        h("button", { type: "submit" }, "Save")));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const body = Object.fromEntries([...new FormData(form)].filter(([, v]) => v !== ""));
      try {
        const done = await api(`/api/paper-trading/orders/${order.id}`, { method: "PUT", body });
        orders.set(done.id, done);
        drawOrders();
        dialog.close();
      } catch (error) {
        if (!(error instanceof ApiError)) throw error;
        showErrors(form, error, fieldOfRefusal);
      }
    });
    dialog.append(form);
    dialog.addEventListener("close", () => dialog.remove());
    document.body.append(dialog);
    dialog.showModal();
  }

  const base = tournamentId ? `/api/tournaments/${tournamentId}` : "/api/paper-trading";
  let reloading = null;

  async function loadPositions() {
    const list = await api(`${base}/positions`);
    positions.clear();
    ltp.clear();
    for (const p of list.filter(mine)) positions.set(positionKey(p), p);
    drawPositions();
    watchPositions();
  }

  async function load() {
    const orderList = await api(`${base}/orders?limit=50`);
    for (const o of orderList.filter(mine)) orders.set(o.id, o);
    drawOrders();
    await loadPositions();
  }

  const stops = [
    live.on("order", (message) => {
      if (!mine(message.order)) return;
      orders.set(message.order.id, message.order);
      drawOrders();
      if (message.event === "fill") announce(`Filled: ${message.order.order_side} ${message.order.quantity} ${message.order.symbol} at ${message.order.average_price}`);
      onChange();
    }),
    live.on("position", (message) => {
      // The event names what changed (symbol, quantity, average price); the list's rows
      // (with id, multiplier and last price) are read again.
      if ((message.tournament_id ?? null) !== tournamentId) return;
      clearTimeout(reloading);
      reloading = setTimeout(() => background(loadPositions()), 100);
      onChange();
    }),
    live.on("tick", (message) => {
      if (![...positions.values()].some((p) => p.symbol === message.symbol)) return;
      ltp.set(message.symbol, message.ltp);
      drawPositions();
    }),
  ];
  background(load());
  return {
    orders: h("div", {}, ordersProblem, ordersBox),
    positions: h("div", {}, positionsProblem, positionsBox),
    add(order) {
      orders.set(order.id, order);
      drawOrders();
    },
    stop() {
      stops.forEach((stop) => stop());
      clearTimeout(reloading);
      unwatch();
    },
  };
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
