"""One table from API key to handler. Handlers return a response, an awaitable of one, or None."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kctl.protocol.api import API_BY_KEY
from kctl.protocol.headers import RequestHeader
from kctl.protocol.messages.produce import (
    PartitionProduceResponse,
    ProduceRequest,
    ProduceResponse,
    TopicProduceResponse,
)

from . import admin, configs, data, groups
from .data import CloseConnection
from .versions import ADVERTISED, api_versions, serves

#: (broker, request header, request, client host) -> response
Handler = Callable[[Any, RequestHeader, Any, str], Any]

HANDLERS: dict[int, Handler] = {
    0: data.produce,
    1: data.fetch,
    2: data.list_offsets,
    3: admin.metadata,
    8: groups.offset_commit,
    9: groups.offset_fetch,
    10: groups.find_coordinator,
    11: groups.join_group,
    12: groups.heartbeat,
    13: groups.leave_group,
    14: groups.sync_group,
    15: groups.describe_groups,
    16: groups.list_groups,
    18: lambda broker, header, request, client_host: api_versions(request),
    19: admin.create_topics,
    20: admin.delete_topics,
    21: admin.delete_records,
    22: data.init_producer_id,
    23: data.offset_for_leader_epoch,
    32: configs.describe_configs,
    33: configs.alter_configs,
    35: admin.describe_log_dirs,
    37: admin.create_partitions,
    42: groups.delete_groups,
    44: configs.incremental_alter_configs,
    47: groups.offset_delete,
    60: admin.describe_cluster,
}

#: Answered by the connection itself: they change its authentication state.
CONNECTION_APIS = frozenset({17, 36})  # SaslHandshake, SaslAuthenticate

assert set(HANDLERS) | CONNECTION_APIS == set(ADVERTISED), "every advertised API needs a handler"


def error_response(header: RequestHeader, request: Any, code: int) -> Any | None:
    """A response of the request's own version carrying `code`, or None if the shape has no place for it.

    Used for versions the codec can read but the broker does not serve (Produce v0-2) and for
    APIs not advertised yet, so the client hears UNSUPPORTED_VERSION instead of a closed socket.
    """
    if isinstance(request, ProduceRequest):
        return ProduceResponse(responses=[
            TopicProduceResponse(t.name, [PartitionProduceResponse(index=p.index, error_code=code)
                                          for p in t.partition_data])
            for t in request.topic_data
        ])
    response_type = API_BY_KEY[header.api_key].response_type
    response = response_type()
    if "error_code" in response.__slots__:
        setattr(response, "error_code", code)  # noqa: B010 - the type is only known at run time
        return response
    return None


__all__ = ["HANDLERS", "CloseConnection", "error_response", "serves"]
