// The market as the screens need it: the instrument catalogue, and whether a venue trades now.

import { api } from "./core.js";
import * as live from "./live.js";

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
export async function describeVenue(symbol, line) {
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
