// Reading the API's amounts and times for people.
const UNITS = {
  "": 1, m: 1e-3, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15,
  Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50,
};

// A Kubernetes quantity ("100m", "8Gi") as a number (cores, bytes); null stays null.
export function quantity(value) {
  if (value === null || value === undefined) return null;
  if (typeof value === "number") return value;
  const match = /^([0-9.]+)([a-zA-Z]*)$/.exec(String(value));
  if (!match) return Number(value);
  return Number(match[1]) * (UNITS[match[2]] ?? 1);
}

export function bytes(value) {
  if (value === null) return "—";
  const units = ["B", "Ki", "Mi", "Gi", "Ti", "Pi"];
  let n = value;
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i += 1;
  }
  return `${Number(n.toFixed(1))}${units[i]}`;
}

export function cores(value) {
  return value === null ? "—" : `${Number(value.toFixed(2))}`;
}

export function seconds(value) {
  if (value === null || value === undefined) return "—";
  const s = Math.round(value);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
  return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
}

export function time(iso) {
  if (!iso) return "—";
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : date.toLocaleString();
}

export function number(value, digits = 4) {
  if (value === null || value === undefined) return "—";
  return typeof value === "number" ? String(Number(value.toFixed(digits))) : String(value);
}

export function demand(amounts) {
  if (!amounts) return "—";
  const parts = [`cpu ${amounts.cpu}`, `mem ${amounts.memory}`];
  if (amounts.gpu) parts.push(`gpu ${amounts.gpu}`);
  return parts.join(" · ");
}

// A reported metric value: a number, or a non-finite one by name ("NaN"): not drawable.
export function plottable(value) {
  return typeof value === "number" && Number.isFinite(value) ? value : null;
}

export const FINISHED = new Set(["succeeded", "failed", "cancelled"]);
export const ACTIVE = new Set(["dispatching", "created", "running", "restarting", "cancelling"]);
