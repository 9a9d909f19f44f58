import { h } from "./core.js";

export function adminScreen(container) {
  container.append(h("p", {}, "Coming soon"));
}
