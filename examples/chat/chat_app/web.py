"""The chat's web server (Flask), the two routes every Web PubSub app has next to its service calls.

* ``GET /negotiate?id=<user>``: the client access URL a browser connects with (minted by the service SDK).
* ``/eventhandler``: the webhook the service calls with CloudEvents. ``OPTIONS`` answers the abuse-protection
  handshake; ``POST`` handles ``connect`` (banned users are refused with 401, everyone else is put in the
  ``lobby`` room and may post there), ``connected`` / ``disconnected`` (who is online), and the user event
  ``message`` (broadcast to everyone with ``send_to_all``). Every event's signature is checked against the
  access key, as the official samples do.
* ``GET /online``: the users whose connection is open, as the ``connected`` / ``disconnected`` events said.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
from collections import Counter
from collections.abc import Iterable
from typing import Any

from flask import Flask, jsonify, request

from .service import ChatService, settings

LOBBY = "lobby"


def access_key(connection_string: str) -> str:
    """The ``AccessKey`` of a connection string."""
    parts = dict(part.split("=", 1) for part in connection_string.split(";") if "=" in part)
    return parts["AccessKey"]


def signed(signature: str | None, connection_id: str, key: str) -> bool:
    """Whether one of the ``sha256=`` values of ``ce-signature`` is the HMAC of the connection id with ``key``."""
    expected = "sha256=" + hmac.new(key.encode(), connection_id.encode(), hashlib.sha256).hexdigest()
    return any(hmac.compare_digest(value.strip(), expected) for value in (signature or "").split(","))


def create_app(banned: Iterable[str] = ()) -> Flask:
    """The web server of the chat; ``banned`` users cannot connect."""
    app = Flask(__name__)
    service = ChatService()
    key = access_key(settings()[0])
    refused = set(banned)
    online: Counter[str] = Counter()
    lock = threading.Lock()  # the service calls the handler from any thread

    @app.get("/negotiate")
    def negotiate() -> Any:
        user_id = request.args.get("id")
        if not user_id:
            return "missing the user id", 400
        return {"url": service.client.get_client_access_token(user_id=user_id)["url"]}

    @app.get("/online")
    def who_is_online() -> Any:
        with lock:
            return jsonify(sorted(user for user, count in online.items() if count > 0))

    @app.route("/eventhandler", methods=["OPTIONS", "POST"])
    def eventhandler() -> Any:
        if request.method == "OPTIONS":
            return "", 200, {"WebHook-Allowed-Origin": request.headers["WebHook-Request-Origin"]}
        if not signed(request.headers.get("ce-signature"), request.headers.get("ce-connectionId", ""), key):
            return "", 401
        event = request.headers["ce-type"]
        user_id = request.headers.get("ce-userId")
        if event == "azure.webpubsub.sys.connect":
            subject = (request.get_json().get("claims", {}).get("sub") or [None])[0]
            if subject is None or subject in refused:
                return "", 401
            return {"groups": [LOBBY], "roles": [f"webpubsub.sendToGroup.{LOBBY}"]}
        if event == "azure.webpubsub.sys.connected" and user_id:
            with lock:
                online[user_id] += 1
        elif event == "azure.webpubsub.sys.disconnected" and user_id:
            with lock:
                online[user_id] -= 1
        elif event == "azure.webpubsub.user.message":
            service.client.send_to_all({"from": user_id, "text": request.get_data(as_text=True)})
        return "", 204

    return app
