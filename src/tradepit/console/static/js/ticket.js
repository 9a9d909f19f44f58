// The order ticket: MARKET / LIMIT / SL / SL-M, product, validity and a bracket, with each
// refusal shown next to the field that caused it.

import { ApiError, announce, api, background, clearErrors, field, h, showErrors } from "./core.js";
import { describeVenue } from "./market.js";

const CONTRACT = /\d(CE|PE)$|FUT$/; // NIFTY26D0826000CE, NIFTY26DECFUT
const TYPES = [["MARKET", "MARKET"], ["LIMIT", "LIMIT"], ["STOP_LOSS", "SL"], ["STOP_LOSS_MARKET", "SL-M"]];

/** Which field of the ticket a refusal is about. */
export function fieldOfRefusal(error) {
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
