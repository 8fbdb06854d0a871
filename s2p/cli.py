"""`s2p`: list, run, stage, serve, monitor. Heavy libraries load only in the command that needs them."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import time
import warnings
from pathlib import Path

from s2p import tenancy

QUIET_TELEMETRY = {
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "DO_NOT_TRACK": "true",
    "BENTOML_DO_NOT_TRACK": "true",
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "FEAST_USAGE": "False",
    "GX_ANALYTICS_ENABLED": "false",
    "PREFECT_LOGGING_TO_API_BATCH_INTERVAL": "0.3",
    # third-party deprecation chatter (SQLAlchemy in MLflow, pathspec in BentoML) buries the log
    "PYTHONWARNINGS": "ignore::DeprecationWarning",
}


def configure_environment():
    """Point every library at this project's stores (unless the environment already does)."""
    from s2p.paths import Stores

    stores = Stores.from_env()
    for key, value in {**QUIET_TELEMETRY, **stores.service_environment()}.items():
        os.environ.setdefault(key, value)
    if stores.tenant:  # a tenant's locations replace the shared ones given (s2p/tenancy.py: resolved once)
        os.environ.update(stores.service_environment())
    # Prefect creates its home but not the folders above it: in a fresh clone .s2p/ does not exist yet
    Path(os.environ["PREFECT_HOME"]).mkdir(parents=True, exist_ok=True)
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    from s2p.backends import check_backends

    check_backends(stores)  # a configured server that is down is named before any run starts (none by default)
    return stores


def cmd_list(args) -> int:
    from s2p import catalog

    deliverables = catalog.select(args.phase)
    if args.json:
        print(json.dumps([d.summary() for d in deliverables], indent=2))
        return 0
    rows = [("id", "phase", "task", "model", "reference", "metrics")]
    rows += [(d.id, d.phase, d.task, d.model, d.reference, ",".join(d.metrics)) for d in deliverables]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
    return 0


def _size(value: str) -> int | str:
    """`--size`: a named size of params.yaml, or a row count."""
    if value.isdigit():
        return int(value)
    from s2p.config import SIZES

    if value not in ("default", *SIZES):
        names = ", ".join(("default", *SIZES))
        raise argparse.ArgumentTypeError(f"--size takes {names} or a number of rows, got {value!r}")
    return value


def cmd_run(args) -> int:
    stores = configure_environment()
    if args.phase or args.deliverable == "all":
        return _run_many(args)
    if args.cluster:
        raise ValueError("--cluster applies to `all` or --phase (one deliverable's steps form a chain)")
    if not args.deliverable:
        raise ValueError("name a deliverable, `all`, or --phase P")
    from pipeline.context import load_context
    from s2p.errors import expected_stop, quiet_expected_stops, stop_report

    named = args.size if isinstance(args.size, str) else None
    try:
        load_context(args.deliverable, data=args.data, target=args.target, size=named)  # fail fast on bad arguments
        from flows.deliverable import deliverable_flow

        quiet_expected_stops()
        # libraries print; stdout carries only the result. A tenant's runs carry its Prefect tag (its quota)
        with contextlib.redirect_stdout(sys.stderr), tenancy.run_tags(stores.tenant):
            summary = deliverable_flow(
                args.deliverable, data=args.data, target=args.target, size=args.size, force=args.force
            )
    except Exception as error:  # an expected stop answers --json with passed: false; main() says it
        if args.json and expected_stop(error):
            print(json.dumps({"deliverable": args.deliverable, **stop_report(error)}, indent=2, default=str))
        raise
    if args.json:
        print(json.dumps(summary, indent=2, default=str))
    else:
        _print_summary(summary)
    return 0


def _run_many(args) -> int:
    if args.data or args.target or isinstance(args.size, int):
        raise ValueError("--data, --target and a row count apply to one deliverable, not to `all` or --phase")
    from flows.deliverable import run_syllabus
    from s2p.errors import quiet_expected_stops

    quiet_expected_stops()
    with contextlib.redirect_stdout(sys.stderr), tenancy.run_tags(tenancy.tenant_from(os.environ)):
        summaries = run_syllabus(selection=args.phase or "all", force=args.force, cluster=args.cluster, size=args.size)
    if args.json:
        print(json.dumps(summaries, indent=2, default=str))
    else:
        for summary in summaries.values():
            _print_summary(summary)
    return 0


def _print_summary(summary: dict) -> None:
    mlflow = summary["mlflow"]
    cached = [step for step, state in summary["steps"].items() if state == "cached"]
    verdict = "promoted to champion" if mlflow["promoted"] else "not promoted"
    print(f"{summary['run_key']}: ours {summary['metrics']['ours']}")
    print(f"{' ' * len(summary['run_key'])}  reference {summary['metrics']['reference']}")
    print(f"model {mlflow['model_name']} v{mlflow['version']} {verdict}: {mlflow['reason']}")
    if cached:
        print(f"cached (inputs unchanged, not rerun): {', '.join(cached)}")
    print(f"bento {summary['bento']['tag']}; summary {summary['paths']['summary']}")


def cmd_stage(args) -> int:
    """One DVC stage: the plain step functions of the deliverable's recipe (what its tasks wrap), without Prefect."""
    configure_environment()
    from pipeline.context import load_context
    from pipeline.recipes import recipe_of

    ctx = load_context(args.deliverable)
    recipe = recipe_of(ctx.deliverable)
    if args.stage not in recipe.stages():
        raise ValueError(
            f"{args.deliverable} ({recipe.name} recipe) has no stage {args.stage!r}: {sorted(recipe.stages())}"
        )
    for name in recipe.stages()[args.stage]:
        result = recipe.step(name).run()(ctx)
        print(f"{args.deliverable} {name}: {brief(result)}")
    return 0


def cmd_dvc_yaml(args) -> int:
    """Write dvc.yaml from the catalog and params.yaml (or, with --check, fail when it is stale)."""
    from pipeline.dvcgen import generate, write
    from s2p.paths import Stores

    root = Stores.from_env().root
    if args.check:
        if (root / "dvc.yaml").read_text() != generate(root):
            print("dvc.yaml is stale: run `s2p dvc-yaml` to regenerate it", file=sys.stderr)
            return 1
        print("dvc.yaml is up to date")
        return 0
    print("dvc.yaml written" if write(root) else "dvc.yaml was already up to date")
    return 0


def brief(result) -> str:
    """A step result in one line: long lists (loss histories) are summarized."""
    if hasattr(result, "describe"):
        return result.describe()
    fields = result.to_dict() if hasattr(result, "to_dict") else vars(result)
    return ", ".join(
        f"{key}={f'[{len(value)} values]' if isinstance(value, list) and len(value) > 5 else value}"
        for key, value in fields.items()
    )


def cmd_serve(args) -> int:
    stores = configure_environment()
    from pipeline.context import load_context
    from s2p.files import read_json

    ctx = load_context(args.deliverable, stores, data=args.data, target=args.target)
    if not ctx.paths.bento.exists():
        raise SystemExit(f"no bento for {ctx.run_key} yet: run `s2p run {args.deliverable}` (or `dvc repro`) first")
    tag = read_json(ctx.paths.bento)["tag"]
    command = [
        str(Path(sys.executable).with_name("bentoml")),
        "serve",
        tag,
        "--host",
        args.host,
        "--port",
        str(args.port),
    ]
    print(f"serving {tag} on http://{args.host}:{args.port} (POST /predict); inference log {stores.inference_db}")
    sys.stdout.flush()
    os.execvpe(command[0], command, os.environ)


def cmd_monitor(args) -> int:
    configure_environment()
    from pipeline.context import load_context
    from pipeline.monitor import run_monitor

    overrides = {"monitor": {"window": args.window}} if args.window else None
    ctx = load_context(args.deliverable, data=args.data, target=args.target, overrides=overrides)
    if args.retrain:  # the monitor flow: on drift or degraded quality it retrains, gated, and repackages
        if args.data:
            raise ValueError("--retrain retrains a deliverable on its own data; for your file, rerun `s2p run --data`")
        from flows.lifecycle import monitor_flow
        from s2p.errors import quiet_expected_stops

        quiet_expected_stops()
        with contextlib.redirect_stdout(sys.stderr), tenancy.run_tags(tenancy.tenant_from(os.environ)):
            result = monitor_flow(args.deliverable, retrain=True, window=args.window)
    else:
        result = run_monitor(ctx).to_dict()
    if args.json:
        print(json.dumps(result, indent=2, default=str))
        return 0
    verdict = "drift detected" if result["drift_detected"] else "no drift"
    print(
        f"{result['deliverable']}: {verdict}: {result['drifted_share']:.0%} of {result['columns']} columns drifted "
        f"({', '.join(result['drifted_columns']) or 'none'}) over {result['current_rows']} requests "
        f"(threshold {result['threshold']:.0%})\nreport: {result['html']}"
    )
    if args.retrain:
        print(_brief_retraining(result))
    return 0


def _brief_retraining(result: dict) -> str:
    retraining = result.get("retraining")
    if retraining is None:
        return "no retraining: neither the features drifted nor the quality on labeled traffic degraded"
    if retraining["via"] == "deployment":
        return f"retraining started through the deliverable's deployment: flow run {retraining['flow_run_id']}"
    return _brief_retrain(retraining["result"])


def cmd_dag(args) -> int:
    from pipeline.stages import step_dag
    from s2p import catalog

    chosen = [catalog.get(args.deliverable)] if args.deliverable else catalog.select(args.phase)
    dag = step_dag(chosen, qualified=True)
    length, path = dag.critical_path()
    if args.mermaid:
        print(dag.to_mermaid())
        return 0
    for i, wave in enumerate(dag.generations(), start=1):
        print(f"wave {i}: {', '.join(wave)}")
    print(f"critical path ({length:g} steps): {' -> '.join(path)}")
    print("\n" + dag.to_mermaid())
    return 0


def cmd_impact(args) -> int:
    from pipeline.stages import impact, impact_since
    from s2p.paths import find_root

    if bool(args.change) == bool(args.since):
        raise ValueError("give a path or params key to check, or --since GIT_REF")
    affected = impact_since(find_root(), args.since) if args.since else impact(find_root(), args.change)
    if args.deliverables:
        print(" ".join(affected))
        return 0
    if args.json:
        print(json.dumps(affected, indent=2))
    elif not affected:
        print(f"no DVC stage depends on {args.change or 'the changes since ' + args.since}: nothing would rerun")
    else:
        for deliverable, steps in affected.items():
            print(f"{deliverable}: {', '.join(steps)}")
    return 0


def cmd_retrain(args) -> int:
    stores = configure_environment()
    from flows.lifecycle import retrain_flow
    from s2p.errors import quiet_expected_stops

    quiet_expected_stops()
    with contextlib.redirect_stdout(sys.stderr), tenancy.run_tags(stores.tenant):
        summary = retrain_flow(args.deliverable, reason=args.reason)
    print(json.dumps(summary, indent=2, default=str) if args.json else _brief_retrain(summary))
    return 0


def _brief_retrain(summary: dict) -> str:
    mlflow = summary["mlflow"]
    verdict = "promoted to champion" if mlflow["promoted"] else "not promoted"
    return (
        f"{summary['run_key']}: retrained with {summary['retrain']['new_rows']} new labeled rows; "
        f"v{mlflow['version']} {verdict}: {mlflow['reason']}; champion v{mlflow['champion_version']}"
    )


def _registry(args):
    stores = configure_environment()
    from pipeline.context import load_context
    from pipeline.registry import mlflow_client

    ctx = load_context(args.deliverable, stores)
    return ctx, mlflow_client(stores)


def cmd_rollback(args) -> int:
    ctx, client = _registry(args)
    from pipeline.package import run_package
    from pipeline.registry import rollback

    move = rollback(client, ctx.model_name)
    with contextlib.redirect_stdout(sys.stderr):
        bento = run_package(ctx)
    print(f"{ctx.model_name}: champion v{move['from_version']} -> v{move['to_version']} ({move['reason']})")
    print(f"bento {bento.tag} serves v{bento.model_version}: restart `s2p serve {args.deliverable}` to pick it up")
    return 0


def cmd_history(args) -> int:
    ctx, client = _registry(args)
    from pipeline.registry import champion_history

    history = champion_history(client, ctx.model_name)
    if args.json:
        print(json.dumps(history, indent=2))
        return 0
    for move in history:
        print(f"{move['at']}  v{move['from_version']} -> v{move['to_version']}  {move['reason']}")
    return 0


def cmd_deployment(args) -> int:
    """A served bento's deployment state (blue-green colour, canary status, rollbacks); --switch moves
    all traffic of the running server (POST /deployment/switch) to a colour."""
    stores = configure_environment()
    from pipeline.context import load_context
    from serving.rollout import deployment_dir, read_state

    ctx = load_context(args.deliverable, stores)
    if args.switch:
        import httpx

        url = f"{args.url.rstrip('/')}/deployment/switch"
        from s2p.errors import BackendUnavailable

        try:
            response = httpx.post(url, json={"colour": args.switch}, timeout=10)
        except httpx.HTTPError as error:
            raise BackendUnavailable(f"no server answered at {args.url} ({error}): is `s2p serve` running?") from None
        if response.status_code != 200:
            raise ValueError(f"the switch was refused ({response.status_code}): {response.text}")
        print(json.dumps(response.json()) if args.json else f"{ctx.run_key}: {args.switch} is live ({response.json()})")
        return 0
    state = read_state(deployment_dir(stores.inference_db), ctx.run_key)
    if args.json:
        print(json.dumps(state, indent=2))
        return 0
    if state is None:
        print(f"{ctx.run_key}: no canary or blue-green deployment served yet")
        return 0
    versions = ", ".join(f"{colour} v{version}" for colour, version in state["versions"].items() if version)
    print(f"{ctx.run_key}: {state['mode']} ({versions}); live: {state['live']}")
    if state.get("canary"):
        canary = state["canary"]
        reason = f" ({canary['reason']})" if "reason" in canary else ""
        print(f"canary v{canary['version']}: {canary['status']}{reason}")
    for item in state.get("events", [])[-10:]:
        print(f"  {time.strftime('%Y-%m-%d %H:%M:%S', time.gmtime(item['at']))}Z  {item['event']}: {item['detail']}")
    return 0


def cmd_deploy(args) -> int:
    stores = configure_environment()
    from s2p import catalog
    from s2p.config import params_for

    chosen = [catalog.get(args.deliverable)] if args.deliverable else catalog.select(args.phase)
    from flows.deploy import serve_deployments

    api = os.environ.get("PREFECT_API_URL", "a temporary local API (start `prefect server start` for the UI)")
    print(f"serving {len(chosen)} deployment(s) of flow 'lifecycle' at {api}")
    sys.stdout.flush()
    serve_deployments([(d, params_for(stores.params_file, d.id)) for d in chosen])
    return 0


def cmd_where(args) -> int:
    stores = configure_environment()
    from s2p import catalog

    print("Where to look:")
    for d in catalog.CATALOG:
        paths = stores.run_paths(d.id)
        print(f"  {d.id}:")
        print(f"    metrics        {paths.metrics}")
        print(f"    plots          {paths.plots}")
        print(f"    registry       {paths.registry_decision}")
        print(f"    bento          {paths.bento}   (serve: s2p serve {d.id})")
        print(f"    drift report   {paths.monitoring / 'drift.html'}   (after: s2p monitor {d.id})")
    print(f"  MLflow UI:       mlflow ui --backend-store-uri {stores.mlflow_tracking_uri}")
    print("  DVC metrics:     dvc metrics show")
    return 0


def cmd_parity(args) -> int:
    stores = configure_environment()
    from pipeline.parity import run_parity

    output = Path(args.output) if args.output else None
    table = run_parity(stores, args.deliverable or None, args.repeats, output, timing=args.timing)
    if args.json:
        print(json.dumps(table, indent=2))
        return 0
    for row in table["rows"]:
        metric = "met" if row["metric_ok"] else "MISSED"
        if row["fit_budget"] is None:
            fit = "no budget (another kind of model)"
        else:
            fit = "met" if row["fit_ok"] else f"MISSED (budget {row['fit_budget']:g}x)"
        print(
            f"{row['deliverable']:<24} {row['metric']:<20} ours {row['ours']:<10.6g} ref {row['reference']:<10.6g}"
            f" {row['relative_delta']:+7.2%} {metric:<7} fit {row['fit_ratio']:6.2f}x {fit}"
        )
    if table["missing"]:
        print(f"not run yet: {', '.join(table['missing'])}")
    return 0


def cmd_env(args) -> int:
    stores = configure_environment()
    for key, value in stores.service_environment().items():
        print(f"export {key}={value}")
    return 0


def cmd_tenant(args) -> int:
    """Provision and inspect tenants (s2p/tenancy.py): names and locations, API keys, Prefect quotas."""
    tenant = tenancy.check_tenant(args.tenant) if getattr(args, "tenant", None) else None
    if args.action in ("show", "init"):
        os.environ[tenancy.VARIABLE] = tenant
        stores = configure_environment() if args.action == "init" else _tenant_stores()
        schema = tenancy.create_schema(str(stores.inference_db)) if args.action == "init" else None
        print(json.dumps(_tenant_summary(stores, schema), indent=2))
        return 0
    keys_file = _tenant_stores().tenant_keys
    if args.action == "key":
        key, key_id = tenancy.issue_key(keys_file, tenant)
        print(f"key {key_id} for tenant {tenant} (shown once, stored as a digest in {keys_file}):", file=sys.stderr)
        print(key)
    elif args.action == "keys":
        print(json.dumps(tenancy.list_keys(keys_file, tenant), indent=2))
    elif args.action == "revoke":
        print(json.dumps({"revoked": tenancy.revoke_key(keys_file, args.key_id)}))
    elif args.action == "limit":
        print(json.dumps(tenancy.set_concurrency_limit(tenant, args.tasks)))
    return 0


def _tenant_stores():
    from s2p.paths import Stores

    return Stores.from_env()


def _tenant_summary(stores, schema: str | None) -> dict:
    from s2p.backends import hidden_password

    tenant = stores.tenant
    return {
        "tenant": tenant,
        "mlflow": {
            "tracking_uri": hidden_password(stores.mlflow_tracking_uri),
            "experiments": tenancy.experiment_name("<run key>", tenant),
            "registered_models": tenancy.model_name("<run key>", tenant),
        },
        "feast_project": tenancy.feast_project("<feature_store.yaml project>", tenant),
        "inference_log": hidden_password(str(stores.inference_db)),
        "inference_schema": schema,
        "prefect_tag": tenancy.prefect_tag(tenant),
        "data": str(stores.data),
        "artifacts": str(stores.artifacts),
        "state": str(stores.state),
        "api_keys": str(stores.tenant_keys),
    }


def _refused_by_mlflow(error: BaseException) -> str | None:
    """An MLflow server's 401 / 403 (another tenant's experiment or model): one line, no traceback."""
    status = getattr(error, "get_http_status_code", lambda: None)()
    if type(error).__name__ in ("MlflowException", "RestException") and status in (401, 403):
        return f"the MLflow tracking server refused ({status}): {str(error).splitlines()[0]}"
    return None


def parser() -> argparse.ArgumentParser:
    main = argparse.ArgumentParser(prog="s2p", description="ScratchToProd: from-scratch ML, data to served model.")
    commands = main.add_subparsers(dest="command", required=True)

    listing = commands.add_parser("list", help="list the deliverables of the catalog")
    listing.add_argument("--phase", help="only this syllabus phase")
    listing.add_argument("--json", action="store_true", help="print JSON")
    listing.set_defaults(func=cmd_list)

    def data_options(command):
        command.add_argument("--data", help="your own CSV or parquet file instead of the bundled data")
        command.add_argument("--target", help="the column of --data to predict (the others are features)")

    run = commands.add_parser("run", help="run a deliverable's flow (or `all`, or --phase P) to a packaged champion")
    run.add_argument("deliverable", nargs="?", help="a catalog id, or `all`")
    run.add_argument("--phase", help="every deliverable of this syllabus phase, in one flow")
    data_options(run)
    run.add_argument(
        "--size", type=_size, help="smoke | default | full (params.yaml's sizes), or at most this many rows"
    )
    run.add_argument("--force", action="store_true", help="rerun steps even when their inputs are unchanged")
    run.add_argument("--json", action="store_true", help="print the run summary as JSON")
    run.add_argument(
        "--cluster",
        help="with `all` or --phase: run the steps on the Dask cluster whose scheduler is at this address "
        "(tcp://host:8786; default $S2P_DASK_SCHEDULER), else on this machine's worker processes",
    )
    run.set_defaults(func=cmd_run)

    stage = commands.add_parser("stage", help="run one DVC stage (what dvc.yaml calls)")
    stage.add_argument("stage", help="a stage of the deliverable's recipe (prepare, train, evaluate, package, ...)")
    stage.add_argument("deliverable")
    stage.set_defaults(func=cmd_stage)

    dvc_yaml = commands.add_parser("dvc-yaml", help="generate dvc.yaml from the catalog and params.yaml")
    dvc_yaml.add_argument("--check", action="store_true", help="only check that dvc.yaml is up to date")
    dvc_yaml.set_defaults(func=cmd_dvc_yaml)

    serve = commands.add_parser("serve", help="serve a deliverable's bento with `bentoml serve`")
    serve.add_argument("deliverable")
    data_options(serve)
    serve.add_argument("--port", type=int, default=3000)
    serve.add_argument("--host", default="127.0.0.1")
    serve.set_defaults(func=cmd_serve)

    monitor = commands.add_parser("monitor", help="Evidently drift of served traffic against the training data")
    monitor.add_argument("deliverable")
    data_options(monitor)
    monitor.add_argument("--window", type=int, help="compare the newest N logged requests (default: params.yaml)")
    monitor.add_argument("--json", action="store_true")
    monitor.add_argument("--retrain", action="store_true", help="as a Prefect flow that starts retraining on drift")
    monitor.set_defaults(func=cmd_monitor)

    dag = commands.add_parser("dag", help="print the step DAG (waves, critical path, Mermaid)")
    dag.add_argument("deliverable", nargs="?")
    dag.add_argument("--phase")
    dag.add_argument("--mermaid", action="store_true", help="only the Mermaid diagram")
    dag.set_defaults(func=cmd_dag)

    impact = commands.add_parser("impact", help="which deliverables and steps a change to a file or parameter reruns")
    impact.add_argument("change", nargs="?", help="a repository path (file or folder) or a params.yaml key")
    impact.add_argument("--since", help="everything changed since this git ref (files, and params.yaml keys)")
    impact.add_argument("--json", action="store_true")
    impact.add_argument("--deliverables", action="store_true", help="only the affected deliverable ids, one line")
    impact.set_defaults(func=cmd_impact)

    retrain = commands.add_parser("retrain", help="retrain with the labeled served traffic; gate; repackage")
    retrain.add_argument("deliverable")
    retrain.add_argument("--reason", default="manual")
    retrain.add_argument("--json", action="store_true")
    retrain.set_defaults(func=cmd_retrain)

    rollback = commands.add_parser("rollback", help="restore the previous champion and repackage it")
    rollback.add_argument("deliverable")
    rollback.set_defaults(func=cmd_rollback)

    history = commands.add_parser("history", help="every move of the champion alias")
    history.add_argument("deliverable")
    history.add_argument("--json", action="store_true")
    history.set_defaults(func=cmd_history)

    deploy = commands.add_parser(
        "deploy", help="serve one Prefect deployment per deliverable (schedules from params.yaml)"
    )
    deploy.add_argument("deliverable", nargs="?")
    deploy.add_argument("--phase")
    deploy.set_defaults(func=cmd_deploy)

    deployment = commands.add_parser(
        "deployment", help="a served bento's blue-green colour and canary status; --switch moves all traffic"
    )
    deployment.add_argument("deliverable")
    deployment.add_argument("--switch", choices=("blue", "green"), help="make this colour live on the running server")
    deployment.add_argument("--url", default="http://127.0.0.1:3000", help="the running server (default: %(default)s)")
    deployment.add_argument("--json", action="store_true")
    deployment.set_defaults(func=cmd_deployment)

    parity = commands.add_parser("parity", help="write PARITY.md: every model against its reference library")
    parity.add_argument("deliverable", nargs="*", help="only these (default: every deliverable that has run)")
    parity.add_argument(
        "--timing", action="store_true", help="refit the models to time them (default: the training reports)"
    )
    parity.add_argument("--repeats", type=int, default=3, help="with --timing: fits timed per model; the best counts")
    parity.add_argument("--output", help="where to write the Markdown table (default: PARITY.md at the root)")
    parity.add_argument("--json", action="store_true")
    parity.set_defaults(func=cmd_parity)

    tenant = commands.add_parser("tenant", help="a tenant's names and stores, API keys, Prefect quota")
    actions = tenant.add_subparsers(dest="action", required=True)
    for action, text in (
        ("show", "the tenant's names and locations (what S2P_TENANT=ID selects)"),
        ("init", "check the tenant's stores; create its PostgreSQL schema for a shared inference log"),
        ("key", "issue an API key for the tenant's bentos (printed once; only its digest is kept)"),
    ):
        actions.add_parser(action, help=text).add_argument("tenant")
    keys = actions.add_parser("keys", help="list API key ids (all tenants, or one)")
    keys.add_argument("tenant", nargs="?")
    revoke = actions.add_parser("revoke", help="revoke an API key by its id (served bentos stop accepting it)")
    revoke.add_argument("key_id")
    limit = actions.add_parser("limit", help="at most N of the tenant's Prefect tasks run at once (PREFECT_API_URL)")
    limit.add_argument("tenant")
    limit.add_argument("tasks", type=int)
    tenant.set_defaults(func=cmd_tenant)

    commands.add_parser("where", help="print where the results are").set_defaults(func=cmd_where)
    commands.add_parser("env", help="print the environment that points tools at the stores").set_defaults(func=cmd_env)
    return main


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    from s2p.errors import explain

    try:
        return args.func(args)
    except Exception as error:  # known user errors become one clear line, the rest a traceback
        message = explain(error) or _refused_by_mlflow(error)
        if message is None:
            raise
        print(f"s2p: error: {message}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
