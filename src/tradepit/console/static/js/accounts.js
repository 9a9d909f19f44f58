// The shared accounts table (csv-accounts): the rows I may see, who is editing which row (the
// row locks of /api/ws, live), edit under a lock, add, delete and each row's history.

import {
  ApiError, announce, api, background, clearErrors, confirmAction, field, h, number, session,
  showErrors, signed, table,
} from "./core.js";

const EDITABLE = [
  ["broker", "Broker", "text"],
  ["account_name", "Account name", "text"],
  ["pnl", "P&L", "number"],
  ["margin", "Margin", "number"],
  ["max_risk", "Max risk", "number"],
];

function when(iso) {
  return iso ? `${iso.slice(11, 19)} UTC` : "";
}

export function accountsScreen(container) {
  const problem = h("p", { class: "error", role: "alert" });
  const holder = h("div", {});
  const history = h("div", {});
  const add = h("form", { "aria-labelledby": "add-account-title", novalidate: true },
    h("h3", { id: "add-account-title" }, "Add an account"),
    h("div", { class: "row" },
      field("Broker", { name: "broker", required: true, value: "paper" }),
      field("Account name", { name: "account_name" })),
    h("div", { class: "row" },
      field("API key", { name: "API_key", autocomplete: "off" }),
      field("API secret", { name: "API_secret", type: "password", autocomplete: "off" })),
    h("div", { class: "row" },
      field("P&L", { name: "pnl", type: "number", step: "any", value: "0" }),
      field("Margin", { name: "margin", type: "number", step: "any", value: "0" }),
      field("Max risk", { name: "max_risk", type: "number", step: "any", value: "0" })),
    h("p", { class: "error", "data-form-error": true, role: "alert" }),
    h("button", { type: "submit" }, "Add account"));
  container.append(
    h("p", { class: "hint" }, "One editor per row: editing a row locks it for everyone else until you save or stop."),
    problem,
    h("section", { class: "panel", "aria-label": "Accounts" }, holder),
    add,
    history);
  let rows = [];
  let locks = [];
  let editing = null; // the id of the row I am editing
  let socket = null;
  let closed = false;

  function draw() {
    const lines = rows.map((row) => {
      const lock = locks.find((l) => l.id === row.id);
      const mine = lock && lock.user_id === session.user.id;
      const held = lock && !mine;
      return h("tr", { class: mine ? "mine" : "" },
        h("th", { scope: "row" }, row.account_name || `#${row.id}`),
        h("td", {}, row.user),
        h("td", {}, row.broker),
        h("td", {}, row.API_key || "—"),
        h("td", {}, signed(row.pnl, number(row.pnl, 2))),
        h("td", {}, number(row.margin, 2)),
        h("td", {}, number(row.max_risk, 2)),
        h("td", {}, lock ? `${mine ? "you" : lock.user} (until ${when(lock.expires_at)})` : "free"),
        h("td", {},
          h("button", { type: "button", class: "secondary", disabled: held, "aria-label": `Edit account ${row.id}`, onclick: () => lock_(row) }, "Edit"),
          h("button", { type: "button", class: "secondary", "aria-label": `History of account ${row.id}`, onclick: () => background(showHistory(row)) }, "History"),
          h("button", { type: "button", class: "danger", disabled: held, "aria-label": `Delete account ${row.id}`, onclick: () => remove(row) }, "Delete")));
    });
    holder.replaceChildren(table("Accounts table",
      ["Account", "User", "Broker", "API key", "P&L", "Margin", "Max risk", "Being edited by", ""], lines, "No accounts yet"));
  }

  function send(message) {
    if (socket?.readyState === WebSocket.OPEN) socket.send(JSON.stringify(message));
  }

  function connect() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    socket = new WebSocket(`${scheme}://${location.host}/api/ws`);
    socket.addEventListener("open", () => socket.send(JSON.stringify({ type: "auth", token: session.token })));
    socket.addEventListener("message", (event) => {
      const message = JSON.parse(event.data);
      if (message.type === "lock_status") {
        locks = message.locks;
        draw();
        if (editing === null) {
          const granted = locks.find((l) => l.user_id === session.user.id && pendingLock === l.id);
          if (granted) {
            pendingLock = null;
            edit(rows.find((r) => r.id === granted.id));
          }
        }
      } else if (message.type === "csv_update") {
        rows = message.data;
        draw();
      } else if (message.type === "error") {
        pendingLock = null;
        problem.textContent = message.message;
        announce(message.message);
      }
    });
    socket.addEventListener("close", (event) => {
      if (closed) return;
      if (event.code === 4401) session.onExpired(event.reason || "your session ended");
      else setTimeout(connect, 1000);
    });
  }

  let pendingLock = null;
  function lock_(row) {
    problem.textContent = "";
    pendingLock = row.id;
    send({ type: "lock", id: row.id });
  }

  function edit(row) {
    if (!row) return;
    editing = row.id;
    const dialog = h("dialog", { "aria-labelledby": "edit-title" });
    const form = h("form", { novalidate: true },
      h("h3", { id: "edit-title" }, `Edit account ${row.account_name || row.id}`),
      ...EDITABLE.map(([name, label, type]) => field(label, { name, type, step: "any", value: row[name] ?? "" })),
      h("p", { class: "error", "data-form-error": true, role: "alert" }),
      h("div", { class: "actions" },
        h("button", { type: "button", class: "secondary", onclick: () => dialog.close() }, "Stop editing"),
        h("button", { type: "submit" }, "Save")));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      clearErrors(form);
      const body = { ...Object.fromEntries(new FormData(form)), id: row.id, version: row.version };
      try {
        await api(`/api/update_csv/${row.id}?by=id`, { method: "PUT", body });
        announce(`Account ${row.id} saved`);
        dialog.close();
      } catch (error) {
        if (!(error instanceof ApiError)) throw error;
        showErrors(form, error);
      }
    });
    dialog.addEventListener("close", () => {
      editing = null;
      send({ type: "unlock", id: row.id });
      dialog.remove();
    });
    dialog.append(form);
    document.body.append(dialog);
    dialog.showModal();
  }

  async function remove(row) {
    if (!(await confirmAction(`Delete account ${row.account_name || row.id}? Its history keeps it.`, "Delete"))) return;
    try {
      await api(`/api/delete_csv/${row.id}?by=id`, { method: "DELETE" });
      announce(`Account ${row.id} deleted`);
      await load();
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      problem.textContent = error.message;
    }
  }

  async function showHistory(row) {
    const answer = await api(`/api/accounts/${row.id}/history`);
    const lines = answer.versions.map((v) =>
      h("tr", {},
        h("th", { scope: "row" }, String(v.version)),
        h("td", {}, v.change),
        h("td", {}, v.changed_by ?? "—"),
        h("td", {}, when(v.changed_at)),
        h("td", {}, `P&L ${v.row.pnl}, margin ${v.row.margin}, max risk ${v.row.max_risk}`)));
    history.replaceChildren(h("section", { class: "panel" },
      table(`History of account ${row.account_name || row.id}`, ["Version", "Change", "By", "At", "Row"], lines)));
  }

  async function load() {
    rows = await api("/api/fetch_csv");
    draw();
  }

  add.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(add);
    try {
      const answer = await api("/api/add_csv", {
        method: "POST",
        body: { ...Object.fromEntries(new FormData(add)), user: session.user.username },
      });
      rows = answer.data;
      draw();
      announce("Account added");
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      showErrors(add, error);
    }
  });

  background(load());
  connect();
  return () => {
    closed = true;
    socket?.close(1000, "left the accounts table");
  };
}
