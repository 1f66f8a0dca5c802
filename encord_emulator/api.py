"""The Encord API routes: authentication, routing and error envelopes for both API generations.

Transport-free: `handle` takes the parsed request and returns bytes, so the HTTP layer stays small.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit
from uuid import UUID

import orjson

from encord_emulator import catalog
from encord_emulator.auth import Authenticator
from encord_emulator.errors import ApiError, InvalidArguments
from encord_emulator.state import EmulatorState


@dataclass(frozen=True, slots=True)
class ApiRequest:
    method: str
    target: str  # path and query exactly as received (what the v2 signature covers)
    headers: Mapping[str, str]
    body: bytes
    base_url: str

    @property
    def path(self) -> str:
        return urlsplit(self.target).path

    @property
    def query(self) -> dict[str, list[str]]:
        return parse_qs(urlsplit(self.target).query, keep_blank_values=True)


@dataclass(frozen=True, slots=True)
class ApiResponse:
    status: int
    body: bytes
    route: str
    headers: dict[str, str] = field(default_factory=dict)


def _json(status: int, payload: Any, route: str) -> ApiResponse:
    return ApiResponse(status, orjson.dumps(payload), route)


def _not_implemented(route: str) -> ApiResponse:
    return _json(501, {"message": f"the Encord emulator does not implement {route}"}, route)


def _flag(query: Mapping[str, list[str]], name: str) -> bool:
    return (query.get(name) or ["false"])[0].lower() == "true"


def _body(request: ApiRequest) -> Any:
    if not request.body:
        return None
    try:
        return orjson.loads(request.body)
    except orjson.JSONDecodeError as exc:
        raise InvalidArguments(f"malformed JSON body: {exc}") from None


V2Handler = Callable[[EmulatorState, ApiRequest, dict[str, str]], Any]


def _project(state: EmulatorState, request: ApiRequest, args: dict[str, str]) -> Any:
    return state.project_dto(args["project"])


def _ontology(state: EmulatorState, request: ApiRequest, args: dict[str, str]) -> Any:
    return state.ontology_dto(args["ontology"])


def _tasks(state: EmulatorState, request: ApiRequest, args: dict[str, str]) -> Any:
    return state.list_tasks(args["project"], args["stage"], request.query)


def _actions(state: EmulatorState, request: ApiRequest, args: dict[str, str]) -> Any:
    state.apply_actions(args["project"], args["stage"], _body(request))
    return None


def _move(state: EmulatorState, request: ApiRequest, args: dict[str, str]) -> Any:
    state.move_tasks(args["project"], args["stage"], _body(request))
    return None


def _priorities(state: EmulatorState, request: ApiRequest, args: dict[str, str]) -> Any:
    state.set_priorities(args["project"], _body(request))
    return None


def _item(state: EmulatorState, request: ApiRequest, args: dict[str, str]) -> Any:
    return state.storage_item(args["item"], sign=_flag(request.query, "signUrl"), base_url=request.base_url)


def _items_bulk(state: EmulatorState, request: ApiRequest, args: dict[str, str]) -> Any:
    return state.storage_items(_body(request), base_url=request.base_url)


def _patch_bulk(state: EmulatorState, request: ApiRequest, args: dict[str, str]) -> Any:
    return state.patch_items(_body(request), base_url=request.base_url)


def _children(state: EmulatorState, request: ApiRequest, args: dict[str, str]) -> Any:
    return state.child_items(
        args["folder"], args["item"], sign=_flag(request.query, "signUrls"), base_url=request.base_url
    )


def _patch_item(state: EmulatorState, request: ApiRequest, args: dict[str, str]) -> Any:
    return state.patch_item(args["folder"], args["item"], _body(request), base_url=request.base_url)


def _project_datasets(state: EmulatorState, request: ApiRequest, args: dict[str, str]) -> Any:
    with state.lock:
        return catalog.project_datasets(state.catalog, state.project(args["project"]))


def _create_project(state: EmulatorState, project: str, uid: Any, payload: Any, base: str) -> Any:
    with state.lock:
        return catalog.create_project(state.catalog, state.projects, payload, now=datetime.now(UTC))


def _delete_project(state: EmulatorState, project: str, uid: Any, payload: Any, base: str) -> Any:
    with state.lock:
        return catalog.delete_project(state.projects, uid)


def _get_dataset(state: EmulatorState, dataset: str, uid: Any, payload: Any, base: str) -> Any:
    # The dataset is the call's resource (`ResourceID`), as the project is for project-scoped calls.
    with state.lock:
        return catalog.dataset_dict(state.catalog, state.projects, state.items, dataset, payload)


def _route_pattern(template: str) -> re.Pattern[str]:
    """`/a/{name}/b` -> a regex matching the whole path, with each `{name}` a named path segment."""
    parts = re.split(r"\{(\w+)\}", template)  # literal, name, literal, name, ..., literal
    regex = "".join(re.escape(part) if index % 2 == 0 else f"(?P<{part}>[^/]+)" for index, part in enumerate(parts))
    return re.compile(regex + "$")


_STAGE = "/v2/public/projects/{project}/workflow/stages/{stage}"
_FOLDER_ITEM = "/v2/public/storage/folders/{folder}/items/{item}"

# (method, path regex, route name, handler); first match wins, so fixed segments come before `{uuid}` ones.
_V2_ROUTES: list[tuple[str, re.Pattern[str], str, V2Handler]] = [
    (method, _route_pattern(template), f"{method} {template}", handler)
    for method, template, handler in [
        ("GET", "/v2/public/projects/{project}", _project),
        ("GET", "/v2/public/projects/{project}/datasets", _project_datasets),
        ("GET", "/v2/public/ontologies/{ontology}", _ontology),
        ("GET", _STAGE + "/tasks", _tasks),
        ("POST", _STAGE + "/actions", _actions),
        ("POST", _STAGE + "/move-tasks", _move),
        ("POST", "/v2/public/projects/{project}/priorities", _priorities),
        ("POST", "/v2/public/storage/items/get-bulk", _items_bulk),
        ("PATCH", "/v2/public/storage/items/patch-bulk", _patch_bulk),
        ("GET", "/v2/public/storage/items/{item}", _item),
        ("GET", _FOLDER_ITEM + "/child-items", _children),
        ("PATCH", _FOLDER_ITEM, _patch_item),
    ]
]

LegacyHandler = Callable[[EmulatorState, str, Any, Any, str], Any]

_LEGACY_ROUTES: dict[tuple[str, str], LegacyHandler] = {
    ("labelrowmetadata", "GET"): lambda s, project, uid, payload, base: s.label_row_metadata(project, payload),
    ("labelrow", "PUT"): lambda s, project, uid, payload, base: s.create_label_rows(
        project, uid, payload, base_url=base
    ),
    ("labelrow", "GET"): lambda s, project, uid, payload, base: s.get_label_rows(project, uid, payload, base_url=base),
    ("labelrow", "POST"): lambda s, project, uid, payload, base: s.save_label_rows(project, uid, payload),
    ("project", "POST"): _create_project,
    ("project", "DELETE"): _delete_project,
    ("dataset", "GET"): _get_dataset,
}


class Api:
    def __init__(self, state: EmulatorState, authenticator: Authenticator) -> None:
        self.state = state
        self.auth = authenticator

    def handle(self, request: ApiRequest) -> ApiResponse:
        path = request.path
        if path in ("/public", "/public/user"):
            return self._legacy(request)
        if path.startswith("/v2/public/"):
            return self._v2(request)
        return _not_implemented(f"{request.method} {path}")

    def _check_project(self, principal: str | None, project_hash: str) -> None:
        # Checked before the project is looked up, as Encord does: a restricted caller learns nothing about
        # projects outside its list, not even whether they exist. Malformed hashes are left to the handler.
        try:
            uuid = UUID(project_hash)
        except ValueError:
            return
        self.auth.check_project(principal, uuid)

    # ---- v2 REST -------------------------------------------------------------------------------------------

    def _v2(self, request: ApiRequest) -> ApiResponse:
        path = request.path
        for method, pattern, route, handler in _V2_ROUTES:
            match = pattern.match(path)
            if match is None or method != request.method:
                continue
            try:
                principal = self.auth.check_v2(
                    method=request.method, target=request.target, headers=request.headers, body=request.body
                )
                args = match.groupdict()
                if "project" in args:
                    self._check_project(principal, args["project"])
                result = handler(self.state, request, args)
            except ApiError as exc:
                return _json(exc.status, {"message": exc.message}, route)
            return _json(200, result, route)
        return _not_implemented(f"{request.method} {path}")

    # ---- legacy RPC ----------------------------------------------------------------------------------------

    def _legacy(self, request: ApiRequest) -> ApiResponse:
        base_route = f"{request.method} {request.path}"
        if request.method != "POST":
            return _not_implemented(base_route)
        try:
            principal = self.auth.check_legacy(request.headers, request.body)
        except ApiError as exc:
            return _legacy_error(exc, base_route)
        try:
            body = _body(request)
            if not isinstance(body, dict) or not isinstance(body.get("values", {}), dict):
                raise InvalidArguments("body must be {query_type, query_method, values: {uid, payload}}")
        except ApiError as exc:
            return _legacy_error(exc, base_route)
        query_type, query_method = str(body.get("query_type")), str(body.get("query_method"))
        route = f"{base_route} {query_type}.{query_method}"
        handler = _LEGACY_ROUTES.get((query_type, query_method))
        if handler is None:
            message = f"the Encord emulator does not implement {route}"
            return _json(501, {"status": 501, "response": [f"NOT_IMPLEMENTED: {route}"], "message": message}, route)
        values = body.get("values") or {}
        project = request.headers.get("ResourceID") or ""
        try:
            if query_type != "dataset":  # a dataset call's resource is the dataset; datasets are not restricted
                self._check_project(principal, project)
            if query_type == "project" and isinstance(values.get("uid"), str):
                self._check_project(principal, values["uid"])  # user-scope calls name the project in `uid`
            result = handler(self.state, project, values.get("uid"), values.get("payload"), request.base_url)
        except ApiError as exc:
            return _legacy_error(exc, route)
        return _json(200, {"status": 200, "response": result}, route)


def _legacy_error(exc: ApiError, route: str) -> ApiResponse:
    # Legacy errors travel as HTTP 200 with the real status and an error code inside the envelope.
    return _json(200, {"status": exc.status, "response": [exc.legacy_code], "payload": exc.message}, route)


__all__ = ["Api", "ApiRequest", "ApiResponse"]
