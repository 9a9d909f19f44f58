import { h } from "./core.js";

export function chainScreen(container) {
  container.append(h("p", {}, "Coming soon"));
}
