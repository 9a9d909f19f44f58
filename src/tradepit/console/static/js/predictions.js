import { h } from "./core.js";

export function predictionsScreen(container) {
  container.append(h("p", {}, "Coming soon"));
}
