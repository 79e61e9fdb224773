"""`python -m broker`: run the built-in broker in the foreground."""

from __future__ import annotations

import argparse
import asyncio
import errno
import logging
import sys

from .app import build_broker, install_uvloop, run_broker
from .config import ConfigError
from .memory import keep_large_buffers_in_heap


def configure_logging(level: str = "INFO") -> None:
    logging.basicConfig(
        level=getattr(logging, level.upper(), logging.INFO),
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
        datefmt="%Y-%m-%d %H:%M:%S",
        stream=sys.stderr,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m broker", description="Run kctl's built-in Kafka broker.")
    parser.add_argument("--data-dir", help="where logs live (default: $XDG_DATA_HOME/kctl/broker)")
    parser.add_argument("--listen", help="HOST:PORT to listen on (default 127.0.0.1:9092)")
    parser.add_argument("--advertised", help="HOST:PORT clients are told to use (default: the listen address)")
    parser.add_argument("--config", help="TOML file of Kafka settings (num.partitions, log.retention.ms, ...)")
    parser.add_argument("--log-level", default="INFO", help="DEBUG, INFO, WARNING or ERROR")
    parser.add_argument("--metrics", metavar="HOST:PORT", help="serve Prometheus metrics on /metrics (default: off)")
    parser.add_argument(
        "--schema-registry",
        metavar="HOST:PORT|off",
        help="serve a Schema Registry (Confluent's REST API) there (default 127.0.0.1:8081; skipped if that port is"
        " busy), or off",
    )
    args = parser.parse_args(argv)
    return start(args.data_dir, args.listen, args.advertised, args.config, args.log_level, args.metrics,
                 args.schema_registry)


def start(data_dir: str | None, listen: str | None, advertised: str | None, config_file: str | None,
          log_level: str = "INFO", metrics: str | None = None, schema_registry: str | None = None) -> int:
    configure_logging(log_level)
    log = logging.getLogger("broker")
    try:
        broker = build_broker(data_dir=data_dir, listen=listen, advertised=advertised, config_file=config_file,
                              metrics=metrics, schema_registry=schema_registry)
    except ConfigError as exc:
        log.error("%s", exc)
        return 2
    keep_large_buffers_in_heap()
    loop_name = install_uvloop()
    log.info("starting kctl broker (%s event loop)", loop_name)
    try:
        asyncio.run(run_broker(broker))
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            from .ports import address_in_use_message

            log.error("%s", address_in_use_message(broker.listen_host, broker.listen_port))
        else:
            log.error("cannot start: %s", exc)
        return 1
    except RuntimeError as exc:
        log.error("%s", exc)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
