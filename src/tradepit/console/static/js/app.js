// The shell: who is logged in, the navigation, and which screen is on show (by the address's
// #fragment, so the browser's back button and bookmarks work).

import { ApiError, announce, api, clearErrors, field, h, session, showErrors } from "./core.js";
import * as live from "./live.js";
import { accountsScreen } from "./accounts.js";
import { adminScreen } from "./admin.js";
import { chainScreen } from "./chain.js";
import { predictionsScreen } from "./predictions.js";
import { tournamentsScreen } from "./tournaments.js";
import { tradeScreen } from "./trade.js";

const SCREENS = [
  { path: "trade", title: "Trade", render: tradeScreen },
  { path: "chain", title: "Option chain", render: chainScreen },
  { path: "predictions", title: "Predictions", render: predictionsScreen },
  { path: "tournaments", title: "Tournaments", render: tournamentsScreen },
  { path: "accounts", title: "Accounts", render: accountsScreen },
  { path: "admin", title: "Admin", render: adminScreen, admin: true },
];

const main = document.getElementById("main");
const nav = document.getElementById("nav");
const who = document.getElementById("who");
const logoutButton = document.getElementById("logout");
let leave = null; // the screen on show's clean-up

function isAdmin() {
  return ["admin", "superadmin"].includes(session.user?.role);
}

function route() {
  const [path, ...rest] = location.hash.replace(/^#\/?/, "").split("/");
  return { path: path || "trade", rest };
}

function show(content, title) {
  leave?.();
  leave = null;
  main.replaceChildren(content);
  document.title = `${title} · Tradepit`;
}

async function render() {
  if (!session.user) {
    showLogin();
    return;
  }
  const { path, rest } = route();
  const screen = SCREENS.find((s) => s.path === path && (!s.admin || isAdmin())) ?? SCREENS[0];
  for (const link of nav.querySelectorAll("a")) {
    if (link.dataset.path === screen.path) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  const container = h("section", { "aria-labelledby": "screen-title", class: `screen ${screen.path}` },
    h("h2", { id: "screen-title" }, screen.title));
  show(container, screen.title);
  leave = screen.render(container, rest) ?? null;
}

function showShell() {
  nav.replaceChildren(
    ...SCREENS.filter((s) => !s.admin || isAdmin()).map((s) =>
      h("a", { href: `#/${s.path}`, "data-path": s.path }, s.title)),
  );
  nav.hidden = false;
  logoutButton.hidden = false;
  who.textContent = `${session.user.username}${isAdmin() ? ` (${session.user.role})` : ""}`;
}

function hideShell() {
  nav.hidden = true;
  logoutButton.hidden = true;
  who.textContent = "";
}

function showLogin(reason = "") {
  hideShell();
  const login = h("form", { "aria-labelledby": "login-title", novalidate: true },
    h("h2", { id: "login-title" }, "Log in"),
    field("Username or email", { name: "login", autocomplete: "username", required: true }),
    field("Password", { name: "password", type: "password", autocomplete: "current-password", required: true }),
    h("p", { class: "error", "data-form-error": true, role: "alert" }, reason),
    h("button", { type: "submit" }, "Log in"));
  const signup = h("form", { "aria-labelledby": "signup-title", novalidate: true },
    h("h2", { id: "signup-title" }, "Sign up"),
    field("Email", { name: "email", type: "email", autocomplete: "email", required: true }),
    field("Username", { name: "username", autocomplete: "username", required: true }),
    field("Password", { name: "password", type: "password", autocomplete: "new-password", required: true }),
    h("p", { class: "hint" }, "8 or more characters with letters and digits. You start with ₹1,00,000 of paper money."),
    h("p", { class: "error", "data-form-error": true, role: "alert" }),
    h("button", { type: "submit" }, "Create account"));
  login.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(login);
    const form = new FormData(login);
    await logIn(login, form.get("login"), form.get("password"));
  });
  signup.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(signup);
    const form = Object.fromEntries(new FormData(signup));
    try {
      await api("/api/auth/signup", { method: "POST", body: form, auth: false });
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      showErrors(signup, error, (e) => (e.message.includes("assword") ? "password" : null));
      return;
    }
    await logIn(signup, form.username, form.password);
  });
  show(h("div", { class: "welcome" },
    h("p", {}, "Paper trading against a simulated or live market: practise with virtual money."),
    h("div", { class: "forms" }, login, signup)), "Log in");
}

async function logIn(form, login, password) {
  try {
    const answer = await api("/api/auth/login", {
      method: "POST",
      body: { username: login, password },
      auth: false,
    });
    session.token = answer.access_token;
    session.user = answer.user;
  } catch (error) {
    if (!(error instanceof ApiError)) throw error;
    showErrors(form, error);
    return;
  }
  enter();
}

function enter() {
  showShell();
  live.start();
  announce(`Logged in as ${session.user.username}`);
  if (!location.hash) location.hash = "#/trade";
  else render();
}

function end(reason) {
  session.token = null;
  session.user = null;
  live.stop();
  showLogin(reason);
}

logoutButton.addEventListener("click", async () => {
  try {
    await api("/api/auth/logout", { method: "POST" });
  } finally {
    end("");
    announce("Logged out");
  }
});

session.onExpired = (reason) => {
  if (session.user) end(`You were logged out: ${reason}. Log in again.`);
};

window.addEventListener("hashchange", () => {
  render();
  main.focus(); // keyboard and screen reader users land on the new screen
});

async function boot() {
  if (!session.token) {
    showLogin();
    return;
  }
  try {
    session.user = await api("/api/auth/me");
  } catch {
    session.token = null; // expired or revoked: the login screen, with no alarm
    showLogin();
    return;
  }
  enter();
}

boot();
