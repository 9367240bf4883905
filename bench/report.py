"""Render bench/results/latest.json as Markdown tables."""

from __future__ import annotations

from typing import Any


def _cell(s: dict[str, float] | None, unit: str = " s", digits: int = 1) -> str:
    if not s:
        return "-"
    if s["n"] == 1:
        return f"{s['median']:.{digits}f}{unit}"
    return (f"{s['median']:.{digits}f}{unit} ({s['min']:.{digits}f}-{s['max']:.{digits}f}, "
            f"n={s['n']})")


def _load(s: dict[str, float] | None) -> str:
    if not s:
        return ""
    return (f"load average during the runs: {s['min']:.1f}-{s['max']:.1f} "
            f"(median {s['median']:.1f})")


def _ratio(point: dict) -> str:
    """swarmctl's median provision time over the floor's, for one node count."""
    base = (point.get("baseline") or {}).get("median")
    return f"{point['provision']['median'] / base:.2f}x" if base else "-"


def render(doc: dict[str, Any]) -> str:
    m = doc.get("machine", {})
    lines = [
        "# swarmctl benchmark results",
        "",
        "Figures: median (min-max, n = rounds). Regenerate with `python -m bench all`.",
        "",
        "| cores | memory | distro | kernel | Docker engine | ansible-core | swarmctl | commit |",
        "|---|---|---|---|---|---|---|---|",
        f"| {m.get('cores')} | {m.get('memory_gib')} GiB | {m.get('distro')} | "
        f"{m.get('kernel')} | {m.get('docker_engine')} | {m.get('ansible_core')} | "
        f"{m.get('swarmctl')} | {m.get('git_commit')} |",
        "",
    ]
    p = doc.get("provision")
    if p:
        what = "bare nodes → converged swarm" + (" with my-web running" if p["with_deploy"]
                                                 else "")
        lines += [
            f"## Provisioning {p['nodes']}: {what}",
            "",
            f"Measured {p['date']}, each round on fresh lab nodes; {_load(p.get('load_average'))}.",
            "",
            "| | time |",
            "|---|---|",
            f"| swarmctl (`provision`{' + `images load` + `deploy`' if p['with_deploy'] else ''}) "
            f"| {_cell(p['swarmctl_total'])} |",
            f"| swarmctl `provision` alone (incl. preflight checks) | "
            f"{_cell(p['swarmctl_provision'])} |",
        ]
        if p.get("swarmctl_deploy"):
            lines.append(f"| swarmctl `images load` + `deploy` | {_cell(p['swarmctl_deploy'])} |")
        lines += [
            f"| parallel-SSH floor (`bench/baseline.py`) | {_cell(p['baseline_total'])} |",
        ]
        if p.get("baseline_deploy"):
            lines.append(f"| floor: image load + `docker service create` | "
                         f"{_cell(p['baseline_deploy'])} |")
        lines += [
            f"| **ratio swarmctl / floor** | **{_cell(p['ratio'], 'x', 2)}** |",
            f"| idempotent re-run of `provision` | {_cell(p.get('rerun_seconds'))}, "
            f"changed = {', '.join(str(c) for c in p.get('rerun_changed') or [])} |",
            f"| controller CPU of `provision` (user+sys, all processes) | "
            f"{_cell(p.get('swarmctl_provision_cpu'))} |",
            f"| controller CPU of a re-run | {_cell(p.get('rerun_cpu'))} |",
            f"| controller peak memory (process tree RSS) | "
            f"{_cell(p.get('controller_tree_peak_mib'), ' MiB', 0)} |",
            "",
        ]
    s = doc.get("scale")
    if s and s.get("points"):
        has_base = any(pt.get("baseline") for pt in s["points"] if not pt.get("error"))
        lines += [
            "## Scale: `swarmctl provision` by node count (3 managers, the rest workers)",
            "",
            f"Measured {s['date']}; forks = number of hosts (capped at 50).",
            "",
            "| nodes | forks | provision | per node | controller CPU | re-run "
            "| controller peak RSS "
            "| largest process | load average |" + (" floor | ratio |" if has_base else ""),
            "|---|---|---|---|---|---|---|---|---|" + ("---|---|" if has_base else ""),
        ]
        for pt in s["points"]:
            if pt.get("error"):
                lines.append(f"| {pt['nodes']} | failed: {pt['error']} |")
                continue
            la = pt.get("load_average") or {}
            lines.append(
                f"| {pt['nodes']} | {pt['forks']} | {_cell(pt['provision'])} | "
                f"{_cell(pt['per_node'])} | {_cell(pt.get('cpu'))} | {_cell(pt.get('rerun'))} | "
                f"{_cell(pt['controller_tree_peak_mib'], ' MiB', 0)} | "
                f"{_cell(pt['largest_process_mib'], ' MiB', 0)} | "
                f"{la.get('min', 0):.0f}-{la.get('max', 0):.0f} |"
                + (f" {_cell(pt.get('baseline'))} | {_ratio(pt)} |" if has_base else ""))
        lines.append("")
    r = doc.get("rerun")
    if r:
        has_base = any("baseline" in pt for pt in r["points"])
        lines += [
            "## Converged re-run (one read) next to every task walked",
            "",
            f"Measured {r['date']} (`python -m bench.rerun`); wall time, then controller "
            "CPU; `--full` walks every task as every re-run did before"
            + (f"; baseline: `provision` of {r.get('baseline_src')}" if has_base else "")
            + ".",
            "",
        ]
        first = r.get("first")
        if first:
            lines += [f"First build of {first['nodes']} bare nodes, alternating: "
                      f"{_cell(first['ours']['seconds'])} against the baseline's "
                      f"{_cell(first['baseline']['seconds'])}, ratio "
                      f"{_cell(first['ratio'], 'x', 2)}.", ""]
        lines += [
            "| nodes | first provision | re-run | re-run CPU | `--full` | `--full` CPU |"
            + (" baseline | baseline CPU |" if has_base else "") + " changed | load |",
            "|---|---|---|---|---|---|" + ("---|---|" if has_base else "") + "---|---|",
        ]
        for pt in r["points"]:
            kinds = ["rerun", "full"] + (["baseline"] if has_base else [])
            changed = sorted({str(c) for k in kinds for c in pt[k]["changed"]})
            la = pt.get("load") or [0, 0, 0]
            lines.append(
                f"| {pt['nodes']} | {pt['first']['seconds']:.1f} s | "
                + " | ".join(f"{_cell(pt[k]['seconds'])} | {_cell(pt[k]['cpu'])}"
                             for k in kinds)
                + f" | {', '.join(changed)} | {la[0]:.1f} |")
        lines.append("")
    t = doc.get("startup")
    if t:
        lines += [
            "## Start-up",
            "",
            f"Measured {t['date']}.",
            "",
            "| command | time |",
            "|---|---|",
        ]
        for label, val in t.items():
            if isinstance(val, dict) and "median" in val:
                name = (f"`{label.removesuffix(' (CPU)')}`, CPU user+sys"
                        if label.endswith(" (CPU)") else f"`{label}`, wall")
                lines.append(f"| {name} | {_cell(val, ' ms', 0)} |")
        lines.append("")
    u = doc.get("upgrade")
    if u:
        lines += [
            "## Rolling engine upgrade under load",
            "",
            "`python -m bench upgrade [--workers N]` (containerd "
            "1.6.20~ds1-1+deb12u2 → deb12u3, my-web 2 replicas in host mode, bench.load on "
            "every node's 8080); the latest run of each lab shape.",
            "",
            "| lab | measured | requests sent | failed | longest gap | upgrade | per node "
            "(drain → restore) | leader changes | second run | load |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        for r in u.get("rounds", []):
            per = ", ".join(f"{h.rsplit('-', 1)[-1]} {v:.0f} s" for h, v in r["per_node"].items()
                            if v is not None)
            when = r.get("date", u["date"]) + (f", {r['commit']}" if r.get("commit") else "")
            lines.append(
                f"| {r['nodes']} | {when} | {r['sent']} | {r['failed']} | "
                f"{r['longest_gap']:.2f} s | "
                f"{r['upgrade_seconds']:.0f} s | {per} | {r['leader_changes']} | "
                f"{r['second_run_seconds']:.0f} s, changed {r['second_run_changed']} | "
                f"{r['load_before']:.0f}-{r['load_after']:.0f} |")
        lines.append("")
    f = doc.get("faults")
    if f:
        lines += [
            "## Faults under load",
            "",
            f"Measured {f['date']}: `python -m bench faults` on one {f['nodes']} lab "
            f"(seed {f['seed']}; my-web in host mode, bench.load on every node's 8080, "
            f"a request every {f['interval']} s, {f['timeout']} s timeout per node).",
            "",
            "| scenario | requests sent | failed | longest gap | healthy after | lost | "
            "checks | figures |",
            "|---|---|---|---|---|---|---|---|",
        ]
        from bench.faults import key_figure, lost_text

        for r in f.get("scenarios", []):
            healthy = "-" if r["time_to_healthy"] is None else f"{r['time_to_healthy']:.0f} s"
            lines.append(
                f"| {r['scenario']} | {r['sent']} | {r['failed']} | {r['longest_gap']:.2f} s | "
                f"{healthy} | {lost_text(r['lost'])} | {'ok' if r['ok'] else 'FAILED'} | "
                f"{key_figure(r)} |")
        lines.append("")
    return "\n".join(lines)
