import { h } from "./core.js";

export function tournamentsScreen(container) {
  container.append(h("p", {}, "Coming soon"));
}
