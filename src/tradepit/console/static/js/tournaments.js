// Tournaments: the list, joining, trading inside one, and its live leaderboard.

import {
  ApiError, announce, api, background, confirmAction, h, money, number, percent, session,
  signed, signedMoney, table,
} from "./core.js";
import * as live from "./live.js";
import { book } from "./book.js";
import { orderTicket } from "./ticket.js";

const JOINABLE = new Set(["scheduled", "running"]);

function when(iso) {
  return iso ? `${iso.slice(0, 16).replace("T", " ")} UTC` : "—";
}

export function tournamentsScreen(container, [id]) {
  if (id) return tournamentScreen(container, Number(id));
  const holder = h("div", {});
  container.append(holder);

  async function load() {
    const [list, mine] = await Promise.all([
      api("/api/tournaments"),
      api("/api/tournaments/my/tournaments"),
    ]);
    const joined = new Set(mine.map((entry) => entry.tournament.id));
    const rows = list.map((t) =>
      h("tr", {},
        h("th", { scope: "row" }, h("a", { href: `#/tournaments/${t.id}` }, t.name)),
        h("td", {}, t.status),
        h("td", {}, when(t.start_time)),
        h("td", {}, when(t.end_time)),
        h("td", {}, money(t.starting_capital, t.currency)),
        h("td", {}, money(t.entry_fee, t.currency)),
        h("td", {}, `${t.participants}${t.max_participants ? `/${t.max_participants}` : ""}`),
        h("td", {}, joined.has(t.id)
          ? h("a", { href: `#/tournaments/${t.id}` }, "Open")
          : JOINABLE.has(t.status) && h("button", { type: "button", "aria-label": `Join ${t.name}`, onclick: () => join(t) }, "Join"))));
    holder.replaceChildren(h("section", { class: "panel" }, table("Tournaments",
      ["Name", "Status", "Starts", "Ends", "Capital", "Entry fee", "Players", ""], rows, "No tournaments yet")));
  }

  async function join(t) {
    const fee = Number(t.entry_fee) ? ` The entry fee of ${money(t.entry_fee, t.currency)} leaves your cash.` : "";
    if (!(await confirmAction(`Join ${t.name}?${fee}`, "Join"))) return;
    try {
      await api(`/api/tournaments/${t.id}/join`, { method: "POST" });
      announce(`Joined ${t.name}`);
      location.hash = `#/tournaments/${t.id}`;
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      announce(error.message);
      holder.prepend(h("p", { class: "error", role: "alert" }, error.message));
    }
  }

  background(load());
  return null;
}

function tournamentScreen(container, id) {
  const title = container.querySelector("h2");
  const facts = h("dl", { class: "figures", "aria-label": "Tournament" });
  const board = h("section", { class: "panel", "aria-labelledby": "leaderboard-title" });
  const trading = h("div", { class: "grid" });
  container.append(h("p", {}, h("a", { href: "#/tournaments" }, "All tournaments")),
    h("section", { class: "panel" }, facts), board, trading);
  let stops = [];

  function drawBoard(standings, currency) {
    const rows = standings.entries.map((entry) => {
      const me = entry.user_id === session.user.id;
      return h("tr", { class: me ? "mine" : "", "aria-current": me ? "true" : false },
        h("th", { scope: "row" }, `${entry.rank}`),
        h("td", {}, me ? `${entry.username} (you)` : entry.username),
        h("td", {}, money(entry.equity, currency)),
        h("td", {}, signed(entry.pnl, signedMoney(entry.pnl, currency))),
        h("td", {}, signed(entry.roi, percent(entry.roi))),
        h("td", {}, number(entry.trades, 0)));
    });
    const mine = standings.entries.find((entry) => entry.user_id === session.user.id);
    board.replaceChildren(
      h("h3", { id: "leaderboard-title" }, standings.final ? "Final leaderboard" : "Leaderboard"),
      mine ? h("p", {}, `Your rank: ${mine.rank} of ${standings.entries.length}`) : h("p", { class: "hint" }, "You have not joined."),
      table("Standings", ["Rank", "Player", "Equity", "P&L", "Return", "Trades"], rows, "Nobody has joined yet"),
      h("p", { class: "hint" }, `As of ${when(standings.as_of)}`));
  }

  async function load() {
    const [t, standings, participant] = await Promise.all([
      api(`/api/tournaments/${id}`),
      api(`/api/tournaments/${id}/standings`),
      api(`/api/tournaments/${id}/participant`),
    ]);
    title.textContent = t.name;
    const figure = (label, value) => h("div", {}, h("dt", {}, label), h("dd", {}, value));
    facts.replaceChildren(
      figure("Status", t.status),
      figure("Starts", when(t.start_time)),
      figure("Ends", when(t.end_time)),
      figure("Starting capital", money(t.starting_capital, t.currency)),
      figure("Prize pool", money(t.prize_pool, t.currency)),
      figure("Players", number(t.participants, 0)));
    drawBoard(standings, t.currency);
    stops.push(live.followTournament(id));
    stops.push(live.on("leaderboard", (message) => {
      if (message.tournament_id === id) drawBoard(message, t.currency);
    }));
    if (participant.joined && t.status === "running") {
      const orders = book({ tournamentId: id });
      const ticket = orderTicket({ symbol: "RELIANCE", tournamentId: id, placed: (order) => orders.add(order) });
      stops.push(orders.stop);
      trading.replaceChildren(ticket.element,
        h("section", { class: "panel", "aria-label": "Tournament positions" }, orders.positions),
        h("section", { class: "panel wide", "aria-label": "Tournament orders" }, orders.orders));
    }
  }

  background(load());
  return () => {
    stops.forEach((stop) => stop());
    stops = [];
  };
}
