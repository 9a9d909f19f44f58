// One /ws connection per session: ticks of the symbols on screen, leaderboards, and the
// user's private events (orders, positions, balances), resumed by their seq after a drop.

import { session } from "./core.js";

const listeners = new Map(); // type -> Set of functions
const symbols = new Map(); // symbol -> how many screens watch it
const tournaments = new Set();
let socket = null;
let lastSeq = null;
let stopped = true;
let retry = null;

function send(message) {
  if (socket?.readyState === WebSocket.OPEN) socket.send(JSON.stringify(message));
}

function dispatch(message) {
  if (typeof message.seq === "number") lastSeq = Math.max(lastSeq ?? 0, message.seq);
  for (const listener of listeners.get(message.type) ?? []) listener(message);
}

function open() {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  socket = new WebSocket(`${scheme}://${location.host}/ws`);
  socket.addEventListener("open", () => {
    // The token goes in the first message, never in the address (addresses get logged).
    const auth = { type: "auth", token: session.token };
    if (lastSeq !== null) auth.last_seq = lastSeq;
    socket.send(JSON.stringify(auth));
  });
  socket.addEventListener("message", (event) => {
    const message = JSON.parse(event.data);
    if (message.type === "connected") {
      if (lastSeq === null) lastSeq = message.last_seq;
      if (symbols.size) send({ type: "subscribe", symbols: [...symbols.keys()] });
      if (tournaments.size) send({ type: "subscribe", tournaments: [...tournaments] });
    }
    dispatch(message);
  });
  socket.addEventListener("close", (event) => {
    socket = null;
    if (stopped) return;
    if (event.code === 4401) {
      session.onExpired(event.reason || "your session ended");
      return;
    }
    retry = setTimeout(open, 1000);
  });
}

export function start() {
  if (!stopped) return;
  stopped = false;
  lastSeq = null;
  open();
}

export function stop() {
  stopped = true;
  clearTimeout(retry);
  symbols.clear();
  tournaments.clear();
  socket?.close(1000, "logged out");
  socket = null;
}

/** Call `listener` with every message of `type`; returns the function that stops it. */
export function on(type, listener) {
  if (!listeners.has(type)) listeners.set(type, new Set());
  listeners.get(type).add(listener);
  return () => listeners.get(type).delete(listener);
}

/** Receive the ticks of `names`; returns the function that stops watching them. */
export function watch(names) {
  const added = names.filter((name) => {
    symbols.set(name, (symbols.get(name) ?? 0) + 1);
    return symbols.get(name) === 1;
  });
  if (added.length) send({ type: "subscribe", symbols: added });
  return () => {
    const removed = names.filter((name) => {
      symbols.set(name, symbols.get(name) - 1);
      if (symbols.get(name) > 0) return false;
      symbols.delete(name);
      return true;
    });
    if (removed.length) send({ type: "unsubscribe", symbols: removed });
  };
}

/** Receive the leaderboards of tournament `id`; returns the function that stops them. */
export function followTournament(id) {
  tournaments.add(id);
  send({ type: "subscribe", tournament: id });
  return () => {
    tournaments.delete(id);
    send({ type: "unsubscribe", tournament: id });
  };
}
