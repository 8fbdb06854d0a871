"""Where everything lives: the one place that spells out paths.

Every location of generated state has a default inside the repository (git-ignored) and an
environment variable that moves it. Nothing is created here; steps create what they write.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from s2p import tenancy

PROJECT_MARKERS = ("params.yaml", "dvc.yaml")


def find_root(start: Path | None = None) -> Path:
    """$S2P_ROOT, else the nearest folder above the working directory holding params.yaml and dvc.yaml."""
    if os.environ.get("S2P_ROOT"):
        return Path(os.environ["S2P_ROOT"]).resolve()
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if all((folder / marker).is_file() for marker in PROJECT_MARKERS):
            return folder
    return Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Stores:
    """Locations of the shared stores (tracking, feature store, model store, logs)."""

    root: Path
    params_file: Path
    data: Path
    artifacts: Path
    state: Path
    mlflow_tracking_uri: str  # sqlite:///... by default; postgresql://... or http://mlflow-server in production
    #: A URI: file:///... by default, s3://bucket/prefix in production; None: the tracking server's own
    #: (an `mlflow server --artifacts-destination s3://...` proxies artifacts: mlflow-artifacts:/)
    mlflow_artifacts: str | None
    prefect_home: Path
    feast_repo: Path
    feast_registry: Path | str  # a file, or a SQLAlchemy URL of a SQL registry (postgresql+psycopg://...)
    feast_online_store: Path | str  # a SQLite file, or redis://host:port[/db]
    bentoml_home: Path
    inference_db: Path | str  # a SQLite file, or a SQLAlchemy URL (postgresql://...)
    #: Prefect's server database (PREFECT_SERVER_DATABASE_CONNECTION_URL), None: SQLite in prefect_home
    prefect_database: str | None = None
    #: The tenant these stores belong to (S2P_TENANT, s2p/tenancy.py), None: no tenant (every default as is)
    tenant: str | None = None
    #: The served bentos' API keys, as digests, of every tenant (S2P_TENANT_KEYS; serving/api_keys.py)
    tenant_keys: Path | None = None

    @classmethod
    def from_env(cls, root: Path | None = None) -> Stores:
        root = root or find_root()
        env = os.environ

        def path(var: str, default: Path) -> Path:
            return Path(env[var]).resolve() if env.get(var) else default

        def location(var: str, default: Path) -> Path | str:
            """A URL as given (a database, a Redis server), else a local path."""
            return env[var] if is_url(env.get(var)) else path(var, default)

        shared_state = path("S2P_STATE_DIR", root / ".s2p")
        tenant = tenancy.tenant_from(env)  # a tenant's defaults lie in its own folder of the state
        state = shared_state if tenant is None else tenancy.folder(shared_state, tenant)
        tracking = env.get("MLFLOW_TRACKING_URI") or f"sqlite:///{state / 'mlflow' / 'mlflow.db'}"
        served_artifacts = tracking.startswith(("http://", "https://")) and not env.get("S2P_MLFLOW_ARTIFACTS")
        artifacts = None if served_artifacts else _uri(env.get("S2P_MLFLOW_ARTIFACTS"), state / "mlflow" / "artifacts")
        stores = cls(
            root=root,
            params_file=path("S2P_PARAMS", root / "params.yaml"),
            data=path("S2P_DATA_DIR", root / "data"),
            artifacts=path("S2P_ARTIFACTS_DIR", root / "artifacts"),
            state=state,
            mlflow_tracking_uri=tracking,
            mlflow_artifacts=artifacts,
            prefect_home=path("PREFECT_HOME", state / "prefect"),
            feast_repo=root / "feature_repo",
            feast_registry=location("S2P_FEAST_REGISTRY", state / "feast" / "registry.db"),
            feast_online_store=location("S2P_FEAST_ONLINE_STORE", state / "feast" / "online.db"),
            bentoml_home=path("BENTOML_HOME", state / "bentoml"),
            inference_db=location("S2P_INFERENCE_DB", state / "inference" / "inference.db"),
            prefect_database=env.get("PREFECT_SERVER_DATABASE_CONNECTION_URL")
            or env.get("PREFECT_API_DATABASE_CONNECTION_URL")
            or None,
            tenant_keys=path("S2P_TENANT_KEYS", shared_state / "tenants" / "keys.json"),
        )
        return stores if tenant is None else tenancy.scoped(stores, tenant)

    def service_environment(self) -> dict[str, str]:
        """Variables that point the libraries (and child processes) at these stores."""
        return {
            "S2P_ROOT": str(self.root),
            "MLFLOW_TRACKING_URI": self.mlflow_tracking_uri,
            "PREFECT_HOME": str(self.prefect_home),
            "BENTOML_HOME": str(self.bentoml_home),
            "S2P_INFERENCE_DB": str(self.inference_db),
            "S2P_FEAST_REGISTRY": str(self.feast_registry),  # read at request time by online features
            "S2P_FEAST_ONLINE_STORE": str(self.feast_online_store),
        } | ({"S2P_TENANT": self.tenant, "S2P_TENANT_KEYS": str(self.tenant_keys)} if self.tenant else {})

    def run_paths(self, run_key: str) -> RunPaths:
        return RunPaths(data=self.data / run_key, artifacts=self.artifacts / run_key)


@dataclass(frozen=True)
class RunPaths:
    """The files of one run key (a deliverable on its bundled data, or on a user's file)."""

    data: Path
    artifacts: Path

    @property
    def candidate(self) -> Path:
        return self.data / "candidate.parquet"

    @property
    def dataset(self) -> Path:
        return self.data / "dataset.parquet"

    @property
    def rejected(self) -> Path:
        return self.data / "rejected.parquet"

    @property
    def training_set(self) -> Path:
        return self.data / "training_set.parquet"

    @property
    def sample_metadata(self) -> Path:
        """Feast's offline source for a deliverable with tensor columns: per-sample metadata."""
        return self.data / "sample_metadata.parquet"

    @property
    def validation_report(self) -> Path:
        return self.artifacts / "validation.json"

    @property
    def failed_validation_report(self) -> Path:
        return self.artifacts / "validation_failed.json"

    @property
    def model(self) -> Path:
        return self.artifacts / "model.pkl"

    @property
    def reference_model(self) -> Path:
        return self.artifacts / "reference.pkl"

    @property
    def checkpoint(self) -> Path:
        return self.artifacts / "checkpoint.pkl"

    @property
    def training_report(self) -> Path:
        return self.artifacts / "training.json"

    @property
    def reference_report(self) -> Path:
        return self.artifacts / "reference_training.json"

    @property
    def metrics(self) -> Path:
        return self.artifacts / "metrics.json"

    @property
    def plots(self) -> Path:
        return self.artifacts / "plots"

    @property
    def registry_decision(self) -> Path:
        return self.artifacts / "registry.json"

    @property
    def bento(self) -> Path:
        return self.artifacts / "bento.json"

    @property
    def bento_build(self) -> Path:
        return self.artifacts / "bento_build"

    @property
    def monitoring(self) -> Path:
        return self.artifacts / "monitoring"

    # -- the files of the other recipes (pipeline/recipes.py) ------------------------------------
    @property
    def corpus(self) -> Path:
        """corpus: the validated text."""
        return self.data / "corpus.txt"

    @property
    def candidate_corpus(self) -> Path:
        return self.data / "candidate.txt"

    @property
    def rejected_corpus(self) -> Path:
        return self.data / "rejected.txt"

    @property
    def tokens(self) -> Path:
        """corpus: the token ids of the training and validation splits, and the tokenizer's JSON."""
        return self.data / "tokens.npz"

    @property
    def rollouts(self) -> Path:
        """environment: recorded rollouts of a random policy (validated observations)."""
        return self.data / "rollouts.parquet"

    @property
    def documents(self) -> Path:
        """index: the validated documents."""
        return self.data / "documents.parquet"

    @property
    def queries(self) -> Path:
        """index: the query set and its relevance labels."""
        return self.data / "queries.parquet"

    @property
    def audit_set(self) -> Path:
        """audit: the upstream champion's held-out rows (features, target, the group)."""
        return self.data / "audit_set.parquet"

    @property
    def reference_requests(self) -> Path:
        """Requests like the served ones, from the training data: the drift monitor's reference."""
        return self.data / "reference_requests.parquet"

    @property
    def model_dir(self) -> Path:
        """A model stored as files (a torch state dict and its config), not a pickle."""
        return self.artifacts / "model"

    @property
    def reference_dir(self) -> Path:
        return self.artifacts / "reference"

    @property
    def report(self) -> Path:
        """An audit's report (HTML, tables and plots beside it)."""
        return self.artifacts / "report"

    @property
    def run_summary(self) -> Path:
        return self.artifacts / "run.json"

    @property
    def failed_run_summary(self) -> Path:
        return self.artifacts / "run_failed.json"


def is_url(location: str | Path | None) -> bool:
    """Whether a store location is a server's URL (scheme://...) rather than a local path."""
    return isinstance(location, str) and "://" in location


def _uri(value: str | None, default: Path) -> str:
    """A URI as given (s3://, gs://, file://), or a local path turned into a file:// URI."""
    if value and "://" in value:
        return value
    return (Path(value).resolve() if value else default).as_uri()


def slug(text: str) -> str:
    """A name safe for files, MLflow, Feast and BentoML: lowercase letters, digits and underscores."""
    cleaned = re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")
    return cleaned or "data"
