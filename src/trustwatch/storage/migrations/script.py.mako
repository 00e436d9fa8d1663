"""${message}

Revision ID: ${up_revision}
Revises: ${down_revision | comma,n}
Create Date: ${create_date}
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = ${repr(up_revision)}
down_revision = ${repr(down_revision)}
branch_labels = ${repr(branch_labels)}
depends_on = ${repr(depends_on)}


def upgrade(schema: str | None = None) -> None:
    ${upgrades if upgrades else "pass"}


def downgrade(schema: str | None = None) -> None:
    ${downgrades if downgrades else "pass"}
