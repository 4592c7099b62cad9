#!/usr/bin/env python
"""End-to-end latency of the automation: landing file -> audience -> outbox, under `dagster dev`.

    .venv/bin/python benchmarks/latency.py [--repetitions 5] [--port 0] [--keep]
                                           [--startup-timeout 600] [--timeout 300] [--no-bootstrap]

What it does, all in a temporary folder and on 127.0.0.1 only:

1. copies the demo data (without warehouse or outbox), turns each Marketo instance's
   `activities.csv` into a folder of parts (`activities/part-0000.csv`), and creates a
   DAGSTER_HOME holding the repository's `dagster.yaml`;
2. starts `dagster dev` on a free local port with B2B_DATA_DIR, B2B_WAREHOUSE, B2B_OUTBOX and
   B2B_AS_OF=2026-11-15T00:00:00Z pointing there, and waits until the runs launched by the landing
   sensor and the automation sensor have settled:
   `audience.new_product_upsell` holds p2@townsend.com and no run is queued or in progress. Should
   the sensors leave it unbuilt for 30 idle seconds, the script materializes raw/fx_rates and the
   raw opportunities once with `dagster asset materialize` against the same instance (see
   BOOTSTRAP; disable with --no-bootstrap), and the automation sensor builds the rest;
3. N times: drops a part file (written as `*.csv.tmp`, then renamed) with a Visit Webpage of
   /products/new-software for a person of an account above $1M who is not yet in the audience,
   and measures the seconds until the person is in the audience (the warehouse is polled
   read-only, retrying while a writer holds the lock) and until the outbox holds a requests file
   adding them (LinkedIn: the SHA-256 of the email; Marketo 1's list: the Marketo 1 lead id, for
   people who have one); then lists the runs created since the drop, from the instance, with the
   seconds after the drop at which each was created (sensor tick), started (queue and launch)
   and ended, so the time can be told apart;
4. prints each measurement, the median and the maximum and the load average, then stops the
   `dagster dev` process group (SIGTERM, then SIGKILL after a grace period) and removes the
   temporary folder.

Every wait has a timeout, so the script always ends by itself. Exit status 0 when every
repetition was measured, 1 otherwise.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import hashlib
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from b2b_assets.activation.outbox import outbox_adds
from b2b_assets.settings import INSTANCE_YAML

if not __package__:  # run as a file (`python benchmarks/latency.py`): import from the root
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.bench import materialize_command  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
DEMO_DATA = REPO / "data"
AS_OF = "2026-11-15T00:00:00Z"
SEGMENT = "new_product_upsell"
AUDIENCE = f"audience.{SEGMENT}"
SEED_MEMBER = "p2@townsend.com"
LINKEDIN = "linkedin_new_product"
MARKETO_1 = "marketo_1_new_product"
HOST = "127.0.0.1"

# People at accounts above $1M closed-won (Townsend: $1.1M across both CRMs; Globex: $1.5M) who
# did not visit the new product page: (email, Marketo instance whose activities get the visit,
# its lead id). Checked against the copied landing files and the audience before each repetition.
# p3 has a lead in Marketo 2 only: her visit lands there, and only LinkedIn can be sent to.
CANDIDATES = [
    ("p1@townsend.com", "marketo_1", "48211"),
    ("g1@globex.com", "marketo_1", "48230"),
    ("g2@globex.com", "marketo_1", "48231"),
    ("c1@consultco.com", "marketo_1", "48245"),  # the consultant: a Globex contact in CRM 1
    ("p3@townsend.com", "marketo_2", "51008"),
]

ACTIVE_RUNS_QUERY = """
query ActiveRuns {
  runsOrError(filter: {statuses: [QUEUED, NOT_STARTED, STARTING, STARTED, CANCELING]}) {
    __typename
    ... on Runs { results { runId status } }
  }
}
"""


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


# --------------------------------------------------------------------------------------------
# The environment
# --------------------------------------------------------------------------------------------


@dataclass
class Env:
    root: Path
    data: Path
    warehouse: Path
    outbox: Path
    home: Path

    def activities(self, instance: str) -> Path:
        return self.data / "landing" / instance / "activities"


def make_env(root: Path) -> Env:
    data = root / "data"
    shutil.copytree(
        DEMO_DATA,
        data,
        ignore=shutil.ignore_patterns("*.duckdb", "*.duckdb.*", "*.wal", "outbox", "*.tmp"),
    )
    for instance in sorted({instance for _, instance, _ in CANDIDATES}):
        single = data / "landing" / instance / "activities.csv"
        folder = data / "landing" / instance / "activities"
        if single.exists():
            folder.mkdir()
            single.rename(folder / "part-0000.csv")
        if not folder.is_dir():
            raise SystemExit(f"{folder}: no activities folder or activities.csv in the demo copy")
    home = root / "dagster_home"
    home.mkdir()
    shutil.copy(INSTANCE_YAML, home / "dagster.yaml")
    return Env(root, data, root / "warehouse.duckdb", root / "outbox", home)


def activity_header(env: Env, instance: str) -> list[str]:
    part = env.activities(instance) / "part-0000.csv"
    with part.open(newline="", encoding="utf-8-sig") as handle:
        return next(csv.reader(handle))


def known_leads(env: Env, instance: str) -> dict[str, str]:
    """An instance's lead id -> normalized email, from its landing file."""
    path = env.data / "landing" / instance / "leads.csv"
    with path.open(newline="", encoding="utf-8-sig") as handle:
        return {row["id"]: row["email"].strip().lower() for row in csv.DictReader(handle)}


def drop_visit(env: Env, instance: str, index: int, lead_id: str) -> Path:
    """A new part with one Visit Webpage of the new product page: written, then renamed."""
    row = {
        "marketoGUID": str(900000 + index),
        "leadId": lead_id,
        "activityDate": f"2026-11-14T{10 + index % 10:02d}:00:00Z",
        "activityTypeId": "1",
        "campaignId": "",
        "primaryAttributeValueId": "4102",
        "primaryAttributeValue": "www.bodea.com/products/new-software",
        "attributes": json.dumps(
            {
                "Client IP Address": "198.51.100.200",
                "Query Parameters": "",
                "Referrer URL": "https://www.bodea.com/",
                "User Agent": "latency-benchmark",
                "Webpage URL": "/products/new-software",
            }
        ),
    }
    header = activity_header(env, instance)
    final = env.activities(instance) / f"part-{index:04d}.csv"
    partial = final.with_name(final.name + ".tmp")
    with partial.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerow([row.get(column, "") for column in header])
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(partial, final)
    return final


# --------------------------------------------------------------------------------------------
# Observing the warehouse, the outbox and the instance
# --------------------------------------------------------------------------------------------


def audience_emails(warehouse: Path) -> set[str] | None:
    """The audience's emails; None while the table or the file is missing or locked."""
    if not warehouse.exists():
        return None
    try:
        con = duckdb.connect(str(warehouse), read_only=True)
    except duckdb.Error:  # a writer holds the lock (or the file is being created): retry later
        return None
    try:
        rows = con.execute(f"SELECT lower(trim(email)) FROM {AUDIENCE}").fetchall()
    except duckdb.Error:  # not built yet
        return None
    finally:
        con.close()
    return {row[0] for row in rows if row[0]}


def active_runs(port: int) -> list[str] | None:
    """Ids of queued or in-progress runs (GraphQL); None when the webserver does not answer."""
    payload = json.dumps({"query": ACTIVE_RUNS_QUERY}).encode()
    request = urllib.request.Request(
        f"http://{HOST}:{port}/graphql",
        data=payload,
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            document = json.loads(response.read())
    except (OSError, ValueError, urllib.error.URLError):
        return None
    result = (document.get("data") or {}).get("runsOrError") or {}
    if result.get("__typename") != "Runs":
        return None
    return [run["runId"] for run in result.get("results", [])]


def webserver_up(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://{HOST}:{port}/server_info", timeout=5) as response:
            return response.status == 200
    except (OSError, urllib.error.URLError):
        return False


# --------------------------------------------------------------------------------------------
# dagster dev
# --------------------------------------------------------------------------------------------


class DagsterDev:
    def __init__(self, env: Env, port: int):
        self.env = env
        self.port = port
        self.log_path = env.root / "dagster_dev.log"
        self.process: subprocess.Popen | None = None
        self.started = time.monotonic()

    def environ(self) -> dict[str, str]:
        environ = dict(os.environ)
        environ.update(
            DAGSTER_HOME=str(self.env.home),
            B2B_DATA_DIR=str(self.env.data),
            B2B_WAREHOUSE=str(self.env.warehouse),
            B2B_OUTBOX=str(self.env.outbox),
            B2B_AS_OF=AS_OF,
        )
        return environ

    def start(self) -> None:
        dagster = Path(sys.executable).parent / "dagster"
        command = [
            str(dagster if dagster.exists() else "dagster"),
            "dev",
            "--host",
            HOST,
            "--port",
            str(self.port),
            "-m",
            "b2b_assets.definitions",
        ]
        self._log = self.log_path.open("wb")
        self.started = time.monotonic()
        self.process = subprocess.Popen(
            command,
            cwd=self.env.root,  # not the repo: no workspace.yaml / pyproject.toml is picked up
            env=self.environ(),
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, stopped as a whole below
        )
        log(f"dagster dev started (pid {self.process.pid}) on http://{HOST}:{self.port}")

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self, grace: float = 30.0) -> None:
        """Ctrl-C to `dagster dev` (it shuts its webserver, daemon and code servers down), then
        SIGTERM and at last SIGKILL to whatever is left of its process group."""
        if self.process is None:
            return
        pgid = self.process.pid  # the session leader: its group is the one started here
        steps = (
            (lambda: os.kill(pgid, signal.SIGINT), grace, "SIGINT"),
            (lambda: os.killpg(pgid, signal.SIGTERM), 15.0, "SIGTERM"),
            (lambda: os.killpg(pgid, signal.SIGKILL), 10.0, "SIGKILL"),
        )
        for send, wait, name in steps:
            with contextlib.suppress(ProcessLookupError):
                send()
            deadline = time.monotonic() + wait
            while time.monotonic() < deadline:
                if self.process.poll() is not None and not _group_alive(pgid):
                    break
                time.sleep(0.2)
            else:
                log(f"dagster dev not stopped {wait:.0f}s after {name}")
                continue
            break
        self._log.close()
        log("dagster dev stopped")

    def tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


# --------------------------------------------------------------------------------------------
# The measurement
# --------------------------------------------------------------------------------------------


# A fallback for instances whose sensors never load the reference data (raw/fx_rates has no
# automation condition; the landing sensor loads it): then b2b/opportunity, and all that
# needs it down to the audience, would wait on a missing parent until the nightly full refresh.
# The fallback loads it, and the raw opportunities that read it, once from the CLI against the
# same instance; the automation sensor then propagates the rest.
BOOTSTRAP = ("raw/fx_rates", "raw/crm_1__opportunity", "raw/crm_2__opportunity")


def bootstrap(dev: DagsterDev, timeout: float = 300.0) -> None:
    command = materialize_command(",".join(BOOTSTRAP))
    log(f"fallback: raw/fx_rates was not loaded; materializing {', '.join(BOOTSTRAP)} once")
    with (dev.env.root / "bootstrap.log").open("wb") as out:
        done = subprocess.run(
            command,
            cwd=dev.env.root,
            env=dev.environ(),
            stdout=out,
            stderr=subprocess.STDOUT,
            timeout=timeout,
            check=False,
        )
    if done.returncode != 0:
        raise RuntimeError(
            f"bootstrap failed ({done.returncode}); see {dev.env.root}/bootstrap.log"
        )


def wait_settled(
    dev: DagsterDev, timeout: float, *, allow_bootstrap: bool = False
) -> tuple[float, float]:
    """Wait until the seed audience is built and no run is queued or running (10 s in a row);
    returns the seconds since `dagster dev` started until the audience was first built, and
    until the runs settled.

    With `allow_bootstrap`, when nothing has run for 30 s and the audience is still missing, load
    the reference data once (see BOOTSTRAP)."""
    started = time.monotonic()
    deadline = started + timeout
    quiet_since: float | None = None
    built_at: float | None = None
    bootstrapped = not allow_bootstrap
    while time.monotonic() < deadline:
        if not dev.alive():
            raise RuntimeError("dagster dev exited:\n" + dev.tail())
        members = audience_emails(dev.env.warehouse)
        ready = bool(members and SEED_MEMBER in members)
        if ready and built_at is None:
            built_at = time.monotonic() - dev.started
        runs = active_runs(dev.port)
        if runs == []:
            quiet_since = quiet_since or time.monotonic()
            idle = time.monotonic() - quiet_since
            if ready and idle >= 10:  # idle across sensor ticks
                return built_at or 0.0, time.monotonic() - dev.started
            if not ready and idle >= 30 and not bootstrapped:
                log(f"idle for {idle:.0f}s and {AUDIENCE} is not built")
                bootstrap(dev)
                bootstrapped = True
                quiet_since = None
        else:
            quiet_since = None
        time.sleep(1.0)
    raise TimeoutError(
        f"the initial runs did not settle within {timeout:.0f}s (audience: "
        f"{sorted(audience_emails(dev.env.warehouse) or [])})"
    )


@dataclass(frozen=True)
class Person:
    email: str
    instance: str  # the Marketo instance recording the visit
    lead_id: str
    marketo_1_lead: str | None  # what Marketo 1's static list gets, if anything


def candidates(env: Env) -> list[Person]:
    """The candidates whose lead is in the copied landing files, as declared."""
    marketo_1 = {email: lead for lead, email in known_leads(env, "marketo_1").items()}
    people = []
    for email, instance, lead_id in CANDIDATES:
        if known_leads(env, instance).get(lead_id) != email:
            log(f"warning: {email} is not lead {lead_id} of {instance} in the demo: skipped")
            continue
        people.append(Person(email, instance, lead_id, marketo_1.get(email)))
    return people


@dataclass
class Measurement:
    email: str
    audience: float | None
    outbox: float | None
    dropped_at: float  # wall-clock time of the rename


def runs_since(env: Env, since: float) -> list[str]:
    """The runs created after `since` (wall clock): who launched them, how many assets, and the
    seconds after `since` at which each was created, started and ended."""
    from dagster import DagsterInstance, RunsFilter
    from dagster._core.instance.ref import InstanceRef

    instance = DagsterInstance.from_ref(InstanceRef.from_dir(str(env.home)))
    try:
        records = instance.get_run_records(
            filters=RunsFilter(created_after=datetime.fromtimestamp(since, tz=UTC))
        )
    finally:
        instance.dispose()

    def at(value: float | None) -> str:
        return "-" if value is None else f"{value - since:5.1f}"

    lines = []
    for record in sorted(records, key=lambda r: r.create_timestamp):
        run = record.dagster_run
        launched_by = run.tags.get("dagster/sensor_name") or run.tags.get(
            "dagster/schedule_name", "manual"
        )
        lines.append(
            f"{launched_by:<24} {len(run.asset_selection or []):>3} assets  "
            f"created {at(record.create_timestamp.timestamp())}  started {at(record.start_time)}  "
            f"ended {at(record.end_time)}  {run.status.value}"
        )
    return lines


def measure_one(dev: DagsterDev, index: int, person: Person, timeout: float) -> Measurement:
    env = dev.env
    email = person.email
    digest = hashlib.sha256(email.encode()).hexdigest()
    path = drop_visit(env, person.instance, index, person.lead_id)
    t0 = time.monotonic()
    dropped_at = time.time()
    log(
        f"#{index}: dropped {path.relative_to(env.data)} ({person.instance} lead {person.lead_id}, "
        f"{email}); load average {os.getloadavg()[0]:.2f}"
    )
    in_audience = in_outbox = None
    last_db_poll = 0.0
    while time.monotonic() - t0 < timeout:
        if not dev.alive():
            raise RuntimeError("dagster dev exited:\n" + dev.tail())
        now = time.monotonic()
        if in_audience is None and now - last_db_poll >= 1.0:
            last_db_poll = now
            members = audience_emails(env.warehouse)
            if members and email in members:
                in_audience = time.monotonic() - t0
                log(f"#{index}: {email} in {AUDIENCE} after {in_audience:.1f}s")
        if (
            in_outbox is None
            and outbox_adds(env.outbox / LINKEDIN / SEGMENT, digest)
            and (
                person.marketo_1_lead is None
                or outbox_adds(env.outbox / MARKETO_1 / SEGMENT, person.marketo_1_lead)
            )
        ):
            in_outbox = time.monotonic() - t0
            log(f"#{index}: outbox adds {email} after {in_outbox:.1f}s")
        if in_audience is not None and in_outbox is not None:
            break
        time.sleep(0.25)
    else:
        log(f"#{index}: timed out after {timeout:.0f}s")
    return Measurement(email, in_audience, in_outbox, dropped_at)


def summary(name: str, values: list[float | None]) -> str:
    measured = [v for v in values if v is not None]
    each = ", ".join("timeout" if v is None else f"{v:.1f}" for v in values)
    if not measured:
        return f"{name:<9} each [{each}]"
    return (
        f"{name:<9} each [{each}]  median {statistics.median(measured):.1f}s  "
        f"max {max(measured):.1f}s"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repetitions", "-n", type=int, default=5)
    parser.add_argument("--port", type=int, default=0, help="webserver port (0: a free one)")
    parser.add_argument("--startup-timeout", type=float, default=600.0)
    parser.add_argument("--timeout", type=float, default=300.0, help="per repetition")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    parser.add_argument(
        "--no-bootstrap",
        action="store_true",
        help="do not load raw/fx_rates from the CLI when the sensors leave the audience unbuilt",
    )
    args = parser.parse_args(argv)

    root = Path(tempfile.mkdtemp(prefix="b2b_latency_"))
    env = make_env(root)
    people = candidates(env)
    dev = DagsterDev(env, args.port or free_port())
    results: list[Measurement] = []
    status = 1
    try:
        dev.start()
        deadline = time.monotonic() + 120
        while not webserver_up(dev.port):
            if not dev.alive() or time.monotonic() > deadline:
                raise RuntimeError("the webserver did not come up:\n" + dev.tail())
            time.sleep(1.0)
        log("webserver up; waiting for the sensor-driven initial runs to settle")
        built, settled = wait_settled(
            dev, args.startup_timeout, allow_bootstrap=not args.no_bootstrap
        )
        log(
            f"first build: the audience was built {built:.1f}s after dagster dev started; "
            f"the runs settled after {settled:.0f}s"
        )
        for index in range(1, args.repetitions + 1):
            members = audience_emails(env.warehouse) or set()
            remaining = [person for person in people if person.email not in members]
            if not remaining:
                log("no candidate left outside the audience: stopping early")
                break
            people.remove(remaining[0])
            result = measure_one(dev, index, remaining[0], args.timeout)
            results.append(result)
            wait_settled(dev, args.timeout)
            for line in runs_since(env, result.dropped_at):
                log(f"#{index}:   run {line}")
        if len(results) < args.repetitions:
            log(f"only {len(results)} of {args.repetitions} repetitions: too few candidates")
        status = 0 if results and all(r.audience and r.outbox for r in results) else 1
    except (RuntimeError, TimeoutError, subprocess.TimeoutExpired) as exc:
        log(f"error: {exc}")
    except KeyboardInterrupt:
        log("interrupted")
    finally:
        dev.stop()
        if args.keep:
            log(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    print()
    print(f"landing file -> {AUDIENCE} and -> outbox, seconds ({len(results)} repetitions)")
    for r in results:
        audience = "timeout" if r.audience is None else f"{r.audience:.1f}"
        outbox = "timeout" if r.outbox is None else f"{r.outbox:.1f}"
        print(f"  {r.email:<20} audience {audience:>7}  outbox {outbox:>7}")
    print(summary("audience", [r.audience for r in results]))
    print(summary("outbox", [r.outbox for r in results]))
    print("load average (1, 5, 15 min) at the end: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    return status


if __name__ == "__main__":
    sys.exit(main())
