"""Alembic environment of the inference log: run on the connection serving.inference_log.upgrade
passes in (``config.attributes["connection"]``), or offline / from the `alembic` CLI on a URL given
as ``-x url=...`` (``alembic -c serving/migrations/alembic.ini -x url=postgresql://... upgrade head``)."""

import sqlalchemy as sa
from alembic import context

config = context.config
connection = config.attributes.get("connection")

if context.is_offline_mode():
    context.configure(url=context.get_x_argument(as_dictionary=True)["url"], literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
elif connection is not None:
    context.configure(connection=connection)
    with context.begin_transaction():
        context.run_migrations()
else:
    engine = sa.create_engine(context.get_x_argument(as_dictionary=True)["url"])
    with engine.begin() as own:
        context.configure(connection=own)
        with context.begin_transaction():
            context.run_migrations()
