"""The `relais` command: serve, worker, db, sandbox, demo, dead-letters, mappings, decisions,
simulate, rescore, reps."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
import uvicorn

from app import migrations
from app.config import get_settings
from app.logging import configure

if TYPE_CHECKING:
    from datetime import datetime

    from sqlalchemy.orm import Session

    from app.mappings.schemas import Team
    from connectors.sandbox import SandboxServer

cli = typer.Typer(
    help="Relais: lead routing between HubSpot and Salesforce.",
    no_args_is_help=True,
    add_completion=False,
)
db_cli = typer.Typer(help="Database schema (Alembic migrations).", no_args_is_help=True)
mappings_cli = typer.Typer(
    help="The admins' YAML: check it, and its JSON Schema.", no_args_is_help=True
)
dead_cli = typer.Typer(help="Events and writes that failed every attempt.", no_args_is_help=True)
cli.add_typer(db_cli, name="db")
cli.add_typer(dead_cli, name="dead-letters")
decisions_cli = typer.Typer(
    help="What Relais decided about a record, and why.", no_args_is_help=True
)
cli.add_typer(decisions_cli, name="decisions")
reps_cli = typer.Typer(
    help="The reps of team.yaml: pause one, resume it, list their availability.",
    no_args_is_help=True,
)
cli.add_typer(reps_cli, name="reps")
cli.add_typer(mappings_cli, name="mappings")


@contextmanager
def _transaction() -> Iterator[Session]:
    """One unit of work on RELAIS_DATABASE_URL, for a command that runs once and exits."""
    from app.db import Database

    db = Database(get_settings().database_url)
    try:
        with db.transaction() as session:
            yield session
    finally:
        db.dispose()


@cli.callback()
def _setup() -> None:
    get_settings.cache_clear()  # each invocation reads the environment afresh
    s = get_settings()
    configure(s.log_level, s.log_json)


@cli.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port")] = 8000,
    worker: Annotated[
        bool, typer.Option(help="Run a worker in this process (single machine)")
    ] = True,
) -> None:
    """Run the API (webhooks, probes, metrics), with an embedded worker by default. Every CRM
    is optional: it runs with whatever is configured and says at start what is missing."""
    from app.main import create_app
    from app.runtime import startup_report

    typer.echo(startup_report(get_settings()), err=True)
    typer.echo(f"relais serve: listening on http://{host}:{port}", err=True)
    uvicorn.run(
        create_app(get_settings(), embedded_worker=worker),
        host=host,
        port=port,
        loop="uvloop",
        http="httptools",
        log_level="warning",
        access_log=False,
    )


@cli.command()
def worker() -> None:
    """Run a worker only (scale-out: several per machine, several machines on PostgreSQL).
    It works with the CRMs that are configured; with none, there is nothing to do."""
    from app.mappings.loader import MappingsError
    from app.runtime import Runtime, crm_statuses, startup_report

    settings = get_settings()
    typer.echo(startup_report(settings), err=True)
    if not any(status.connector for status in crm_statuses(settings)):
        typer.echo("relais worker: no CRM connector to work with; exiting", err=True)
        raise typer.Exit(2)
    runtime = Runtime.build(settings)
    runtime.mappings.reload()
    stop = threading.Event()

    def _stop(*_: object) -> None:
        stop.set()
        runtime.wakeup.set()
        runtime.outbox_wakeup.set()

    def _reload(*_: object) -> None:
        outcome = runtime.mappings.reload_or_keep("SIGHUP")  # the last good version keeps running
        if isinstance(outcome, MappingsError):
            typer.echo(f"mappings reload refused: {outcome}", err=True)
        else:
            typer.echo(f"mappings reloaded: version {outcome.version}", err=True)

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGHUP, _reload)
    try:
        for thread in runtime.start_workers(stop):
            while thread.is_alive():
                thread.join(timeout=0.5)  # short joins keep the signal handlers responsive
    finally:
        stop.set()
        runtime.close()


@db_cli.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument(help="Target revision")] = "head") -> None:
    """Apply migrations up to REVISION (default: head)."""
    migrations.upgrade(get_settings().database_url, revision)
    typer.echo(f"database at {revision}")


@db_cli.command("check")
def db_check() -> None:
    """Fail when the models and the migrations disagree (runs on a scratch SQLite database)."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'check.db'}"
        migrations.upgrade(url)
        migrations.check(url)
    typer.echo("migrations match the models")


SandboxToken = Annotated[str, typer.Option(help="HubSpot access token the sandbox accepts")]
SandboxRelaisUrl = Annotated[
    str | None,
    typer.Option(
        help="Relais's base URL (e.g. http://127.0.0.1:8000): HubSpot webhooks and "
        "Salesforce Outbound Messages go there. Without it they go nowhere until set "
        "through the control API"
    ),
]
SandboxEnvFile = Annotated[
    Path | None,
    typer.Option(
        help="Also write the environment for `relais serve` to this file (KEY=value "
        "lines; load it with: set -a; . FILE; set +a)"
    ),
]
SandboxSecret = Annotated[
    str | None,
    typer.Option(
        help="HubSpot app client secret and Salesforce Flow HMAC secret the sandbox signs "
        "with (default: a new random one, printed)"
    ),
]


@cli.command()
def sandbox(
    port: Annotated[int, typer.Option(help="TCP port on 127.0.0.1 (HubSpot, control API)")] = 8900,
    tls_port: Annotated[int, typer.Option(help="TLS port on 127.0.0.1 (Salesforce)")] = 8901,
    token: SandboxToken = "sandbox-token",  # noqa: S107 (the sandbox's own fake token)
    relais_url: SandboxRelaisUrl = None,
    env_file: SandboxEnvFile = None,
    webhook_secret: SandboxSecret = None,
) -> None:
    """Serve the sandbox CRMs in the foreground: one HubSpot owner and one Salesforce user per
    rep of mappings/team.yaml. Prints the environment `relais serve` needs to use them."""
    import secrets

    from connectors.sandbox import SandboxServer
    from connectors.sandbox.server import env_lines, write_env_file

    server = SandboxServer(port=port, tls_port=tls_port, hubspot_token=token)
    _people_of_the_team(server)
    secret = webhook_secret or secrets.token_urlsafe(24)
    env = server.relais_environment(webhook_secret=secret, relais_url=relais_url)
    if relais_url:
        server.connect_relais(relais_url, webhook_secret=secret)
        sending = f"webhooks and Outbound Messages go to {relais_url.rstrip('/')}"
    else:
        sending = (
            "webhooks go nowhere yet: restart with --relais-url, or POST "
            "/_sandbox/hubspot/webhooks and /_sandbox/salesforce/notifications"
        )
    if env_file is not None:
        write_env_file(env_file, env)
    exports = "".join(f"export {line}\n" for line in env_lines(env).splitlines())
    written = f" (also in {env_file}: set -a; . {env_file}; set +a)" if env_file else ""
    typer.echo(
        f"sandbox HubSpot at {server.url}, Salesforce at {server.salesforce_url} (TLS, its CA "
        f"in {server.ca_path}); control API under {server.url}/_sandbox/\n"
        f"{sending}\n"
        f"environment for `relais serve`{written}:\n{exports}"
        "Ctrl-C to stop"
    )
    server.serve_forever()


def _people_of_the_team(server: SandboxServer) -> None:
    """One HubSpot owner and one Salesforce user per rep of RELAIS_MAPPINGS_DIR's team.yaml,
    and its Salesforce queues; mappings that do not validate end the command (exit 2)."""
    from app.mappings.loader import MappingsError, load_mappings

    try:
        team = load_mappings(get_settings().mappings_dir).team
    except MappingsError as exc:  # one line per problem, not a traceback
        for error in exc.errors:
            typer.echo(error, err=True)
        typer.echo(
            "relais sandbox: it makes one owner per rep of RELAIS_MAPPINGS_DIR's team.yaml; "
            "fix the mappings (or start from a copy: cp -r mappings my-mappings)",
            err=True,
        )
        raise typer.Exit(2) from exc
    for queue in team.queues:
        if queue.salesforce_queue:
            server.salesforce.add_queue(queue.salesforce_queue.replace("_", " "))
    for rep in team.reps:
        first, _, last = rep.name.partition(" ")
        server.hubspot.add_owner(rep.email, first, last)
        server.salesforce.add_user(rep.email, first, last)


@cli.command()
def demo(
    leads: Annotated[int, typer.Option(help="How many leads to create")] = 300,
    rate: Annotated[float, typer.Option(help="Leads created per second")] = 60.0,
    latency_ms: Annotated[float, typer.Option(help="Sandbox latency per API call")] = 50.0,
) -> None:
    """Sandbox CRMs + Relais on SQLite: leads arrive from HubSpot and Salesforce and get
    owners in both."""
    from app.demo import run_demo

    raise typer.Exit(run_demo(leads=leads, rate=rate, latency_ms=latency_ms))


@dead_cli.command("list")
def dead_list(
    limit: Annotated[int, typer.Option(min=1, help="At most this many of each kind")] = 100,
) -> None:
    """Show dead-lettered inbox events and outbox writes with their last error, and the events
    the webhooks rejected (a value broke a rule) with their reason; those cannot be replayed."""
    from app.deadletters.service import list_dead_letters

    with _transaction() as session:
        letters = list_dead_letters(session, limit)
    for d in [*letters.inbox, *letters.outbox]:
        error = d.error.splitlines()[0] if d.error else ""
        typer.echo(f"{d.queue} {d.id} {d.record_key} after {d.attempts} attempts: {error}")
    for d in letters.rejected:
        at = f"{d.at:%Y-%m-%d %H:%M:%S}" if d.at else "?"
        typer.echo(f"rejected inbox {d.id} {d.crm} at {at} (not replayable): {d.error}")
    shown = len(letters.inbox) + len(letters.outbox) + len(letters.rejected)
    if shown < sum(letters.totals.values()):
        totals = ", ".join(f"{n} {kind}" for kind, n in letters.totals.items())
        typer.echo(f"({totals} in all; --limit shows more)")


@dead_cli.command("replay")
def dead_replay(
    inbox: Annotated[list[int] | None, typer.Option(help="Inbox event id (repeatable)")] = None,
    outbox: Annotated[list[int] | None, typer.Option(help="Outbox write id (repeatable)")] = None,
    replay_all: Annotated[
        bool, typer.Option("--all", help="Every dead-lettered event and write")
    ] = False,
) -> None:
    """Give dead-lettered events or writes a fresh set of attempts. Rejected events cannot be
    replayed (they would be rejected again): the ids refused are listed with the reason, and
    the exit code is 1."""
    from app.db import utcnow
    from app.deadletters.schemas import ReplayRequest
    from app.deadletters.service import replay

    request = ReplayRequest(inbox=inbox or [], outbox=outbox or [], replay_all=replay_all)
    with _transaction() as session:
        result = replay(session, request, utcnow())
    typer.echo(f"replayed {result.inbox} inbox event(s) and {result.outbox} outbox write(s)")
    for r in result.refused:
        typer.echo(f"not replayed: {r.queue} {r.id}: {r.reason}", err=True)
    if result.refused:
        raise typer.Exit(1)


@mappings_cli.command("check")
def mappings_check(
    directory: Annotated[
        Path | None, typer.Argument(help="Folder to check (default: RELAIS_MAPPINGS_DIR)")
    ] = None,
    against_crm: Annotated[
        bool,
        typer.Option(
            "--against-crm",
            help="Also check properties, fields, picklist values and reps in the CRMs "
            "configured by RELAIS_HUBSPOT_* / RELAIS_SALESFORCE_*",
        ),
    ] = False,
) -> None:
    """Exit 0 when the mappings are valid; 1 with every error (file:line: key: message)."""
    from app.mappings.crm_check import check_against_crm
    from app.mappings.loader import MappingsError, load_mappings
    from app.runtime import Runtime

    settings = get_settings()
    folder = directory or settings.mappings_dir
    try:
        m = load_mappings(folder)
    except MappingsError as exc:
        for error in exc.errors:
            typer.echo(error, err=True)
        typer.echo(f"{len(exc.errors)} error(s) in {folder}", err=True)
        raise typer.Exit(1) from exc
    if against_crm:
        runtime = Runtime.build(settings.model_copy(update={"mappings_dir": folder}))
        try:
            hubspot = runtime.hubspot if settings.hubspot_access_token else None
            problems = check_against_crm(m, hubspot, runtime.salesforce)
        finally:
            runtime.close()
        for problem in problems:
            typer.echo(problem, err=True)
        if problems:
            typer.echo(f"{len(problems)} problem(s) against the CRMs", err=True)
            raise typer.Exit(1)
    typer.echo(f"{folder}: valid (version {m.version}, {', '.join(m.files)})")


@mappings_cli.command("schema")
def mappings_schema(
    out: Annotated[
        Path | None, typer.Option(help="Write one <file>.schema.json per file in this folder")
    ] = None,
) -> None:
    """The JSON Schema of every mappings file, for editors (autocomplete, errors as you type)."""
    import json

    from app.mappings.json_schema import json_schemas

    schemas = json_schemas()
    if out is None:
        typer.echo(json.dumps(schemas, indent=2))
        return
    out.mkdir(parents=True, exist_ok=True)
    for name, schema in schemas.items():
        (out / f"{name.removesuffix('.yaml')}.schema.json").write_text(json.dumps(schema, indent=2))
    typer.echo(f"wrote {len(schemas)} schemas to {out}")


@decisions_cli.command("show")
def decisions_show(
    record_key: Annotated[
        str, typer.Argument(help="hubspot:contact:ID, salesforce:Lead:ID or salesforce:Contact:ID")
    ],
) -> None:
    """Every decision about one record, oldest first, each explained: the rule, the rep, and
    what became of each CRM write (written, or superseded and by what)."""
    from app.decisions.explain import explain
    from app.decisions.repository import DecisionRepository

    with _transaction() as session:
        texts = [explain(d) for d in DecisionRepository(session).for_record(record_key)]
    if not texts:
        typer.echo(f"no decision about {record_key}", err=True)
        raise typer.Exit(1)
    for lines in texts:
        typer.echo("\n".join(lines) + "\n")


@decisions_cli.command("search")
def decisions_search(
    record: Annotated[str | None, typer.Option(help="a record key: hubspot:contact:ID")] = None,
    rep: Annotated[str | None, typer.Option(help="the rep's email (any case)")] = None,
    rule: Annotated[str | None, typer.Option(help="the routing rule's name")] = None,
    outcome: Annotated[str | None, typer.Option(help="assigned, held, fallback, ...")] = None,
    pool: Annotated[str | None, typer.Option(help="the pool's name")] = None,
    since: Annotated[str | None, typer.Option(help="30d, 12h or an ISO 8601 instant")] = None,
    limit: Annotated[int, typer.Option(help="at most this many (up to 500)")] = 50,
) -> None:
    """The decisions matching every option given, newest first, one line each (also
    GET /admin/api/decisions)."""
    from app.db import utcnow
    from app.decisions.endpoints import InvalidSearch, parse_search, row_of
    from app.decisions.repository import DecisionRepository

    raw = {"record": record, "rep": rep, "rule": rule, "outcome": outcome, "pool": pool}
    try:
        query = parse_search(raw | {"since": since, "limit": str(limit)}, utcnow())
    except InvalidSearch as exc:
        typer.echo("\n".join(exc.errors), err=True)
        raise typer.Exit(2) from None
    with _transaction() as session:
        rows = [row_of(d) for d in DecisionRepository(session).search(query)[0]]
    if not rows:
        typer.echo("no decision matches", err=True)
        raise typer.Exit(1)
    header = ("ID", "DECIDED (UTC)", "RECORD", "OUTCOME", "REP", "POOL", "RULE", "SCORE")
    table = [header] + [
        (str(r.id), f"{r.decided_at:%Y-%m-%d %H:%M}", r.record, r.outcome, r.rep or "-",
         r.pool or "-", r.rule or "-", "-" if r.score is None else str(r.score))
        for r in rows
    ]  # fmt: skip
    widths = [max(len(line[i]) for line in table) for i in range(len(header))]
    for line in table:
        typer.echo("  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip())


@contextmanager
def _logs_to_stderr() -> Iterator[None]:
    """Log lines (a CRM login, ...) to stderr, so that stdout carries a command's JSON alone.
    Loggers are not cached meanwhile: each writes to the stderr of its moment (a test runner
    swaps it); the configuration in force before is restored."""
    import sys

    import structlog

    before = structlog.get_config()
    structlog.configure(
        logger_factory=lambda *_: structlog.PrintLogger(sys.stderr),
        cache_logger_on_first_use=False,
    )
    try:
        yield
    finally:
        structlog.configure(**before)


@cli.command()
def simulate(
    lead_file: Annotated[
        Path | None,
        typer.Argument(
            metavar="LEAD.json",
            help='The lead as canonical fields: {"title": "DRH", "company_size": "250", ...}',
            show_default=False,
        ),
    ] = None,
    record: Annotated[
        str | None,
        typer.Option(
            help="Read the lead from its CRM instead: hubspot:ID, salesforce:ID (00Q... a "
            "Lead, 003... a Contact) or crm:object:ID",
            show_default=False,
        ),
    ] = None,
    at: Annotated[
        str | None,
        typer.Option(
            help="The instant to simulate at, ISO 8601 with a time zone "
            "(2026-12-01T10:00:00Z): the recency decay counts months to it; default: now",
            show_default=False,
        ),
    ] = None,
    enrich: Annotated[
        bool,
        typer.Option(
            "--enrich/--no-enrich",
            help="Run enrichment.yaml's providers first, as the worker does (--no-enrich: "
            "score the fields as given or read)",
        ),
    ] = True,
) -> None:
    """Dry run: enrich, score and qualify a lead with RELAIS_MAPPINGS_DIR as the worker would,
    and print the result as JSON (the lead as evaluated, what enrichment found and its gaps,
    score, temperature, every rule that fired, the qualification outcome and its reason,
    for a ready lead the routing: rule, pool, the rep picked now and why). Simulated today:
    the read of --record, enrichment (the answers the worker cached), score, qualification,
    routing (every rep taken as known in the CRMs). Writes nothing: no database row (not even
    the enrichment cache), no CRM write. Exit 1 on bad input, a record not found or a CRM not
    configured."""
    import json

    from app.mappings.loader import MappingsError
    from app.runtime import Runtime
    from app.simulate.service import SimulationError, file_request, run

    runtime = Runtime.build(get_settings())
    try:
        with _logs_to_stderr():
            known = runtime.mappings.reload().field_names()
            result = run(runtime, file_request(lead_file, record, known, at, enrich))
    except (SimulationError, MappingsError) as exc:
        for error in exc.errors:
            typer.echo(error, err=True)
        raise typer.Exit(1) from exc
    finally:
        runtime.close()
    typer.echo(json.dumps(result.to_json(), indent=2, ensure_ascii=False))


@cli.command()
def rescore(
    at: Annotated[
        str | None,
        typer.Option(
            help="Score as of this instant, ISO 8601 with a time zone (2026-12-01T03:00:00Z); "
            "default: now. Only for a new run: a resumed run keeps its own",
            show_default=False,
        ),
    ] = None,
    batch_size: Annotated[
        int, typer.Option(min=1, max=1000, help="Leads per transaction (and per write call)")
    ] = 100,
    restart: Annotated[
        bool, typer.Option(help="Close the unfinished run where it stands and start anew")
    ] = False,
) -> None:
    """Score every known lead again with RELAIS_MAPPINGS_DIR (the recency decay changes scores
    without any webhook; so does a new scoring.yaml). Writes to the CRMs only the values that
    changed (queued in the outbox: a worker sends them, 100 records per call); a lead that
    becomes ready is routed by the workers. Prints progress; killed, it resumes where it
    stopped when run again. The workers run it daily too (RELAIS_RESCORE_DAILY_AT)."""
    from app.db import Database, utcnow
    from app.mappings.loader import MappingsError, MappingsStore
    from app.rescore.service import Rescorer
    from app.worker.service import new_worker_id

    settings = get_settings()
    as_of = _instant(at) if at else utcnow()
    if as_of > utcnow():
        # The scores are written to the CRMs: a future instant would show decay not yet due.
        typer.echo("--at: rescoring writes to the CRMs; an instant in the future is refused "
                   "(try `relais simulate --at` for a dry run)", err=True)  # fmt: skip
        raise typer.Exit(1)
    db = Database(settings.database_url)
    try:
        store = MappingsStore(settings.mappings_dir)
        store.reload()
        rescorer = Rescorer(db, store, batch_size=batch_size)
        run = next(iter(rescorer.unfinished("cli-")), None)  # the workers' daily runs are theirs
        if run is not None and restart:
            rescorer.abandon(run)
            run = None
        if run is not None and at:
            typer.echo(f"run #{run} is unfinished: resume it without --at, or --restart", err=True)
            raise typer.Exit(1)
        run = run if run is not None else rescorer.start(f"cli-{utcnow():%Y%m%dT%H%M%S%f}", as_of)
        for p in rescorer.run(run, new_worker_id()):
            typer.echo(
                f"rescore run #{p.run}: {p.scanned}/{p.total} leads, {p.changed} changed, "
                f"{p.routed} to route, {p.busy} in work (left to the workers)",
                err=True,
            )
    except MappingsError as exc:
        for error in exc.errors:
            typer.echo(error, err=True)
        raise typer.Exit(1) from exc
    finally:
        db.dispose()
    typer.echo(f"rescore run #{run} finished: {p.scanned} leads, {p.changed} changed")


def _instant(text: str) -> datetime:
    from datetime import datetime

    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        value = None
    if value is None or value.tzinfo is None:
        typer.echo(f"--at: {text!r} is not an ISO 8601 instant with a time zone", err=True)
        raise typer.Exit(1)
    return value


# -- relais reps --------------------------------------------------------------------------------

REP_EMAIL = typer.Argument(help="The rep's email, as in team.yaml", show_default=False)


def _team() -> Team:
    """team.yaml of RELAIS_MAPPINGS_DIR; exit 1 with the errors when the mappings are broken."""
    from app.mappings.loader import MappingsError, load_mappings

    try:
        return load_mappings(get_settings().mappings_dir).team
    except MappingsError as exc:
        for error in exc.errors:
            typer.echo(error, err=True)
        raise typer.Exit(1) from exc


@contextmanager
def _known_rep() -> Iterator[None]:
    """An unknown rep (or a reason too long): its message on stderr, exit 1."""
    from app.reps.service import InvalidReason, UnknownRep

    try:
        yield
    except (UnknownRep, InvalidReason) as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from exc


@reps_cli.command("pause")
def reps_pause(
    email: Annotated[str, REP_EMAIL],
    reason: Annotated[
        str | None, typer.Option(help="Why, for the other admins", show_default=False)
    ] = None,
) -> None:
    """Give the rep no new lead from the next one on, until `relais reps resume` (a rep
    already paused stays paused since then; --reason replaces its reason)."""
    from app.db import utcnow
    from app.reps.service import pause

    team = _team()
    with _known_rep(), _transaction() as session:
        done = pause(session, team, email, utcnow(), reason)
    since = done.pause.since if done.pause else utcnow()
    state = "paused" if done.changed else "already paused"
    why = f": {done.pause.reason}" if done.pause and done.pause.reason else ""
    typer.echo(f"{done.rep.email} {state} since {since:%Y-%m-%d %H:%M:%S} UTC{why}")


@reps_cli.command("resume")
def reps_resume(email: Annotated[str, REP_EMAIL]) -> None:
    """Give the rep leads again from the next one on (its calendar in team.yaml still
    applies: working hours, out of office, caps)."""
    from app.mappings.loader import load_mappings
    from app.reps.service import resume
    from app.routing.targets import pools_with

    team = _team()  # exits on broken mappings
    pools = pools_with(load_mappings(get_settings().mappings_dir), email)
    with _known_rep(), _transaction() as session:
        done = resume(session, team, email, pools=pools)
    typer.echo(f"{done.rep.email} {'resumed' if done.changed else 'was not paused'}")


@reps_cli.command("list")
def reps_list() -> None:
    """Every rep of team.yaml with its availability: paused (since, reason), active, working
    hours, absences (out_of_office)."""
    from app.reps.service import team_availability

    team = _team()
    with _transaction() as session:
        reps = team_availability(session, team)
    rows = [("EMAIL", "NAME", "ACTIVE", "PAUSED", "WORKING HOURS", "OUT OF OFFICE")]
    rows += [_rep_row(rep) for rep in reps]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        typer.echo("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())


def _rep_row(rep: dict[str, Any]) -> tuple[str, str, str, str, str, str]:
    paused = "no"
    if rep["paused"]:
        paused = f"since {rep['since'][:16].replace('T', ' ')} UTC"
        paused += f" ({rep['reason']})" if rep["reason"] else ""
    hours = rep["working_hours"]
    shown = "always"
    if hours is not None:
        days = ",".join(hours["days"])
        shown = f"{days} {hours['start'][:5]}-{hours['end'][:5]} {hours['timezone']}"
    away = ", ".join(f"{a['start']}..{a['end']}" for a in rep["out_of_office"]) or "-"
    return (rep["email"], rep["name"], "yes" if rep["active"] else "no", paused, shown, away)


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
