"""DescribeConfigs, AlterConfigs and IncrementalAlterConfigs for topics, the broker, client-metrics
subscriptions and groups; ListConfigResources."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from kctl.protocol.acl import AclOperation, ResourceType
from kctl.protocol.enums import AlterConfigOp, ConfigResourceType, ConfigSource, ConfigType
from kctl.protocol.errors import ErrorCode
from kctl.protocol.headers import RequestHeader
from kctl.protocol.messages.alter_configs import (
    AlterConfigsRequest,
    AlterConfigsResourceResponse,
    AlterConfigsResponse,
)
from kctl.protocol.messages.describe_configs import (
    DescribeConfigsRequest,
    DescribeConfigsResourceResult,
    DescribeConfigsResponse,
    DescribeConfigsResult,
    DescribeConfigsSynonym,
)
from kctl.protocol.messages.incremental_alter_configs import (
    IncrementalAlterConfigsRequest,
    IncrementalAlterConfigsResponse,
)
from kctl.protocol.messages.list_config_resources import (
    ConfigResource,
    ListConfigResourcesRequest,
    ListConfigResourcesResponse,
)

from ..config import (
    BROKER_SETTINGS,
    TOPIC_SETTINGS,
    ConfigError,
    parse_topic_configs,
)
from ..entity_configs import SETTINGS as ENTITY_SETTINGS

if TYPE_CHECKING:
    from ..context import BrokerContext, Peer


def describe_topic_configs(
    broker: BrokerContext, overrides: Mapping[str, Any], keys: list[str] | None, *,
    include_synonyms: bool, include_documentation: bool = False,
) -> list[DescribeConfigsResourceResult]:
    out: list[DescribeConfigsResourceResult] = []
    for name in sorted(TOPIC_SETTINGS):
        if keys is not None and name not in keys:
            continue
        setting, synonym = TOPIC_SETTINGS[name]
        if setting.internal:
            continue
        broker_value, broker_source = broker.config.topic_default(name)
        synonyms: list[DescribeConfigsSynonym] = []
        if name in overrides:
            value, source = overrides[name], ConfigSource.TOPIC
            synonyms.append(DescribeConfigsSynonym(name, setting.render(value), ConfigSource.TOPIC))
        else:
            value, source = broker_value, broker_source
        if synonym is not None and broker_source == ConfigSource.STATIC_BROKER:
            synonyms.append(DescribeConfigsSynonym(synonym, setting.render(broker_value), ConfigSource.STATIC_BROKER))
        if synonym is not None:
            synonyms.append(DescribeConfigsSynonym(synonym, setting.render(setting.default), ConfigSource.DEFAULT))
        out.append(DescribeConfigsResourceResult(
            name=name, value=setting.render(value), read_only=setting.read_only,
            is_default=source == ConfigSource.DEFAULT, config_source=source, is_sensitive=False,
            synonyms=synonyms if include_synonyms else [], config_type=setting.config_type,
            documentation=setting.doc if include_documentation else None,
        ))
    return out


def _describe_broker_configs(
    broker: BrokerContext, keys: list[str] | None, *, include_synonyms: bool, include_documentation: bool
) -> list[DescribeConfigsResourceResult]:
    out: list[DescribeConfigsResourceResult] = []
    for name in sorted(BROKER_SETTINGS):
        if keys is not None and name not in keys:
            continue
        setting = BROKER_SETTINGS[name]
        explicit = name in broker.config.explicit
        source = ConfigSource.STATIC_BROKER if explicit else ConfigSource.DEFAULT
        # A secret's value is never sent, as Kafka does for sensitive settings.
        value = None if setting.sensitive else setting.render(broker.config[name])
        synonyms = [DescribeConfigsSynonym(name, value, source)]
        if explicit and not setting.sensitive:
            synonyms.append(DescribeConfigsSynonym(name, setting.render(setting.default), ConfigSource.DEFAULT))
        out.append(DescribeConfigsResourceResult(
            name=name, value=value, read_only=True, is_default=not explicit, config_source=source,
            is_sensitive=setting.sensitive, synonyms=synonyms if include_synonyms else [],
            config_type=setting.config_type, documentation=setting.doc if include_documentation else None,
        ))
    return out


def describe_configs(
    broker: BrokerContext, header: RequestHeader, request: DescribeConfigsRequest, peer: Peer
) -> DescribeConfigsResponse:
    results: list[DescribeConfigsResult] = []
    for resource in request.resources:
        result = DescribeConfigsResult(resource_type=resource.resource_type, resource_name=resource.resource_name)
        results.append(result)
        keys = resource.configuration_keys
        denied = _denied(broker, peer, AclOperation.DESCRIBE_CONFIGS, resource.resource_type, resource.resource_name)
        if denied:
            result.error_code, result.error_message = denied, "Authorization failed."
            continue
        if resource.resource_type == ConfigResourceType.TOPIC:
            topic = broker.logs.topics.get(resource.resource_name)
            if topic is None:
                result.error_code = ErrorCode.UNKNOWN_TOPIC_OR_PARTITION.code
                result.error_message = f"topic {resource.resource_name!r} does not exist"
                continue
            result.configs = describe_topic_configs(
                broker, topic.overrides, keys, include_synonyms=request.include_synonyms,
                include_documentation=request.include_documentation,
            )
        elif resource.resource_type == ConfigResourceType.BROKER:
            if resource.resource_name not in ("", str(broker.node_id)):
                result.error_code = ErrorCode.INVALID_REQUEST.code
                result.error_message = f"this is broker {broker.node_id}, not {resource.resource_name!r}"
                continue
            result.configs = _describe_broker_configs(
                broker, keys, include_synonyms=request.include_synonyms,
                include_documentation=request.include_documentation,
            )
        elif resource.resource_type in ENTITY_SETTINGS:
            if not resource.resource_name:
                result.error_code = ErrorCode.INVALID_REQUEST.code
                result.error_message = "the resource name is empty"
                continue
            result.configs = _describe_entity_configs(broker, resource.resource_type, resource.resource_name, keys,
                                                      include_documentation=request.include_documentation)
        else:
            result.error_code = ErrorCode.INVALID_REQUEST.code
            result.error_message = f"resource type {resource.resource_type} has no configs here"
    return DescribeConfigsResponse(results=results)


_ENTITY_SOURCE: dict[int, ConfigSource] = {ConfigResourceType.CLIENT_METRICS: ConfigSource.CLIENT_METRICS,
                  ConfigResourceType.GROUP: ConfigSource.GROUP}


def _describe_entity_configs(broker: BrokerContext, resource_type: int, name: str, keys: list[str] | None, *,
                             include_documentation: bool) -> list[DescribeConfigsResourceResult]:
    own = broker.entity_configs.overrides(resource_type, name)
    out: list[DescribeConfigsResourceResult] = []
    for key, setting in sorted(ENTITY_SETTINGS[resource_type].items()):
        if keys is not None and key not in keys:
            continue
        mine = key in own
        out.append(DescribeConfigsResourceResult(
            name=key, value=setting.render(own[key] if mine else setting.default), read_only=False,
            is_default=not mine, config_source=_ENTITY_SOURCE[resource_type] if mine else ConfigSource.DEFAULT,
            is_sensitive=False, config_type=setting.config_type,
            documentation=setting.doc if include_documentation else None,
        ))
    return out


def _denied(broker: BrokerContext, peer: Peer, operation: AclOperation, resource_type: int, name: str) -> int:
    """The authorization error for a topic's or the broker's configs, or 0 when allowed."""
    if resource_type == ConfigResourceType.TOPIC:
        allowed = broker.authorizer.permits(peer, operation, ResourceType.TOPIC, name)
        return 0 if allowed else ErrorCode.TOPIC_AUTHORIZATION_FAILED.code
    if resource_type in (ConfigResourceType.BROKER, ConfigResourceType.BROKER_LOGGER,
                         ConfigResourceType.CLIENT_METRICS):
        allowed = broker.authorizer.permits(peer, operation, ResourceType.CLUSTER)
        return 0 if allowed else ErrorCode.CLUSTER_AUTHORIZATION_FAILED.code
    if resource_type == ConfigResourceType.GROUP:
        allowed = broker.authorizer.permits(peer, operation, ResourceType.GROUP, name)
        return 0 if allowed else ErrorCode.GROUP_AUTHORIZATION_FAILED.code
    return 0


def _alter(broker: BrokerContext, peer: Peer, resource_type: int, name: str, build: Any,
           validate_only: bool) -> tuple[int, str | None]:
    """Shared checks for both alter APIs; `build(current_overrides)` returns the new overrides."""
    denied = _denied(broker, peer, AclOperation.ALTER_CONFIGS, resource_type, name)
    if denied:
        return denied, "Authorization failed."
    if resource_type == ConfigResourceType.BROKER:
        return (ErrorCode.INVALID_REQUEST.code,
                "broker settings are static: change them in the config file and restart the broker")
    if resource_type in ENTITY_SETTINGS:
        return _alter_entity(broker, resource_type, name, build, validate_only)
    if resource_type != ConfigResourceType.TOPIC:
        return ErrorCode.INVALID_REQUEST.code, f"resource type {resource_type} has no configs here"
    topic = broker.logs.topics.get(name)
    if topic is None:
        return ErrorCode.UNKNOWN_TOPIC_OR_PARTITION.code, f"topic {name!r} does not exist"
    try:
        overrides = build(dict(topic.overrides))
    except ConfigError as exc:
        return ErrorCode.INVALID_CONFIG.code, str(exc)
    if not validate_only:
        try:
            broker.logs.set_topic_overrides(name, overrides)
        except OSError as exc:
            return ErrorCode.KAFKA_STORAGE_ERROR.code, f"the configs could not be saved: {exc.strerror}"
    return ErrorCode.NONE.code, None


def _alter_entity(broker: BrokerContext, resource_type: int, name: str, build: Any,
                  validate_only: bool) -> tuple[int, str | None]:
    if not name:
        return ErrorCode.INVALID_REQUEST.code, "the resource name is empty"
    store = broker.entity_configs
    try:
        values = build(store.overrides(resource_type, name), lambda raw: store.parse(resource_type, raw),
                       ENTITY_SETTINGS[resource_type])
        if resource_type == ConfigResourceType.GROUP:
            session = values.get("consumer.session.timeout.ms", store.value(resource_type, name,
                                                                            "consumer.session.timeout.ms"))
            heartbeat = values.get("consumer.heartbeat.interval.ms", store.value(resource_type, name,
                                                                                 "consumer.heartbeat.interval.ms"))
            if heartbeat >= session:
                raise ConfigError(f"consumer.heartbeat.interval.ms ({heartbeat}) must be less than "
                                  f"consumer.session.timeout.ms ({session})")
    except ConfigError as exc:
        return ErrorCode.INVALID_CONFIG.code, str(exc)
    if not validate_only:
        try:
            store.replace(resource_type, name, values)
        except OSError as exc:
            return ErrorCode.KAFKA_STORAGE_ERROR.code, f"the configs could not be saved: {exc.strerror}"
    return ErrorCode.NONE.code, None


def alter_configs(
    broker: BrokerContext, header: RequestHeader, request: AlterConfigsRequest, peer: Peer
) -> AlterConfigsResponse:
    responses: list[AlterConfigsResourceResponse] = []
    for resource in request.resources:
        raw = {c.name: c.value for c in resource.configs}

        def build(_current: dict[str, Any], parse: Any = parse_topic_configs, _settings: Any = None,
                  raw: dict[str, str | None] = raw) -> dict[str, Any]:
            # AlterConfigs replaces the whole set of overrides, as in Kafka.
            return dict(parse({k: v for k, v in raw.items() if v is not None}))

        code, message = _alter(broker, peer, resource.resource_type, resource.resource_name, build,
                               request.validate_only)
        responses.append(AlterConfigsResourceResponse(code, message, resource.resource_type, resource.resource_name))
    return AlterConfigsResponse(responses=responses)


def incremental_alter_configs(
    broker: BrokerContext, header: RequestHeader, request: IncrementalAlterConfigsRequest, peer: Peer
) -> IncrementalAlterConfigsResponse:
    from kctl.protocol.messages.incremental_alter_configs import AlterConfigsResourceResponse as Response

    responses: list[Response] = []
    for resource in request.resources:
        def build(current: dict[str, Any], parse: Any = parse_topic_configs, settings: Any = None,
                  configs: Any = resource.configs) -> dict[str, Any]:
            names = [c.name for c in configs]
            if len(names) != len(set(names)):
                raise ConfigError("a config may be named only once per resource")
            for change in configs:
                if settings is not None:
                    if change.name not in settings:
                        parse({change.name: change.value})  # says which configs there are
                    setting = settings[change.name]
                else:
                    entry = TOPIC_SETTINGS.get(change.name)
                    if entry is None:
                        raise ConfigError(f"unknown topic config {change.name!r}")
                    setting, _ = entry
                op = change.config_operation
                if op == AlterConfigOp.SET:
                    current.update(parse({change.name: change.value}))
                elif op == AlterConfigOp.DELETE:
                    current.pop(change.name, None)
                elif op in (AlterConfigOp.APPEND, AlterConfigOp.SUBTRACT):
                    if setting.list_choices is None and setting.config_type != ConfigType.LIST:
                        raise ConfigError(f"{change.name} is not a list; APPEND and SUBTRACT do not apply")
                    base = current.get(change.name, setting.default if settings is not None
                                       else broker.config.topic_default(change.name)[0])
                    items = [v for v in str(base).split(",") if v]
                    values = [v.strip() for v in (change.value or "").split(",") if v.strip()]
                    if op == AlterConfigOp.APPEND:
                        items += [v for v in values if v not in items]
                    else:
                        items = [v for v in items if v not in values]
                    current.update(parse({change.name: ",".join(items)}))
                else:
                    raise ConfigError(f"unknown config operation {op}")
            return current

        code, message = _alter(broker, peer, resource.resource_type, resource.resource_name, build,
                               request.validate_only)
        responses.append(Response(code, message, resource.resource_type, resource.resource_name))
    return IncrementalAlterConfigsResponse(responses=responses)


def list_config_resources(
    broker: BrokerContext, header: RequestHeader, request: ListConfigResourcesRequest, peer: Peer
) -> ListConfigResourcesResponse:
    """The resources that have configs: v0 lists client-metrics subscriptions; v1 any types asked
    for (none named: every type), groups being those with configs of their own."""
    if not broker.authorizer.permits(peer, AclOperation.DESCRIBE_CONFIGS, ResourceType.CLUSTER):
        return ListConfigResourcesResponse(error_code=ErrorCode.CLUSTER_AUTHORIZATION_FAILED.code)
    every = (ConfigResourceType.TOPIC, ConfigResourceType.BROKER, ConfigResourceType.BROKER_LOGGER,
             ConfigResourceType.CLIENT_METRICS, ConfigResourceType.GROUP)
    wanted = ([ConfigResourceType.CLIENT_METRICS] if header.api_version == 0
              else list(request.resource_types) or list(every))
    unknown = [t for t in wanted if t not in every]
    if unknown:
        return ListConfigResourcesResponse(error_code=ErrorCode.UNSUPPORTED_VERSION.code)
    found: list[ConfigResource] = []
    for kind in wanted:
        if kind == ConfigResourceType.TOPIC:
            names = sorted(name for name, topic in broker.logs.topics.items() if not topic.internal)
        elif kind in (ConfigResourceType.BROKER, ConfigResourceType.BROKER_LOGGER):
            names = [str(broker.node_id)]
        else:
            names = broker.entity_configs.names(kind)
        found += [ConfigResource(name, kind) for name in names]
    return ListConfigResourcesResponse(config_resources=found)
