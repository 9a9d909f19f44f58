// The console's plumbing: building elements, calling the API, formatting numbers, confirming.

const TOKEN_KEY = "tradepit.token";

/** Build an element: h("button", {type: "button", onclick}, "Cancel"). */
export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on")) element.addEventListener(name.slice(2), value);
    else if (name === "class") element.className = value;
    else if (name === "text") element.textContent = value;
    else if (name in element && typeof value !== "string") element[name] = value;
    else element.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child instanceof Node ? child : String(child));
  }
  return element;
}

/** A refusal of the API: its status, code, message and the form field it names, if any. */
export class ApiError extends Error {
  constructor(status, body) {
    super(ApiError.describe(body, status));
    this.status = status;
    this.code = body?.code ?? body?.error?.code ?? "";
    this.fields = ApiError.fields(body);
  }

  static describe(body, status) {
    if (typeof body?.message === "string") return body.message;
    if (typeof body?.detail === "string") return body.detail;
    return `the server answered ${status}`;
  }

  /** Map a validation error's fields (body.price → price) to their messages. */
  static fields(body) {
    const found = {};
    if (Array.isArray(body?.detail)) {
      for (const item of body.detail) {
        const [name] = (item.loc ?? []).filter((part) => part !== "body"); // take_profit.price: take_profit
        if (name) found[name] = item.msg;
      }
    }
    return found;
  }
}

export const session = {
  get token() {
    return localStorage.getItem(TOKEN_KEY);
  },
  set token(value) {
    if (value) localStorage.setItem(TOKEN_KEY, value);
    else localStorage.removeItem(TOKEN_KEY);
  },
  user: null,
  /** Called when the API refuses the token (401): the shell shows the login screen. */
  onExpired: () => {},
};

/** Call the API; JSON in and out. Throws ApiError for any answer that is not 2xx. */
export async function api(path, { method = "GET", body, auth = true } = {}) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (auth && session.token) headers.Authorization = `Bearer ${session.token}`;
  const response = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: "omit",
  });
  const text = await response.text();
  const data = text ? JSON.parse(text) : null;
  if (!response.ok) {
    const error = new ApiError(response.status, data);
    if (response.status === 401 && auth) session.onExpired(error.message);
    throw error;
  }
  return data;
}

/** Run a load in the background: a refusal is announced (a 401 has already led to the
 * login screen), anything else is a bug and surfaces. */
export function background(promise) {
  promise.catch((error) => {
    if (!(error instanceof ApiError)) throw error;
    if (error.status !== 401) announce(error.message);
  });
}

// Numbers: grouped the way each currency's users read them (1,00,000 in INR), with the sign.

const LOCALES = { INR: "en-IN" };
const ISO = new Set(["INR", "USD"]);

function formatter(currency, digits) {
  const locale = LOCALES[currency] ?? "en-US";
  const options = { minimumFractionDigits: digits, maximumFractionDigits: digits };
  if (ISO.has(currency)) Object.assign(options, { style: "currency", currency });
  return new Intl.NumberFormat(locale, options);
}

/** "₹1,00,000.00", "$12.50", "1,234.5600 USDT". */
export function money(value, currency = "INR", digits = 2) {
  const number = Number(value ?? 0);
  const text = formatter(currency, digits).format(number);
  return ISO.has(currency) ? text : `${text} ${currency}`;
}

/** A signed amount: "+₹12.00" / "−₹3.40". */
export function signedMoney(value, currency = "INR") {
  const number = Number(value ?? 0);
  const text = money(Math.abs(number), currency);
  if (number > 0) return `+${text}`;
  if (number < 0) return `−${text}`;
  return text;
}

/** A price or quantity with grouping: 29,209.05. */
export function number(value, digits = 2, currency = "INR") {
  if (value === null || value === undefined || value === "") return "—";
  const locale = LOCALES[currency] ?? "en-US";
  const options = { minimumFractionDigits: digits, maximumFractionDigits: digits };
  return new Intl.NumberFormat(locale, options).format(Number(value));
}

export function percent(value) {
  const n = Number(Number(value ?? 0).toFixed(2)); // -0.001 reads 0.00%, not −0.00%
  const text = `${Math.abs(n).toFixed(2)}%`;
  return n > 0 ? `+${text}` : n < 0 ? `−${text}` : text;
}

/** The class that colours a figure by its sign. */
export function signClass(value) {
  const n = Number(value ?? 0);
  return n > 0 ? "up" : n < 0 ? "down" : "flat";
}

/** A coloured, signed figure. */
export function signed(value, text) {
  return h("span", { class: signClass(value) }, text);
}

export function time(iso) {
  if (!iso) return "—";
  return new Date(iso).toLocaleTimeString("en-GB", { timeZone: "UTC" });
}

/** Ask a question in the page's <dialog>; resolve true when confirmed. */
export function confirmAction(question, action = "Confirm") {
  const dialog = document.getElementById("confirm");
  dialog.querySelector("#confirm-text").textContent = question;
  dialog.querySelector("#confirm-yes").textContent = action;
  dialog.returnValue = "";
  dialog.showModal();
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "yes"), { once: true });
  });
}

/** Say something in the live region (read out by screen readers). */
export function announce(message) {
  const status = document.getElementById("status");
  status.textContent = message;
}

/** Show `error` next to the field it names, or in the form's own error line. */
export function showErrors(form, error, fieldOf = () => null) {
  clearErrors(form);
  const named = Object.entries(error.fields ?? {});
  const placed = [];
  for (const [field, message] of named) placed.push(markField(form, field, message));
  const field = fieldOf(error);
  if (!named.length && field) placed.push(markField(form, field, error.message));
  if (!placed.some(Boolean)) {
    const line = form.querySelector("[data-form-error]");
    line.textContent = error.message;
  }
}

function markField(form, field, message) {
  const input = form.elements.namedItem(field);
  const line = form.querySelector(`[data-error-for="${field}"]`);
  if (!input || !line) return false;
  input.setAttribute("aria-invalid", "true");
  line.textContent = message;
  return true;
}

export function clearErrors(form) {
  for (const line of form.querySelectorAll("[data-error-for], [data-form-error]")) {
    line.textContent = "";
  }
  for (const input of form.querySelectorAll("[aria-invalid]")) input.removeAttribute("aria-invalid");
}

/** A labelled input with its error line: field("Price", {name: "price", type: "number"}). */
export function field(label, attributes, control = "input") {
  const id = `f-${attributes.name}-${Math.random().toString(36).slice(2, 7)}`;
  const errorId = `${id}-error`;
  const input =
    control === "select"
      ? h("select", { id, name: attributes.name, "aria-describedby": errorId },
          ...attributes.options.map(([value, text]) => h("option", { value }, text)))
      : h("input", { id, "aria-describedby": errorId, ...attributes });
  return h("div", { class: "field" },
    h("label", { for: id }, label),
    input,
    h("p", { class: "error", id: errorId, "data-error-for": attributes.name }));
}

/** A table with a caption (heard, not shown, when a heading above says it: `quiet`); rows is
 * a list of <tr>. */
export function table(caption, headings, rows, empty = "Nothing yet", quiet = false) {
  const body = h("tbody", {}, rows.length ? rows : h("tr", {}, h("td", { colspan: headings.length }, empty)));
  return h("div", { class: "scroll" },
    h("table", {},
      h("caption", { class: quiet ? "visually-hidden" : "" }, caption),
      h("thead", {}, h("tr", {}, headings.map((text) => h("th", { scope: "col" }, text)))),
      body));
}
