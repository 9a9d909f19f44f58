// Predictions: will the price be higher (long) or lower (short) after a few minutes? The stake
// and payout are USDT; a bet counts down on the market clock and resolves at its expiry price.

import {
  ApiError, announce, api, background, clearErrors, field, h, money, number, session,
  showErrors, signed, signedMoney, table,
} from "./core.js";
import * as live from "./live.js";

const DURATIONS = [1, 2, 5, 10, 15, 30, 60];

/** The market clock: its time now, read from /api/status and run forward at its speed. */
async function marketClock() {
  const status = await api("/api/status");
  const read = Date.now();
  const start = Date.parse(status.clock.now);
  return { speed: status.clock.speed, now: () => start + (Date.now() - read) * status.clock.speed };
}

function fieldOfRefusal(error) {
  if (error.code === "INSUFFICIENT_BALANCE") return "amount";
  if (error.code === "INVALID_BET") {
    if (/time|minute/.test(error.message)) return "time";
    if (/symbol|venue|price/.test(error.message)) return "symbol";
    return "amount";
  }
  return null;
}

export function predictionsScreen(container) {
  const balance = h("p", { role: "status", class: "balance" });
  const form = h("form", { "aria-labelledby": "bet-title", novalidate: true },
    h("h3", { id: "bet-title" }, "New prediction"),
    balance,
    field("Symbol", { name: "symbol", value: "BTC-USDT", autocomplete: "off" }),
    h("fieldset", {},
      h("legend", {}, "Direction"),
      h("label", {}, h("input", { type: "radio", name: "direction", value: "long", checked: true }), " Long (price rises)"),
      h("label", {}, h("input", { type: "radio", name: "direction", value: "short" }), " Short (price falls)")),
    h("div", { class: "row" },
      field("Amount (USDT)", { name: "amount", type: "number", step: "any", min: "0", value: "10", inputmode: "decimal" }),
      field("Duration", { name: "time", options: DURATIONS.map((m) => [String(m), `${m} min`]) }, "select")),
    h("p", { class: "error", "data-form-error": true, role: "alert" }),
    h("button", { type: "submit" }, "Place prediction"));
  const list = h("section", { class: "panel", "aria-label": "Your predictions" });
  container.append(h("div", { class: "grid" }, form, list));
  let clock = null;
  let bets = [];
  let refreshing = false;

  async function loadBalance() {
    const answer = await api(`/api/balance/${encodeURIComponent(session.user.username)}`);
    balance.textContent = `Balance: ${money(answer.balance, "USDT")}`;
    if (!Number(answer.balance)) balance.append(h("span", { class: "hint" }, " — stakes are USDT; an administrator credits it (Admin, Wallet adjustment)."));
  }

  async function loadBets() {
    clock ??= await marketClock();
    bets = (await api("/api/bets")).bets;
    draw();
  }

  function remaining(bet) {
    return Math.max(0, (Date.parse(bet.expires_at) - clock.now()) / clock.speed / 1000);
  }

  function draw() {
    const rows = bets.slice(0, 30).map((bet) => {
      const active = bet.status === "active";
      const left = active ? Math.ceil(remaining(bet)) : 0;
      const gain = bet.payout === null ? null : bet.payout - bet.amount;
      return h("tr", {},
        h("th", { scope: "row" }, `${bet.direction} ${bet.symbol}`),
        h("td", {}, money(bet.amount, "USDT")),
        h("td", {}, number(bet.entry_price, 2, "USDT")),
        h("td", {}, number(bet.exit_price, 2, "USDT")),
        h("td", { class: "countdown" }, active ? `${left} s` : "—"),
        h("td", {}, bet.status),
        h("td", {}, gain === null ? "—" : signed(gain, signedMoney(gain, "USDT"))));
    });
    list.replaceChildren(table("Your predictions",
      ["Prediction", "Stake", "Entry", "Exit", "Time left", "Result", "Won / lost"], rows, "No predictions yet"));
    const due = bets.some((bet) => bet.status === "active" && remaining(bet) <= 0);
    if (due && !refreshing) {
      refreshing = true;
      setTimeout(() => {
        refreshing = false;
        background(Promise.all([loadBets(), loadBalance()]));
      }, 1000);
    }
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(form);
    const values = Object.fromEntries(new FormData(form));
    try {
      const placed = await api("/api/bet", {
        method: "POST",
        body: { telegram: session.user.username, amount: values.amount, direction: values.direction, time: Number(values.time), symbol: values.symbol },
      });
      balance.textContent = `Balance: ${money(placed.new_balance, "USDT")}`;
      announce(`Prediction placed: ${placed.direction} ${placed.symbol}`);
      background(loadBets());
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      showErrors(form, error, fieldOfRefusal);
    }
  });

  background(loadBalance());
  background(loadBets());
  const timer = setInterval(() => bets.length && draw(), 1000);
  const stop = live.on("balance", (message) => {
    if (message.balance.currency === "USDT" && !message.tournament_id) background(Promise.all([loadBalance(), loadBets()]));
  });
  return () => {
    clearInterval(timer);
    stop();
  };
}
