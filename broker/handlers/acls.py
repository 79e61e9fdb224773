"""The ACL APIs, answered as Apache Kafka answers them on a broker with no authorizer configured:
SECURITY_DISABLED. The built-in broker has no authorizer yet: every client it lets in may do
everything, which clients (and `kctl acls`) hear instead of a silent success."""

from __future__ import annotations

from typing import TYPE_CHECKING

from kctl.protocol.errors import ErrorCode
from kctl.protocol.headers import RequestHeader
from kctl.protocol.messages.create_acls import AclCreationResult, CreateAclsRequest, CreateAclsResponse
from kctl.protocol.messages.delete_acls import DeleteAclsFilterResult, DeleteAclsRequest, DeleteAclsResponse
from kctl.protocol.messages.describe_acls import DescribeAclsRequest, DescribeAclsResponse

if TYPE_CHECKING:
    from ..context import BrokerContext, Peer

DISABLED = ErrorCode.SECURITY_DISABLED.code
MESSAGE = "No Authorizer is configured on the broker"


def describe_acls(broker: BrokerContext, header: RequestHeader, request: DescribeAclsRequest,
                  peer: Peer) -> DescribeAclsResponse:
    return DescribeAclsResponse(error_code=DISABLED, error_message=MESSAGE, resources=[])


def create_acls(broker: BrokerContext, header: RequestHeader, request: CreateAclsRequest,
                peer: Peer) -> CreateAclsResponse:
    return CreateAclsResponse(results=[AclCreationResult(DISABLED, MESSAGE) for _ in request.creations])


def delete_acls(broker: BrokerContext, header: RequestHeader, request: DeleteAclsRequest,
                peer: Peer) -> DeleteAclsResponse:
    return DeleteAclsResponse(filter_results=[DeleteAclsFilterResult(DISABLED, MESSAGE, []) for _ in request.filters])
