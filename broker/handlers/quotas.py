"""Client quotas: DescribeClientQuotas and AlterClientQuotas over the broker's quota store."""

from __future__ import annotations

from typing import TYPE_CHECKING

from kctl.protocol.acl import AclOperation, ResourceType
from kctl.protocol.errors import ErrorCode
from kctl.protocol.headers import RequestHeader
from kctl.protocol.messages.alter_client_quotas import (
    AlterClientQuotasRequest,
    AlterClientQuotasResponse,
    AlterClientQuotasResult,
    AlteredQuotaEntity,
)
from kctl.protocol.messages.describe_client_quotas import (
    DescribeClientQuotasEntry,
    DescribeClientQuotasRequest,
    DescribeClientQuotasResponse,
    QuotaEntity,
    QuotaValue,
)

from ..quotas import QuotaChange

if TYPE_CHECKING:
    from ..context import BrokerContext, Peer


def describe_client_quotas(
    broker: BrokerContext, header: RequestHeader, request: DescribeClientQuotasRequest, peer: Peer
) -> DescribeClientQuotasResponse:
    if not broker.authorizer.permits(peer, AclOperation.DESCRIBE_CONFIGS, ResourceType.CLUSTER):
        return DescribeClientQuotasResponse(error_code=ErrorCode.CLUSTER_AUTHORIZATION_FAILED.code,
                                            error_message=None, entries=None)
    components = [(c.entity_type, c.match_type, c.match) for c in request.components]
    found = broker.quotas.describe(components, request.strict)
    entries = [DescribeClientQuotasEntry([QuotaEntity(t, n) for t, n in entity],
                                         [QuotaValue(k, v) for k, v in sorted(values.items())])
               for entity, values in found]
    return DescribeClientQuotasResponse(error_code=0, error_message=None, entries=entries)


def alter_client_quotas(
    broker: BrokerContext, header: RequestHeader, request: AlterClientQuotasRequest, peer: Peer
) -> AlterClientQuotasResponse:
    if not broker.authorizer.permits(peer, AclOperation.ALTER_CONFIGS, ResourceType.CLUSTER):
        return AlterClientQuotasResponse(entries=[
            AlterClientQuotasResult(ErrorCode.CLUSTER_AUTHORIZATION_FAILED.code, None,
                                    [AlteredQuotaEntity(e.entity_type, e.entity_name) for e in entry.entity])
            for entry in request.entries])
    changes = [QuotaChange(tuple(sorted((e.entity_type, e.entity_name) for e in entry.entity)),
                           [(op.key, op.value, op.remove) for op in entry.ops]) for entry in request.entries]
    results = broker.quotas.alter(changes, request.validate_only)
    return AlterClientQuotasResponse(entries=[
        AlterClientQuotasResult(error.code, message, [AlteredQuotaEntity(e.entity_type, e.entity_name)
                                                      for e in entry.entity])
        for entry, (error, message) in zip(request.entries, results, strict=True)])
