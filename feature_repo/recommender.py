"""The recommender's user features for `feast apply` from the CLI: its entity, the push source the
event stream writes through and the feature view both feed (models/sd/recommender/online.py). The
pipeline's features step applies the same objects (pipeline/interactions.py build_user_features)."""

from models.sd.recommender.online import feature_objects
from pipeline.interactions import user_features_path
from s2p.paths import Stores

recommender_user, recommender_events, recommender_users = feature_objects(
    "recommender", str(user_features_path(Stores.from_env().run_paths("recommender")))
)
