"""Safe enforcement: enforced actions dispatched to the platform.

``config`` (``response.toml``: adapters, routes, retries, the breaker),
``adapters`` (signed webhook, Kafka topic, log), ``ledger`` (dispatch state
beside the store's ``actions`` table, and the release or drop of held
actions; ``ledger_postgres`` keeps it in a PostgreSQL store, ``ledger_tables``
names its tables), ``delay`` (keyed random delays per rule), ``breaker``
(budgets per action type, runaway rules) and ``dispatch`` (the dispatcher
and reversal by hand).
"""

from trustwatch.response.adapters import (
    AdapterError,
    Delivery,
    KafkaAdapter,
    LogAdapter,
    WebhookAdapter,
    build_adapters,
)
from trustwatch.response.config import ResponseConfig, load_response_config
from trustwatch.response.dispatch import Dispatcher, PassSummary, reverse_action
from trustwatch.response.ledger import DispatchLedger, open_ledger

__all__ = [
    "AdapterError",
    "Delivery",
    "DispatchLedger",
    "Dispatcher",
    "KafkaAdapter",
    "LogAdapter",
    "PassSummary",
    "ResponseConfig",
    "WebhookAdapter",
    "build_adapters",
    "load_response_config",
    "open_ledger",
    "reverse_action",
]
