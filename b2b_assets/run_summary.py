"""The in-process executor, reporting the run as a person follows it: a line per finished layer,
then a short summary of what needs attention.

The summary lists, per raw object, rows quarantined (with reasons) and malformed references, the
landing files that are no object of their source, each failed asset with its cause in one line,
and the assets not built because an input failed (nothing below a failed input is published).
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from dagster import DagsterEvent, Executor, InitExecutorContext, executor, in_process_executor

from b2b_assets.console import asset_of_step, error_line
from b2b_assets.sources.load_checks import LANDING_CHECK, QUARANTINE_CHECK, SUPERSEDED

# Examples listed per kind of problem before the rest is counted.
SHOWN = 8
# Checks whose failures the summary already tells in its own lines.
SUMMARIZED = {QUARANTINE_CHECK, LANDING_CHECK}


def metadata_values(event: DagsterEvent) -> dict[str, Any]:
    """A materialization's metadata as plain values."""
    metadata = event.step_materialization_data.materialization.metadata
    return {name: getattr(value, "value", value) for name, value in metadata.items()}


@dataclass
class RunReport:
    """What the run's step events said, gathered as they pass."""

    planned: list[str]
    started: float = field(default_factory=time.monotonic)
    built: set[str] = field(default_factory=set)
    failed: dict[str, str] = field(default_factory=dict)
    loads: dict[str, dict[str, Any]] = field(default_factory=dict)
    failed_checks: list[str] = field(default_factory=list)
    layers_done: set[str] = field(default_factory=set)

    def layer_steps(self) -> dict[str, list[str]]:
        layers: dict[str, list[str]] = defaultdict(list)
        for step in self.planned:
            layers[asset_of_step(step).split("/")[0]].append(step)
        return layers

    def take(self, event: DagsterEvent) -> None:
        step = event.step_key or ""
        if event.is_step_success:
            self.built.add(step)
        elif event.is_step_failure:
            self.failed[step] = error_line(event)
        elif event.is_step_materialization:
            self.loads[step] = metadata_values(event)
        elif event.event_type_value == "ASSET_CHECK_EVALUATION":
            evaluation = event.asset_check_evaluation_data
            if not evaluation.passed:
                self.failed_checks.append(
                    f"{evaluation.asset_key.to_user_string()}:{evaluation.check_name}"
                )

    def finished_layers(self, final: bool = False) -> list[str]:
        """Layers whose every step has ended since the last call (with `final`, every layer not
        reported yet), as progress lines."""
        lines = []
        done = self.built | set(self.failed)
        for layer, steps in self.layer_steps().items():
            if layer in self.layers_done or not (final or all(step in done for step in steps)):
                continue
            self.layers_done.add(layer)
            built = sum(step in self.built for step in steps)
            failed = sum(step in self.failed for step in steps)
            line = f"{layer}: {built} of {len(steps)} assets built"
            if failed:
                line += f", {failed} failed"
            if len(steps) - built - failed:
                line += f", {len(steps) - built - failed} not built"
            lines.append(line)
        return lines

    def not_built(self) -> list[str]:
        return [s for s in self.planned if s not in self.built and s not in self.failed]


def _quarantine_lines(report: RunReport) -> list[str]:
    lines = []
    for step, values in sorted(report.loads.items()):
        quarantined = int(values.get("rows_quarantined") or 0)
        reasons = Counter(values.get("quarantine_reasons") or {})
        reasons.pop(SUPERSEDED, None)
        if reasons:
            top = ", ".join(f"{reason}: {n}" for reason, n in reasons.most_common(3))
            where = (
                "the rows are in raw.quarantine"
                if values.get("published", True)
                else "not published: the previous table and its quarantine are kept"
            )
            lines.append(
                f"quarantined {asset_of_step(step)}: read {values.get('rows_read')}, "
                f"kept {values.get('rows_kept')}, quarantined {quarantined} ({top}; {where})"
            )
        references = values.get("malformed_references") or {}
        if references:
            listed = ", ".join(f"{column} {n}" for column, n in sorted(references.items()))
            lines.append(f"malformed references {asset_of_step(step)}: {listed} (rows kept)")
    return lines


def _landing_lines(report: RunReport) -> list[str]:
    notes: set[str] = set()
    for step, values in report.loads.items():
        source, _, object_table = asset_of_step(step).partition("/")[2].partition("__")
        where = f"landing/{source}" if object_table else "landing"
        notes.update(f"{where}: {note}" for note in values.get("unknown_landing_files") or [])
    return sorted(notes)


def _named(steps: list[str]) -> str:
    names = [asset_of_step(step) for step in steps]
    shown = ", ".join(names[:SHOWN])
    return shown + (f" and {len(names) - SHOWN} more" if len(names) > SHOWN else "")


def summary(report: RunReport) -> tuple[list[str], list[str], list[str]]:
    """(info, warning, error) lines of the summary."""
    seconds = time.monotonic() - report.started
    head = (
        f"summary: {len(report.built)} of {len(report.planned)} assets built in {seconds:.1f} s"
        + (f", {len(report.failed)} failed" if report.failed else "")
    )
    warnings = _quarantine_lines(report) + _landing_lines(report)
    others = sorted({c for c in report.failed_checks if c.rsplit(":", 1)[1] not in SUMMARIZED})
    if others:
        warnings.append(f"failed checks: {', '.join(others)}")
    errors = [f"failed {asset_of_step(step)}: {why}" for step, why in sorted(report.failed.items())]
    missing = report.not_built()
    if missing:
        errors.append(
            f"not built, because an input failed (nothing below it was published): "
            f"{_named(missing)}"
        )
    return [head], warnings, errors


class ReportingExecutor(Executor):
    """Runs the steps with the in-process executor and reports layers and the summary."""

    def __init__(self, inner: Executor):
        self._inner = inner

    @property
    def retries(self):
        return self._inner.retries

    @property
    def step_dependency_config(self):
        return self._inner.step_dependency_config

    def execute(self, plan_context, execution_plan) -> Iterator[DagsterEvent]:
        report = RunReport(planned=list(execution_plan.step_keys_to_execute))
        log = plan_context.log
        for event in self._inner.execute(plan_context, execution_plan):
            yield event
            report.take(event)
            if event.is_step_success or event.is_step_failure:
                for line in report.finished_layers():
                    log.info(line)
        for line in report.finished_layers(final=True):
            log.info(line)
        info, warnings, errors = summary(report)
        for line in info:
            log.info(line)
        for line in warnings:
            log.warning(line)
        for line in errors:
            log.error(line)


@executor(
    name="in_process",
    config_schema=in_process_executor.config_schema.as_field(),
)
def reporting_in_process_executor(init_context: InitExecutorContext) -> Executor:
    """Every step in one process (one writer of the warehouse), reported per layer."""
    return ReportingExecutor(in_process_executor.executor_creation_fn(init_context))
