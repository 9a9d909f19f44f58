// Orders and positions, kept current from the private events: modify and cancel an order,
// close a position, each destructive action confirmed in a <dialog>.

import {
  ApiError, announce, api, background, confirmAction, field, h, number, showErrors, signed,
  signedMoney, table, time,
} from "./core.js";
import * as live from "./live.js";
import { fieldOfRefusal } from "./ticket.js";

const FINAL = new Set(["filled", "cancelled", "rejected", "expired"]);

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
