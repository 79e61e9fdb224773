"""ACLs, client quotas and SCRAM users."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from ..errors import KafkaError, check
from .base import AdminBase, _error

if TYPE_CHECKING:
    from kctl.protocol.acl import AclBinding, AclFilter


#: SCRAM mechanisms by the numbers the user-credential APIs use.
SCRAM_MECHANISMS = {1: "SCRAM-SHA-256", 2: "SCRAM-SHA-512"}


class SecurityAdmin(AdminBase):
    """ACLs, client quotas and SCRAM users: sent to the controller."""

    async def describe_acls(self, query: AclFilter) -> list[AclBinding]:
        from kctl.protocol.acl import AclBinding, AclOperation, AclPermission, PatternType, ResourceType
        from kctl.protocol.messages.describe_acls import DescribeAclsRequest

        request = DescribeAclsRequest(query.resource_type, query.resource_name, query.pattern_type, query.principal,
                                      query.host, query.operation, query.permission)
        response = await self._to_controller(request)
        check(response.error_code, "describing ACLs", response.error_message)
        return [AclBinding(ResourceType(r.resource_type), r.resource_name, PatternType(r.pattern_type), a.principal,
                           a.host, AclOperation(a.operation), AclPermission(a.permission_type))
                for r in response.resources for a in r.acls]

    async def create_acls(self, bindings: Iterable[AclBinding]) -> list[KafkaError | None]:
        from kctl.protocol.messages.create_acls import AclCreation, CreateAclsRequest

        creations = [AclCreation(b.resource_type, b.resource_name, b.pattern_type, b.principal, b.host, b.operation,
                                 b.permission) for b in bindings]
        response = await self._to_controller(CreateAclsRequest(creations))
        return [_error(r.error_code, "creating an ACL", r.error_message) for r in response.results]

    async def delete_acls(self, filters: Iterable[AclFilter]) -> list[AclBinding]:
        """Delete the ACLs every filter matches; the ACLs deleted."""
        from kctl.protocol.acl import AclBinding, AclOperation, AclPermission, PatternType, ResourceType
        from kctl.protocol.messages.delete_acls import DeleteAclsFilter, DeleteAclsRequest

        request = DeleteAclsRequest([DeleteAclsFilter(f.resource_type, f.resource_name, f.pattern_type, f.principal,
                                                      f.host, f.operation, f.permission) for f in filters])
        response = await self._to_controller(request)
        deleted = []
        for result in response.filter_results:
            check(result.error_code, "deleting ACLs", result.error_message)
            for m in result.matching_acls:
                check(m.error_code, "deleting an ACL", m.error_message)
                deleted.append(AclBinding(ResourceType(m.resource_type), m.resource_name, PatternType(m.pattern_type),
                                          m.principal, m.host, AclOperation(m.operation),
                                          AclPermission(m.permission_type)))
        return deleted

    async def describe_client_quotas(self, components: Iterable[tuple[str, str | None]] = (), *,
                                     strict: bool = False) -> list[tuple[dict[str, str | None], dict[str, float]]]:
        """Quotas of the entities that match: (entity type, name) components, a None name matching
        the default entity; none at all lists every quota. Each: {type: name}, {key: value}."""
        from kctl.protocol.messages.describe_client_quotas import ComponentData, DescribeClientQuotasRequest

        request = DescribeClientQuotasRequest(
            [ComponentData(t, 1 if name is None else 0, name) for t, name in components], strict)
        response = await self._to_controller(request)
        check(response.error_code, "describing client quotas", response.error_message)
        return [({e.entity_type: e.entity_name for e in entry.entity}, {v.key: v.value for v in entry.values})
                for entry in response.entries or []]

    async def alter_client_quotas(self, entity: Mapping[str, str | None], set_values: Mapping[str, float] | None = None,
                                  remove: Iterable[str] = (), *, validate_only: bool = False) -> None:
        """Set and remove quota keys of one entity ({type: name}, None naming the default)."""
        from kctl.protocol.messages.alter_client_quotas import (
            AlterClientQuotasEntry,
            AlterClientQuotasRequest,
            AlterQuotaEntity,
            QuotaOp,
        )

        ops = [QuotaOp(k, float(v), False) for k, v in (set_values or {}).items()] + [
            QuotaOp(k, 0.0, True) for k in remove]
        entry = AlterClientQuotasEntry([AlterQuotaEntity(t, n) for t, n in entity.items()], ops)
        response = await self._to_controller(AlterClientQuotasRequest([entry], validate_only))
        for result in response.entries:
            check(result.error_code, "changing client quotas", result.error_message)

    async def describe_user_scram_credentials(self, users: Iterable[str] | None = None
                                              ) -> dict[str, dict[str, int] | KafkaError]:
        """Per user: mechanism name -> iterations, or the error for a named user that has none.
        None lists every user with a SCRAM credential."""
        from kctl.protocol.messages.describe_user_scram_credentials import (
            DescribeUserScramCredentialsRequest,
            UserName,
        )

        names = None if users is None else [UserName(u) for u in users]
        response = await self._to_controller(DescribeUserScramCredentialsRequest(names))
        check(response.error_code, "describing SCRAM users", response.error_message)
        out: dict[str, dict[str, int] | KafkaError] = {}
        for result in response.results:
            error = _error(result.error_code, f"user {result.user!r}", result.error_message)
            out[result.user] = error if error is not None else {
                SCRAM_MECHANISMS.get(c.mechanism, str(c.mechanism)): c.iterations for c in result.credential_infos}
        return out

    async def alter_user_scram_credentials(
        self,
        upsert: Iterable[tuple[str, str, str, int]] = (),
        delete: Iterable[tuple[str, str]] = (),
    ) -> dict[str, KafkaError | None]:
        """Set (user, mechanism, password, iterations) and delete (user, mechanism) credentials.
        The password is salted and hashed here (SCRAM's SaltedPassword): it never leaves this process.
        Kafka refuses a request that names a user twice (even for two mechanisms), so each change
        goes in a request of its own; a user's result is its first error, or None."""
        import secrets

        from kctl.protocol.messages.alter_user_scram_credentials import (
            AlterUserScramCredentialsRequest,
            ScramCredentialDeletion,
            ScramCredentialUpsertion,
        )
        from kctl.protocol.sasl import salted_password

        numbers = {name: number for number, name in SCRAM_MECHANISMS.items()}
        requests = []
        for user, mechanism, password, iterations in upsert:
            salt = secrets.token_bytes(32)
            upsertion = ScramCredentialUpsertion(user, numbers[mechanism], iterations, salt,
                                                 salted_password(mechanism, password, salt, iterations))
            requests.append(AlterUserScramCredentialsRequest([], [upsertion]))
        requests += [AlterUserScramCredentialsRequest([ScramCredentialDeletion(user, numbers[mechanism])], [])
                     for user, mechanism in delete]
        out: dict[str, KafkaError | None] = {}
        for request in requests:
            response = await self._to_controller(request)
            for r in response.results:
                if out.get(r.user) is None:
                    out[r.user] = _error(r.error_code, f"user {r.user!r}", r.error_message)
        return out
