"""``backupbot where``: which config, state folder and storage this shell would use.

Why a command of its own: the state folder is per user unless configured, so "where did my
job history go" has an answer that depends on the environment; this prints it without
touching anything (nothing is created, no storage is contacted).
"""

from __future__ import annotations

import argparse
import os

from cli.dump import add_json_flag
from cli.output import emit_json, in_english, print_fields
from core.config import load_config, state_dir_origin
from core.i18n import _


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("where", help=_("show the config file, state folder and storage in use"))
    add_json_flag(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    cfg = load_config(args.config)
    info = {
        "config": cfg.path,
        "state_dir": cfg.state_dir,
        "state_dir_from": in_english(lambda: state_dir_origin(cfg)),
        "state_dir_exists": os.path.isdir(cfg.state_dir),
        "storage": cfg.storage.url
        if cfg.storage.url.startswith("file://")
        else cfg.storage.url.split("?")[0],
        "databases": sorted(cfg.databases),
    }
    if args.json:
        emit_json(info)
        return 0
    print_fields(
        [
            (_("config:"), str(info["config"])),
            (_("state:"), f"{info['state_dir']} ({state_dir_origin(cfg)})"),
            (_("storage:"), str(info["storage"])),
            (_("databases:"), ", ".join(sorted(cfg.databases)) or _("none configured")),
        ],
        gap=1,
    )
    return 0
