"""DescribeAcls, CreateAcls and DeleteAcls over the broker's authorizer (`broker/authorizer.py`).

Without an authorizer they answer SECURITY_DISABLED, as Apache Kafka does. With one, describing
needs DESCRIBE on the cluster and changing needs ALTER on it (CLUSTER_AUTHORIZATION_FAILED
otherwise)."""

from __future__ import annotations

from enum import IntEnum
from itertools import groupby
from typing import TYPE_CHECKING, TypeVar

from kctl.protocol.acl import (
    CLUSTER_NAME,
    AclBinding,
    AclFilter,
    AclOperation,
    AclPermission,
    PatternType,
    ResourceType,
)
from kctl.protocol.errors import ErrorCode
from kctl.protocol.headers import RequestHeader
from kctl.protocol.messages.create_acls import AclCreationResult, CreateAclsRequest, CreateAclsResponse
from kctl.protocol.messages.delete_acls import (
    DeleteAclsFilterResult,
    DeleteAclsMatchingAcl,
    DeleteAclsRequest,
    DeleteAclsResponse,
)
from kctl.protocol.messages.describe_acls import (
    AclDescription,
    DescribeAclsRequest,
    DescribeAclsResource,
    DescribeAclsResponse,
)

from ..authorizer import AclError

if TYPE_CHECKING:
    from ..context import BrokerContext, Peer

DISABLED_MESSAGE = "No Authorizer is configured on the broker"


def _may(broker: BrokerContext, peer: Peer, operation: AclOperation) -> bool:
    return broker.authorizer.allowed(peer.principal, peer.host, operation, ResourceType.CLUSTER, CLUSTER_NAME)


E = TypeVar("E", bound=IntEnum)


def _enum(kind: type[E], value: int) -> E:
    try:
        return kind(value)
    except ValueError:
        return kind(0)  # UNKNOWN, which the checks refuse


def describe_acls(broker: BrokerContext, header: RequestHeader, request: DescribeAclsRequest,
                  peer: Peer) -> DescribeAclsResponse:
    if not broker.authorizer.enabled:
        return DescribeAclsResponse(error_code=ErrorCode.SECURITY_DISABLED.code, error_message=DISABLED_MESSAGE,
                                    resources=[])
    if not _may(broker, peer, AclOperation.DESCRIBE):
        return DescribeAclsResponse(error_code=ErrorCode.CLUSTER_AUTHORIZATION_FAILED.code, error_message=None,
                                    resources=[])
    wanted = AclFilter(_enum(ResourceType, request.resource_type_filter), request.resource_name_filter,
                       _enum(PatternType, request.pattern_type_filter), request.principal_filter, request.host_filter,
                       _enum(AclOperation, request.operation), _enum(AclPermission, request.permission_type))
    try:
        found = broker.authorizer.describe(wanted)
    except AclError as exc:
        return DescribeAclsResponse(error_code=exc.error.code, error_message=exc.message, resources=[])

    def resource(acl: AclBinding) -> tuple[int, str, int]:
        return acl.resource_type, acl.resource_name, acl.pattern_type

    resources = [
        DescribeAclsResource(kind, name, pattern, [AclDescription(a.principal, a.host, a.operation, a.permission)
                                                   for a in acls])
        for (kind, name, pattern), acls in groupby(sorted(found, key=resource), key=resource)
    ]
    return DescribeAclsResponse(error_code=0, error_message=None, resources=resources)


def create_acls(broker: BrokerContext, header: RequestHeader, request: CreateAclsRequest,
                peer: Peer) -> CreateAclsResponse:
    if not broker.authorizer.enabled:
        return CreateAclsResponse(results=[AclCreationResult(ErrorCode.SECURITY_DISABLED.code,
                                                             DISABLED_MESSAGE) for _ in request.creations])
    if not _may(broker, peer, AclOperation.ALTER):
        return CreateAclsResponse(results=[AclCreationResult(ErrorCode.CLUSTER_AUTHORIZATION_FAILED.code,
                                                             None) for _ in request.creations])
    acls = [AclBinding(_enum(ResourceType, c.resource_type), c.resource_name,
                       _enum(PatternType, c.resource_pattern_type), c.principal, c.host,
                       _enum(AclOperation, c.operation), _enum(AclPermission, c.permission_type))
            for c in request.creations]
    return CreateAclsResponse(results=[
        AclCreationResult(0, None) if error is None else AclCreationResult(error.error.code, error.message)
        for error in broker.authorizer.create(acls)])


def delete_acls(broker: BrokerContext, header: RequestHeader, request: DeleteAclsRequest,
                peer: Peer) -> DeleteAclsResponse:
    if not broker.authorizer.enabled:
        return DeleteAclsResponse(filter_results=[DeleteAclsFilterResult(ErrorCode.SECURITY_DISABLED.code,
                                                                         DISABLED_MESSAGE, [])
                                                  for _ in request.filters])
    if not _may(broker, peer, AclOperation.ALTER):
        return DeleteAclsResponse(filter_results=[DeleteAclsFilterResult(ErrorCode.CLUSTER_AUTHORIZATION_FAILED.code,
                                                                         None, [])
                                                  for _ in request.filters])
    filters = [AclFilter(_enum(ResourceType, f.resource_type_filter), f.resource_name_filter,
                         _enum(PatternType, f.pattern_type_filter), f.principal_filter, f.host_filter,
                         _enum(AclOperation, f.operation), _enum(AclPermission, f.permission_type))
               for f in request.filters]
    results = []
    for outcome in broker.authorizer.delete(filters):
        if isinstance(outcome, AclError):
            results.append(DeleteAclsFilterResult(outcome.error.code, outcome.message, []))
        else:
            results.append(DeleteAclsFilterResult(0, None, [
                DeleteAclsMatchingAcl(0, None, a.resource_type, a.resource_name, a.pattern_type, a.principal, a.host,
                                      a.operation, a.permission) for a in outcome]))
    return DeleteAclsResponse(filter_results=results)
