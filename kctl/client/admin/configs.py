"""Configs of topics, brokers, groups and client-metrics subscriptions."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from kctl.protocol.api import ApiKey
from kctl.protocol.enums import AlterConfigOp, ConfigResourceType, ConfigSource

from ..errors import KafkaError, check
from .base import AdminBase


def _source_label(source: int) -> str:
    """A DescribeConfigs config_source as kctl prints it: 'topic', 'static-broker', 'default', ..."""
    try:
        return ConfigSource(source).label
    except ValueError:
        return str(source)


@dataclass(slots=True)
class ConfigEntry:
    name: str
    value: str | None
    source: str
    read_only: bool
    sensitive: bool
    is_default: bool
    synonyms: list[tuple[str, str | None, str]] = field(default_factory=list)  # (name, value, source)


class ConfigAdmin(AdminBase):
    """Configs, described and altered (incrementally where the cluster can)."""

    async def describe_configs(self, resource_type: int, names: Iterable[str], *,
                               include_synonyms: bool = True) -> dict[str, list[ConfigEntry] | KafkaError]:
        """Configs of topics (ConfigResourceType.TOPIC), brokers and broker loggers (BROKER and
        BROKER_LOGGER, by node id: each broker answers for itself alone; BROKER "" is every
        broker's default), groups (GROUP) or client-metrics subscriptions (CLIENT_METRICS)."""
        from kctl.protocol.messages.describe_configs import DescribeConfigsRequest, DescribeConfigsResource
        names = list(names)
        if resource_type in (ConfigResourceType.BROKER, ConfigResourceType.BROKER_LOGGER) and len(names) > 1:
            out: dict[str, list[ConfigEntry] | KafkaError] = {}
            for one in await asyncio.gather(*(self.describe_configs(resource_type, [n],
                                                                    include_synonyms=include_synonyms)
                                              for n in names)):
                out.update(one)
            return out
        request = DescribeConfigsRequest(
            resources=[DescribeConfigsResource(resource_type, name, None) for name in names],
            include_synonyms=include_synonyms,
        )
        response = await self._for_resource(resource_type, request, name=names[0] if names else None)
        out = {}
        for result in response.results:
            if result.error_code:
                out[result.resource_name] = KafkaError.from_code(
                    result.error_code, f"configs of {result.resource_name!r}", result.error_message)
                continue
            out[result.resource_name] = [
                ConfigEntry(c.name, c.value, _source_label(c.config_source),
                            c.read_only, c.is_sensitive, c.config_source == ConfigSource.DEFAULT or c.is_default,
                            [(s.name, s.value, _source_label(s.source)) for s in c.synonyms])
                for c in sorted(result.configs, key=lambda c: c.name)
            ]
        return out

    async def alter_configs(self, resource_type: int, name: str, *, set_configs: Mapping[str, str] | None = None,
                            delete: Iterable[str] = (), validate_only: bool = False) -> None:
        """Set and delete config overrides; IncrementalAlterConfigs when the broker has it.

        Without it, AlterConfigs replaces every override at once, so the current overrides are
        read first and sent back with the change applied.
        """
        from kctl.protocol.messages.alter_configs import AlterableConfig, AlterConfigsRequest, AlterConfigsResource
        from kctl.protocol.messages.incremental_alter_configs import AlterableConfig as IncrementalConfig
        from kctl.protocol.messages.incremental_alter_configs import AlterConfigsResource as IncrementalResource
        from kctl.protocol.messages.incremental_alter_configs import IncrementalAlterConfigsRequest
        set_configs = dict(set_configs or {})
        deleted = list(delete)
        if self.cluster.version(ApiKey.INCREMENTAL_ALTER_CONFIGS) < 0:
            await self.cluster.any_connection()
        if self.cluster.version(ApiKey.INCREMENTAL_ALTER_CONFIGS) >= 0:
            configs = [IncrementalConfig(k, AlterConfigOp.SET, v) for k, v in set_configs.items()]
            configs += [IncrementalConfig(k, AlterConfigOp.DELETE, None) for k in deleted]
            request: Any = IncrementalAlterConfigsRequest(
                [IncrementalResource(resource_type, name, configs)], validate_only)
        else:
            current = (await self.describe_configs(resource_type, [name], include_synonyms=False))[name]
            if isinstance(current, KafkaError):
                raise current
            overrides = {c.name: c.value for c in current if c.source in ("topic", "dynamic-broker") and
                         c.value is not None}
            overrides.update(set_configs)
            for key in deleted:
                overrides.pop(key, None)
            request = AlterConfigsRequest(
                [AlterConfigsResource(resource_type, name, [AlterableConfig(k, v) for k, v in overrides.items()])],
                validate_only)
        response = await self._for_resource(resource_type, request, name=name)
        for r in response.responses:
            check(r.error_code, f"altering configs of {r.resource_name!r}", r.error_message)

    async def list_config_resources(self, resource_type: int) -> list[str]:
        """The names of the resources of a type that have configs (ListConfigResources; before
        Kafka 4.1, ListClientMetricsResources, for client-metrics subscriptions only)."""
        from kctl.protocol.messages.list_config_resources import ListConfigResourcesRequest

        await self.cluster.any_connection()
        version = self.cluster.version(ApiKey.LIST_CONFIG_RESOURCES)
        if version < 0 or (version < 1 and resource_type != ConfigResourceType.CLIENT_METRICS):
            kind = ConfigResourceType(resource_type).name.lower().replace("_", "-")
            lacks = "ListConfigResources v1" if version == 0 else "ListConfigResources"
            raise KafkaError(f"the cluster cannot list {kind} config resources (it lacks {lacks})")
        response = await self.cluster.retry(
            lambda: self.cluster.send_any(ListConfigResourcesRequest([resource_type])), what="ListConfigResources")
        check(response.error_code, "listing config resources")
        return sorted(r.resource_name for r in response.config_resources if r.resource_type == resource_type)

    async def _for_resource(self, resource_type: int, request: Any, name: str | None = None) -> Any:
        async def attempt() -> Any:
            # A broker's own configs and loggers are known to that broker alone.
            if (resource_type in (ConfigResourceType.BROKER, ConfigResourceType.BROKER_LOGGER)
                    and name is not None and name.isdigit()):
                return await self.cluster.send(int(name), request)
            return await self.cluster.send_any(request)

        return await self.cluster.retry(attempt, what=type(request).__name__)
