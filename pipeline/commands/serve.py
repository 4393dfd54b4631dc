"""``newsletter serve``: the archive, the feeds and the subscription pages over HTTP."""

from __future__ import annotations

import argparse
import os
import time
from typing import Any

from ..config import load_config
from ..console import Console, newsletter_root, now
from ..errors import display_path
from ..send import SendOptions, transports_for
from ..serving import KEEP_ALIVE_TIMEOUT, REQUEST_TIMEOUT, bind, run_server, url
from ..store import open_store
from ..tokens import Tokens, secret_from_env
from .options import port

DESCRIPTION = ("Serve the built archive (output_dir) and the feeds, with the pages where "
               "readers subscribe (double opt-in: a confirmation email goes through the "
               "delivery transport, the outbox by default), confirm and unsubscribe "
               "(one click, RFC 8058). Needs the token signing key in the environment "
               "variable named by delivery.token_secret_env. Access logs are off unless "
               "-v is given: the app records no visitor's address. A client has "
               f"{REQUEST_TIMEOUT:g} s to send a whole request (headers and body), and "
               f"an idle keep-alive connection is closed after {KEEP_ALIVE_TIMEOUT} s.")


def arguments(parser: argparse.ArgumentParser) -> None:
    host_port(parser)


def host_port(parser: argparse.ArgumentParser) -> None:
    """``--host`` and ``--port`` (``serve`` and ``preview``)."""
    parser.add_argument("--host", default="127.0.0.1",
                        help="the address to listen on (default: 127.0.0.1, this machine only)")
    parser.add_argument("--port", type=port, default=8000,
                        help="the port to listen on (default: 8000)")


def run(args: argparse.Namespace, console: Console) -> int:
    from ..web import WebParts, create_app

    root = newsletter_root(args)
    config = load_config(root)
    env = dict(os.environ)
    tokens = Tokens(secret_from_env(config.delivery.token_secret_env, env))
    if not (config.output_dir / "index.html").is_file():
        console.message("warning", f"{display_path(config.output_dir)} has no built archive "
                        "yet: it is written when the first issue is published ('newsletter "
                        "publish ISSUE' at its moment; 'newsletter preview' shows one before); "
                        "the subscription pages work anyway")

    def transport() -> Any:
        found, _ = transports_for(config, SendOptions(issue=""), env, count=1, clean=False)
        return found[0]

    _, label = transports_for(config, SendOptions(issue=""), env, count=1)
    store = open_store(config.delivery.database, config.delivery.database_password_env, env)
    sock = bind(args.host, args.port)
    parts = WebParts(store=store, tokens=tokens, transport=transport, now=now,
                     monotonic=time.monotonic)
    app = create_app(config, parts)
    console.result(f"serving {display_path(config.output_dir)} and the subscription pages on "
                   f"{url(sock)}/ (confirmation emails via {label}); Ctrl-C stops")
    try:
        run_server(app, sock, args.verbosity > 0)
    finally:
        store.close()
    console.message("note", "stopped")
    return 0
