"""SCRAM users: DescribeUserScramCredentials and AlterUserScramCredentials, over the broker's
credential store (`broker/users.py`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from kctl.protocol.acl import AclOperation, ResourceType
from kctl.protocol.errors import ErrorCode
from kctl.protocol.headers import RequestHeader
from kctl.protocol.messages.alter_user_scram_credentials import (
    AlterUserScramCredentialsRequest,
    AlterUserScramCredentialsResponse,
    AlterUserScramCredentialsResult,
)
from kctl.protocol.messages.describe_user_scram_credentials import (
    CredentialInfo,
    DescribeUserScramCredentialsRequest,
    DescribeUserScramCredentialsResponse,
    DescribeUserScramCredentialsResult,
)

from ..users import Upsert

if TYPE_CHECKING:
    from ..context import BrokerContext, Peer


def describe_user_scram_credentials(
    broker: BrokerContext, header: RequestHeader, request: DescribeUserScramCredentialsRequest, peer: Peer
) -> DescribeUserScramCredentialsResponse:
    if not broker.authorizer.permits(peer, AclOperation.DESCRIBE, ResourceType.CLUSTER):
        return DescribeUserScramCredentialsResponse(error_code=ErrorCode.CLUSTER_AUTHORIZATION_FAILED.code,
                                                    error_message=None, results=[])
    names = None if not request.users else [u.name for u in request.users]
    if names is not None and len(set(names)) < len(names):
        duplicated = sorted({n for n in names if names.count(n) > 1})
        error = ErrorCode.DUPLICATE_RESOURCE
        return DescribeUserScramCredentialsResponse(error_code=0, error_message=None, results=[
            DescribeUserScramCredentialsResult(n, error.code, f"user {n} is named more than once", [])
            for n in duplicated])
    results = []
    for user, error, infos in broker.sasl.scram.describe(names):
        missing = f"attempt to describe a user credential that does not exist: {user}"
        message = None if error is ErrorCode.NONE else missing
        results.append(DescribeUserScramCredentialsResult(user, error.code, message,
                                                          [CredentialInfo(m, i) for m, i in infos]))
    return DescribeUserScramCredentialsResponse(error_code=0, error_message=None, results=results)


def alter_user_scram_credentials(
    broker: BrokerContext, header: RequestHeader, request: AlterUserScramCredentialsRequest, peer: Peer
) -> AlterUserScramCredentialsResponse:
    if not broker.authorizer.permits(peer, AclOperation.ALTER, ResourceType.CLUSTER):
        named = dict.fromkeys([d.name for d in request.deletions] + [u.name for u in request.upsertions])
        return AlterUserScramCredentialsResponse(results=[
            AlterUserScramCredentialsResult(user, ErrorCode.CLUSTER_AUTHORIZATION_FAILED.code, None) for user in named])
    outcomes = broker.sasl.scram.alter(
        [(d.name, d.mechanism) for d in request.deletions],
        [Upsert(u.name, u.mechanism, u.iterations, u.salt, u.salted_password) for u in request.upsertions],
    )
    return AlterUserScramCredentialsResponse(results=[
        AlterUserScramCredentialsResult(o.user, o.error.code, o.message) for o in outcomes])
