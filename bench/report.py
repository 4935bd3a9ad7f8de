"""What a run reports: a table on the terminal, the targets, a JSON file and a plot."""

import json
from pathlib import Path
from typing import Any

from .scenarios import OVERLOAD_POOL_TIMEOUT, SCENARIOS

REJECTION_SLACK_MS = 100.0
"""A 503 for a full pool counts as on time within the pool timeout plus this."""
RATIO_TARGET = 0.70
RATIO_SCENARIOS = ("read", "reserve_spread")
COLOURS = {
    "L0": "tab:gray",
    "L1": "tab:green",
    "L2": "tab:orange",
    "L3": "tab:blue",
    "L4": "tab:red",
}


def _number(value: Any, digits: int = 1) -> str:
    if value is None:
        return "-"
    return f"{value:,.{digits}f}"


def progress(entry: dict[str, Any]) -> None:
    mark = "" if entry["valid"] else "  INVALID: " + "; ".join(entry["broken"])
    print(
        f"{entry['rung']} {entry['scenario']:<15} {entry['mode']:<10} {entry['load']:>6g}"
        f"  {_number(entry['rps']):>10}/s  p50 {_number(entry['p50_ms'], 2):>8} ms"
        f"  p99 {_number(entry['p99_ms'], 2):>8} ms{mark}",
        flush=True,
    )


def table(results: list[dict[str, Any]]) -> str:
    header = (
        f"{'rung':<4} {'scenario':<15} {'mode':<10} {'load':>6} {'req/s':>10} {'p50 ms':>8}"
        f" {'p99 ms':>8} {'2xx':>8} {'409':>6} {'503':>6} {'other':>6} {'pool':>4}"
        f" {'cpu/req':>7}  valid"
    )
    lines = [header, "-" * len(header)]
    for entry in sorted(results, key=lambda e: (e["scenario"], e["mode"], e["rung"], e["load"])):
        lines.append(
            f"{entry['rung']:<4} {entry['scenario']:<15} {entry['mode']:<10} {entry['load']:>6g}"
            f" {_number(entry['rps']):>10} {_number(entry['p50_ms'], 2):>8}"
            f" {_number(entry['p99_ms'], 2):>8} {entry['ok']:>8} {entry['conflicts_409']:>6}"
            f" {entry['rejected_503']:>6} {entry['unintended']:>6}"
            f" {entry.get('pool_peak') if entry.get('pool_peak') is not None else '-':>4}"
            f" {_number(entry.get('server_cpu_ms_per_request'), 2):>7}"
            f"  {'yes' if entry['valid'] else 'INVALID'}"
        )
    return "\n".join(lines)


def peak(results: list[dict[str, Any]], rung: str, scenario: str) -> float | None:
    values = [
        entry["rps"]
        for entry in results
        if entry["rung"] == rung
        and entry["scenario"] == scenario
        and entry["mode"] in ("wrk", "pgbench", "driver")
    ]
    return max(values) if values else None


def ratios(results: list[dict[str, Any]]) -> dict[str, dict[str, float | None]]:
    """Each rung's best throughput as a fraction of the rungs beneath it, per scenario."""
    pairs = (("L4", "L3"), ("L4", "L0"), ("L3", "L0"), ("L3", "L2"), ("L2", "L1"), ("L4", "L1"))
    found: dict[str, dict[str, float | None]] = {}
    for scenario in SCENARIOS:
        row = {}
        for upper, lower in pairs:
            top, bottom = peak(results, upper, scenario), peak(results, lower, scenario)
            row[f"{upper}/{lower}"] = top / bottom if top and bottom else None
        if any(value is not None for value in row.values()):
            found[scenario] = row
    return found


def cpu_per_request(results: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """The server's CPU time per request in the closed-loop runs, per scenario and rung."""
    found: dict[str, dict[str, float]] = {}
    for scenario in SCENARIOS:
        for rung in ("L0", "L3", "L4"):
            values = sorted(
                entry["server_cpu_ms_per_request"]
                for entry in results
                if entry["rung"] == rung
                and entry["scenario"] == scenario
                and entry["mode"] == "wrk"
                and entry.get("server_cpu_ms_per_request") is not None
            )
            if values:
                found.setdefault(scenario, {})[rung] = values[len(values) // 2]
    return found


def _find(results: list[dict[str, Any]], rung: str, mode: str) -> dict[str, Any] | None:
    return next(
        (
            e
            for e in results
            if e["rung"] == rung and e["scenario"] == "overload" and e["mode"] == mode
        ),
        None,
    )


def targets(results: list[dict[str, Any]], found: dict[str, Any]) -> list[dict[str, Any]]:
    verdicts = []
    for scenario in RATIO_SCENARIOS:
        ratio = found.get(scenario, {}).get("L4/L3")
        if ratio is not None:
            verdicts.append(
                {
                    "target": f"{scenario}: L4 >= {RATIO_TARGET:.0%} of L3's throughput",
                    "measured": f"{ratio:.0%}",
                    "pass": ratio >= RATIO_TARGET,
                }
            )
    capacity, overload = _find(results, "L4", "capacity"), _find(results, "L4", "overload")
    if overload is not None:
        verdicts.append(
            {
                "target": "overload: no unintended errors (only 2xx and 503)",
                "measured": f"{overload['unintended']} unintended, statuses"
                f" 2xx={overload['ok']} 503={overload['rejected_503']}",
                "pass": overload["unintended"] == 0,
            }
        )
        verdicts.append(
            {
                "target": "overload: every 503 carries Retry-After",
                "measured": f"{overload['missing_retry_after']} of {overload['rejected_503']}"
                " without",
                "pass": overload["missing_retry_after"] == 0,
            }
        )
        limit = OVERLOAD_POOL_TIMEOUT * 1000 + REJECTION_SLACK_MS
        slowest = overload.get("rejected_max_ms")
        verdicts.append(
            {
                "target": f"overload: every 503 within the pool timeout"
                f" ({OVERLOAD_POOL_TIMEOUT * 1000:.0f} ms + {REJECTION_SLACK_MS:.0f} ms)",
                "measured": f"slowest 503 {_number(slowest)} ms",
                "pass": slowest is None or slowest <= limit,
            }
        )
        if capacity is not None and capacity["p99_ms"] and overload["p99_ms"]:
            verdicts.append(
                {
                    "target": "overload: p99 of served requests <= 2x p99 at capacity",
                    "measured": f"{overload['p99_ms']:.1f} ms vs {capacity['p99_ms']:.1f} ms"
                    f" ({overload['p99_ms'] / capacity['p99_ms']:.1f}x)",
                    "pass": overload["p99_ms"] <= 2 * capacity["p99_ms"],
                }
            )
    return verdicts


def plot(results: list[dict[str, Any]], path: Path, names: dict[str, str]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    scenarios = [s for s in SCENARIOS if any(e["scenario"] == s for e in results)]
    figure, axes = plt.subplots(
        2, len(scenarios), figsize=(4 * len(scenarios), 7), squeeze=False, sharex=True
    )
    for column, scenario in enumerate(scenarios):
        for rung in ("L0", "L1", "L2", "L3", "L4"):
            points = sorted(
                (e["load"], e["rps"], e["p99_ms"])
                for e in results
                if e["rung"] == rung
                and e["scenario"] == scenario
                and e["mode"] in ("wrk", "pgbench", "driver")
            )
            if not points:
                continue
            loads = [p[0] for p in points]
            style = {
                "marker": "o",
                "color": COLOURS[rung],
                "label": f"{rung} {names.get(rung, '')}",
            }
            axes[0][column].plot(loads, [p[1] for p in points], **style)
            axes[1][column].plot(loads, [p[2] or 0 for p in points], **style)
        axes[0][column].set_title(scenario)
        axes[1][column].set_xlabel("concurrency")
        for row in (0, 1):
            axes[row][column].set_xscale("log", base=2)
            axes[row][column].grid(True, alpha=0.3)
        axes[1][column].set_yscale("log")
    axes[0][0].set_ylabel("throughput (req/s, transactions/s)")
    axes[1][0].set_ylabel("p99 latency (ms)")
    legend: dict[str, Any] = {}
    for axis in axes[0]:
        for handle, label in zip(*axis.get_legend_handles_labels(), strict=True):
            legend.setdefault(label, handle)
    ordered = sorted(legend)
    figure.legend([legend[label] for label in ordered], ordered, loc="lower center", ncol=5)
    figure.tight_layout(rect=(0, 0.06, 1, 1))
    figure.savefig(path, dpi=110)
    plt.close(figure)


def write(out: Path, results: list[dict[str, Any]], meta: dict[str, Any]) -> dict[str, Any]:
    out.mkdir(parents=True, exist_ok=True)
    found = ratios(results)
    verdicts = targets(results, found)
    valid = all(entry["valid"] for entry in results)
    print()
    print(table(results))
    print()
    print("throughput ratios (best over the concurrency sweep):")
    for scenario, row in found.items():
        cells = "  ".join(f"{pair} {value:.0%}" for pair, value in row.items() if value)
        print(f"  {scenario:<15} {cells}")
    print()
    print("server CPU per request, ms (median over the concurrency sweep):")
    for scenario, row in cpu_per_request(results).items():
        cells = "  ".join(f"{rung} {value:.2f}" for rung, value in row.items())
        print(f"  {scenario:<15} {cells}")
    print()
    print("open-loop runs (latency from each request's scheduled send):")
    for entry in results:
        if entry["mode"] in ("fixed-rate", "capacity", "overload"):
            print(
                f"  {entry['rung']} {entry['scenario']:<15} {entry['mode']:<10}"
                f" {entry['load']:>6g}/s offered, {_number(entry['rps'])}/s served,"
                f" p50 {_number(entry['p50_ms'])} ms, p99 {_number(entry['p99_ms'])} ms,"
                f" 503: {entry['rejected_503']} (p99 {_number(entry.get('rejected_p99_ms'))} ms,"
                f" max {_number(entry.get('rejected_max_ms'))} ms),"
                f" generator lag p99 {_number(entry.get('lag_p99_ms'))} ms"
            )
    print()
    print("targets:")
    for verdict in verdicts:
        print(
            f"  {'PASS' if verdict['pass'] else 'MISS'}  {verdict['target']}: {verdict['measured']}"
        )
    invalid = [e for e in results if not e["valid"]]
    print()
    print("all runs valid" if valid else f"{len(invalid)} runs INVALID")
    summary = {
        "meta": meta,
        "valid": valid,
        "ratios": found,
        "cpu_ms_per_request": cpu_per_request(results),
        "targets": verdicts,
        "results": results,
    }
    (out / "benchmarks.json").write_text(json.dumps(summary, indent=2) + "\n")
    plot(results, out / "benchmarks.png", meta.get("rung_names", {}))
    print(f"wrote {out / 'benchmarks.json'} and {out / 'benchmarks.png'}")
    return summary
