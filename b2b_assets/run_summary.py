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

from b2b_assets.console import error_line, one_line
from b2b_assets.layers import FAILED_ASSETS
from b2b_assets.sources.load_checks import LANDING_CHECK, NOT_PROBLEMS, QUARANTINE_CHECK

# Assets named per layer in a list of what was not built before they are counted.
SHOWN_PER_LAYER = 4
# Checks whose failures the summary already tells in its own lines.
SUMMARIZED = {QUARANTINE_CHECK, LANDING_CHECK}


def metadata_values(event: DagsterEvent) -> dict[str, Any]:
    """A materialization's metadata as plain values."""
    metadata = event.step_materialization_data.materialization.metadata
    return {name: getattr(value, "value", value) for name, value in metadata.items()}


def planned_assets(execution_plan) -> dict[str, str]:
    """Each asset the plan builds (`schema/table`) -> the step that builds it."""
    planned: dict[str, str] = {}
    for step_key in execution_plan.step_keys_to_execute:
        for output in execution_plan.get_step_by_key(step_key).step_outputs:
            properties = output.properties
            if properties and properties.asset_key and not properties.asset_check_key:
                planned[properties.asset_key.to_user_string()] = step_key
    return planned


@dataclass
class RunReport:
    """What the run's events said, gathered as they pass, asset by asset."""

    planned: dict[str, str]  # asset -> step
    started: float = field(default_factory=time.monotonic)
    built: set[str] = field(default_factory=set)
    failed: dict[str, str] = field(default_factory=dict)  # asset -> cause
    unpublished: set[str] = field(default_factory=set)
    steps_done: set[str] = field(default_factory=set)
    loads: dict[str, dict[str, Any]] = field(default_factory=dict)
    failed_checks: list[str] = field(default_factory=list)
    layers_done: set[str] = field(default_factory=set)

    def layer_assets(self) -> dict[str, list[str]]:
        layers: dict[str, list[str]] = defaultdict(list)
        for asset in self.planned:
            layers[asset.split("/")[0]].append(asset)
        return layers

    def take(self, event: DagsterEvent) -> None:
        step = event.step_key or ""
        if event.is_step_success:
            self.steps_done.add(step)
        elif event.is_step_failure:
            self.steps_done.add(step)
            self._take_failure(event)
        elif event.is_step_materialization:
            asset = event.asset_key.to_user_string()
            values = metadata_values(event)
            self.loads[asset] = values
            if values.get("published", True):
                self.built.add(asset)
            else:
                checks = [
                    c.rsplit(":", 1)[1] for c in self.failed_checks if c.startswith(asset + ":")
                ]
                self.failed[asset] = (
                    f"check {', '.join(checks) or 'failed'} failed; the previous table is kept"
                )
        elif event.event_type_value == "ASSET_CHECK_EVALUATION":
            evaluation = event.asset_check_evaluation_data
            if not evaluation.passed:
                self.failed_checks.append(
                    f"{evaluation.asset_key.to_user_string()}:{evaluation.check_name}"
                )

    def _take_failure(self, event: DagsterEvent) -> None:
        """The assets a failed step names as failed (a layer's `failed_assets`), else the
        step's assets that were not materialized, with the step's cause."""
        data = event.step_failure_data.user_failure_data
        named = (data.metadata.get(FAILED_ASSETS) if data and data.metadata else None) or None
        causes = getattr(named, "value", named)
        if causes:
            self.failed.update({asset: one_line(cause) for asset, cause in causes.items()})
            return
        assets = [asset for asset, step in self.planned.items() if step == event.step_key]
        if any(asset in self.failed for asset in assets):
            return  # explained by the checks that failed
        why = error_line(event)
        for asset in assets:
            if asset not in self.loads:
                self.failed[asset] = why

    def finished_layers(self, final: bool = False) -> list[str]:
        """Layers whose every step has ended since the last call (with `final`, every layer not
        reported yet), as progress lines."""
        lines = []
        for layer, assets in self.layer_assets().items():
            ended = all(self.planned[asset] in self.steps_done for asset in assets)
            if layer in self.layers_done or not (final or ended):
                continue
            self.layers_done.add(layer)
            built = sum(asset in self.built for asset in assets)
            failed = sum(asset in self.failed for asset in assets)
            line = f"{layer}: {built} of {len(assets)} assets built"
            if failed:
                line += f", {failed} failed"
            if len(assets) - built - failed:
                line += f", {len(assets) - built - failed} not built"
            lines.append(line)
        return lines

    def not_built(self) -> list[str]:
        return [a for a in self.planned if a not in self.built and a not in self.failed]


def _quarantine_lines(report: RunReport) -> list[str]:
    lines = []
    for asset, values in sorted(report.loads.items()):
        quarantined = int(values.get("rows_quarantined") or 0)
        reasons = Counter(values.get("quarantine_reasons") or {})
        for reason in NOT_PROBLEMS:
            reasons.pop(reason, None)
        if reasons:
            top = ", ".join(f"{reason}: {n}" for reason, n in reasons.most_common(3))
            where = (
                "the rows are in raw.quarantine"
                if values.get("published", True)
                else "not published: the previous table and its quarantine are kept"
            )
            lines.append(
                f"quarantined {asset}: read {values.get('rows_read')}, "
                f"kept {values.get('rows_kept')}, quarantined {quarantined} ({top}; {where})"
            )
        references = values.get("malformed_references") or {}
        if references:
            listed = ", ".join(f"{column} {n}" for column, n in sorted(references.items()))
            lines.append(f"malformed references {asset}: {listed} (rows kept)")
    return lines


def _landing_lines(report: RunReport) -> list[str]:
    notes: set[str] = set()
    for asset, values in report.loads.items():
        source, _, object_table = asset.partition("/")[2].partition("__")
        where = f"landing/{source}" if object_table else "landing"
        notes.update(f"{where}: {note}" for note in values.get("unknown_landing_files") or [])
    return sorted(notes)


def _named(assets: list[str]) -> str:
    """The assets by name, or a layer's count where it has more than a few."""
    layers: dict[str, list[str]] = defaultdict(list)
    for asset in assets:
        layers[asset.split("/")[0]].append(asset)
    return ", ".join(
        ", ".join(names) if len(names) <= SHOWN_PER_LAYER else f"{len(names)} of {layer}"
        for layer, names in layers.items()
    )


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
    errors = [f"failed {asset}: {why}" for asset, why in sorted(report.failed.items())]
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
        report = RunReport(planned=planned_assets(execution_plan))
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
