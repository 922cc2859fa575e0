"""The route table: filled by the handlers' decorators, one route per SDK operation, resolved by path and method."""

from __future__ import annotations

import pytest

from pytest_webpubsub._rest import handlers
from pytest_webpubsub._rest.http import FakeResponse
from pytest_webpubsub._rest.routes import HUB, ROUTES, Route, RouteTable


def answer(ctx: object) -> FakeResponse:
    return FakeResponse(200)


def test_every_route_is_declared_by_its_handler_of_the_same_name() -> None:
    assert len(ROUTES) == 25
    for route in ROUTES:
        assert route.handler is getattr(handlers, route.name), route.name
        assert route.method in ("GET", "HEAD", "POST", "PUT", "DELETE")


def test_the_table_is_a_sequence_in_declaration_order() -> None:
    assert ROUTES[0].name == "get_service_status"
    assert ROUTES[-1].name == "get_client_access_token"
    assert [route.name for route in ROUTES[:2]] == ["get_service_status", "send_to_all"]
    assert list(ROUTES) == [ROUTES[index] for index in range(len(ROUTES))]


def test_the_decorator_registers_and_returns_the_handler_unchanged() -> None:
    table = RouteTable()
    decorated = table.route("one", "post", HUB + "/:one", "2023-07-01")(answer)
    assert decorated is answer
    assert list(table) == [Route("one", "POST", HUB + "/:one", "2023-07-01", answer)]
    resolution = table.resolve("POST", "/api/hubs/h%2Fx/:one")
    assert (resolution.route, resolution.params) == (table[0], {"hub": "h/x"})


def test_a_name_declared_twice_raises() -> None:
    table = RouteTable()
    table.route("one", "POST", HUB + "/:one")(answer)
    with pytest.raises(ValueError, match="'one' is declared twice"):
        table.route("one", "PUT", HUB + "/:other")(answer)
    assert len(table) == 1


def test_a_method_and_path_declared_twice_raise() -> None:
    table = RouteTable()
    table.route("one", "POST", HUB + "/:one")(answer)
    with pytest.raises(ValueError, match="declared by both 'one' and 'two'"):
        table.route("two", "POST", HUB + "/:one")(answer)


def test_an_unknown_api_version_raises() -> None:
    with pytest.raises(ValueError, match="unknown api-version"):
        RouteTable().route("one", "POST", HUB + "/:one", "2020-01-01")(answer)


def test_the_same_path_with_other_methods_resolves_to_the_allowed_methods() -> None:
    resolution = ROUTES.resolve("PATCH", "/api/hubs/h/connections/c")
    assert resolution.route is None
    assert sorted(resolution.allowed_methods) == ["DELETE", "HEAD"]
    assert ROUTES.resolve("GET", "/api/nothing").allowed_methods == ()
