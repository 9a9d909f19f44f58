// The admin area (admins only; the shell shows it to no one else and the API refuses them):
// users, wallet adjustments, tournaments' lifecycle, broadcasts' progress and the audit log.

import {
  ApiError, announce, api, background, clearErrors, confirmAction, field, h, money, session,
  showErrors, table, time,
} from "./core.js";

const ROLES = ["user", "admin", "superadmin"];
const BROADCAST_POLL_MS = 2000;

function when(iso) {
  return iso ? `${iso.slice(0, 16).replace("T", " ")} UTC` : "—";
}

/** Run an admin action; a refusal is announced and shown in `where`. */
async function act(where, action) {
  try {
    await action();
    where.textContent = "";
    return true;
  } catch (error) {
    if (!(error instanceof ApiError)) throw error;
    where.textContent = error.message;
    announce(error.message);
    return false;
  }
}

function usersPanel(onUsers) {
  const box = h("section", { class: "panel", "aria-labelledby": "users-title" });
  const problem = h("p", { class: "error", role: "alert" });
  const superadmin = session.user.role === "superadmin";

  async function load() {
    const answer = await api("/api/admin/users?page_size=200");
    onUsers(answer.users);
    const rows = answer.users.map((u) => {
      const self = u.id === session.user.id;
      const roleSelect = superadmin && !self
        ? h("select", { "aria-label": `Role of ${u.username}`, onchange: (e) => setRole(u, e.target.value) },
            ...ROLES.map((r) => h("option", { value: r, selected: r === u.role }, r)))
        : u.role;
      return h("tr", {},
        h("th", { scope: "row" }, u.username),
        h("td", {}, u.email ?? "—"),
        h("td", {}, roleSelect),
        h("td", {}, u.is_active ? "active" : "deactivated"),
        h("td", {}, when(u.last_login_at)),
        h("td", {}, !self && (u.is_active
          ? h("button", { type: "button", class: "danger", "aria-label": `Deactivate ${u.username}`, onclick: () => toggle(u) }, "Deactivate")
          : h("button", { type: "button", "aria-label": `Activate ${u.username}`, onclick: () => toggle(u) }, "Activate"))));
    });
    box.replaceChildren(h("h3", { id: "users-title" }, "Users"), problem,
      table("Users", ["Username", "Email", "Role", "State", "Last login", ""], rows, "Nobody yet", true));
  }

  async function toggle(user) {
    const verb = user.is_active ? "deactivate" : "activate";
    if (user.is_active && !(await confirmAction(`Deactivate ${user.username}? They are logged out at once.`, "Deactivate"))) return;
    if (await act(problem, () => api(`/api/admin/users/${user.id}/${verb}`, { method: "PUT" }))) background(load());
  }

  async function setRole(user, role) {
    if (await act(problem, () => api(`/api/admin/users/${user.id}/role`, { method: "PUT", body: { role } }))) {
      announce(`${user.username} is now ${role}`);
    }
    background(load());
  }

  background(load());
  return box;
}

function walletPanel() {
  const userField = field("User", { name: "user", options: [] }, "select");
  const form = h("form", { "aria-labelledby": "wallet-title", novalidate: true },
    h("h3", { id: "wallet-title" }, "Wallet adjustment"),
    userField,
    h("div", { class: "row" },
      field("Currency", { name: "currency", options: [["INR", "INR"], ["USDT", "USDT"], ["USD", "USD"]] }, "select"),
      field("Amount", { name: "amount", type: "number", step: "any", inputmode: "decimal", required: true })),
    field("Reason", { name: "reason", required: true }),
    h("p", { class: "hint" }, "A negative amount debits."),
    h("p", { class: "error", "data-form-error": true, role: "alert" }),
    h("p", { role: "status", "data-result": true }),
    h("button", { type: "submit" }, "Adjust wallet"));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(form);
    const values = Object.fromEntries(new FormData(form));
    try {
      const done = await api(`/api/admin/users/${values.user}/wallet-adjustments`, {
        method: "POST",
        body: { currency: values.currency, amount: values.amount, reason: values.reason },
      });
      form.querySelector("[data-result]").textContent =
        `Done: balance ${money(done.balance_after, values.currency)}`;
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      showErrors(form, error, (e) => (e.code === "INSUFFICIENT_FUNDS" ? "amount" : null));
    }
  });
  return {
    element: form,
    users(list) {
      const select = userField.querySelector("select");
      const chosen = select.value;
      select.replaceChildren(...list.map((u) => h("option", { value: u.id, selected: String(u.id) === chosen }, u.username)));
    },
  };
}

function tournamentsPanel() {
  const list = h("div", {});
  const problem = h("p", { class: "error", role: "alert" });
  const form = h("form", { "aria-labelledby": "new-tournament-title", novalidate: true },
    h("h3", { id: "new-tournament-title" }, "New tournament"),
    field("Name", { name: "name", required: true }),
    h("div", { class: "row" },
      field("Starts (UTC)", { name: "start_time", type: "datetime-local", required: true }),
      field("Ends (UTC)", { name: "end_time", type: "datetime-local", required: true })),
    h("div", { class: "row" },
      field("Currency", { name: "currency", options: [["INR", "INR"], ["USDT", "USDT"], ["USD", "USD"]] }, "select"),
      field("Starting capital", { name: "starting_capital", type: "number", step: "any", value: "1000000" }),
      field("Entry fee", { name: "entry_fee", type: "number", step: "any", value: "0" }),
      field("Prize pool", { name: "prize_pool", type: "number", step: "any", value: "0" })),
    h("p", {}, h("label", {}, h("input", { type: "checkbox", name: "allow_late_entry" }), " Allow late entry (join while it runs)")),
    h("p", { class: "error", "data-form-error": true, role: "alert" }),
    h("button", { type: "submit" }, "Create tournament"));
  const box = h("section", { class: "panel", "aria-labelledby": "admin-tournaments-title" },
    h("h3", { id: "admin-tournaments-title" }, "Tournaments"), problem, list, form);

  async function defaults() {
    const status = await api("/api/status");
    const now = Date.parse(status.clock.now);
    const iso = (ms) => new Date(ms).toISOString().slice(0, 16);
    form.elements.namedItem("start_time").value = iso(now + 3600_000);
    form.elements.namedItem("end_time").value = iso(now + 86400_000);
  }

  async function load() {
    const tournaments = await api("/api/tournaments");
    const button = (t, verb, label, danger) =>
      h("button", { type: "button", class: danger ? "danger" : "", "aria-label": `${label} ${t.name}`, onclick: () => lifecycle(t, verb, label, danger) }, label);
    const rows = tournaments.map((t) =>
      h("tr", {},
        h("th", { scope: "row" }, t.name),
        h("td", {}, t.status),
        h("td", {}, when(t.start_time)),
        h("td", {}, when(t.end_time)),
        h("td", {}, String(t.participants)),
        h("td", {},
          t.status === "scheduled" && button(t, "start", "Start now"),
          t.status === "running" && button(t, "end", "End now", true),
          t.status === "scheduled" && button(t, "delete", "Delete", true))));
    list.replaceChildren(table("All tournaments", ["Name", "Status", "Starts", "Ends", "Players", ""], rows, "None yet"));
  }

  async function lifecycle(t, verb, label, destructive) {
    if (destructive && !(await confirmAction(`${label}: ${t.name}?`, label))) return;
    const path = `/api/admin/tournaments/${t.id}`;
    const call = verb === "delete" ? api(path, { method: "DELETE" }) : api(`${path}/${verb}`, { method: "POST" });
    if (await act(problem, () => call)) announce(`${t.name}: ${label.toLowerCase()} done`);
    background(load());
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(form);
    const { allow_late_entry: late, ...values } = Object.fromEntries(new FormData(form));
    const body = {
      ...values,
      start_time: `${values.start_time}:00Z`,
      end_time: `${values.end_time}:00Z`,
      rules: { allow_late_entry: late === "on" },
    };
    try {
      const made = await api("/api/admin/tournaments", { method: "POST", body });
      announce(`Tournament ${made.name} created`);
      form.elements.namedItem("name").value = "";
      background(load());
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      showErrors(form, error);
    }
  });
  background(defaults());
  background(load());
  return box;
}

function broadcastsPanel() {
  const list = h("div", {});
  const form = h("form", { "aria-labelledby": "broadcast-title", novalidate: true },
    h("h4", { id: "broadcast-title" }, "Broadcast an order"),
    h("p", { class: "hint" }, "To every active linked account (the accounts table); the queue sends it with retries."),
    h("div", { class: "row" },
      field("Symbol", { name: "symbol", value: "RELIANCE", autocomplete: "off", required: true }),
      field("Side", { name: "side", options: [["BUY", "BUY"], ["SELL", "SELL"]] }, "select"),
      field("Lots", { name: "lots", type: "number", step: "any", min: "0", value: "1", inputmode: "decimal" })),
    h("p", { class: "error", "data-form-error": true, role: "alert" }),
    h("button", { type: "submit" }, "Broadcast"));
  const box = h("section", { class: "panel", "aria-labelledby": "broadcasts-title" },
    h("h3", { id: "broadcasts-title" }, "Broadcasts"), list,
    session.user.role === "superadmin" ? form : h("p", { class: "hint" }, "A superadmin broadcasts orders."));

  async function load() {
    const answer = await api("/api/broadcast_status?limit=20");
    const rows = answer.broadcasts.map((b) => {
      const { total = 0, executed = 0, failed = 0 } = b.progress;
      const states = Object.entries(b.progress).filter(([k]) => k !== "total").map(([k, n]) => `${k} ${n}`);
      return h("tr", {},
        h("th", { scope: "row" }, String(b.id)),
        h("td", {}, `${b.side} ${b.symbol}`),
        h("td", {}, time(b.created_at)),
        h("td", {}, h("progress", { max: total || 1, value: executed + failed, "aria-label": `Broadcast ${b.id} progress` })),
        h("td", {}, `${states.join(", ")} of ${total}`));
    });
    list.replaceChildren(table("Broadcasts", ["#", "Order", "Sent at (UTC)", "Progress", "Targets"], rows, "No broadcasts", true));
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(form);
    try {
      const made = await api("/api/broadcast_orders", { method: "POST", body: Object.fromEntries(new FormData(form)) });
      announce(made.message);
      background(load());
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      showErrors(form, error);
    }
  });
  background(load());
  const timer = setInterval(() => background(load()), BROADCAST_POLL_MS);
  return { element: box, stop: () => clearInterval(timer) };
}

function auditPanel() {
  const box = h("section", { class: "panel", "aria-labelledby": "audit-title" });
  async function load() {
    const answer = await api("/api/admin/audit-log?page_size=50");
    const rows = answer.entries.map((e) =>
      h("tr", {},
        h("th", { scope: "row" }, when(e.at)),
        h("td", {}, e.actor ?? "—"),
        h("td", {}, e.action),
        h("td", {}, e.target ?? "—"),
        h("td", {}, e.result),
        h("td", {}, e.ip ?? "—")));
    box.replaceChildren(h("h3", { id: "audit-title" }, "Audit log"),
      h("button", { type: "button", class: "secondary", onclick: () => background(load()) }, "Refresh"),
      table("Audit log", ["When", "Who", "Action", "Target", "Result", "Address"], rows, "Nothing yet", true));
  }
  background(load());
  return box;
}

export function adminScreen(container) {
  const wallet = walletPanel();
  const broadcasts = broadcastsPanel();
  container.append(h("div", { class: "grid" },
    usersPanel((users) => wallet.users(users)),
    wallet.element,
    tournamentsPanel(),
    broadcasts.element,
    auditPanel()));
  return () => broadcasts.stop();
}
