"""The API page (`/docs`): the app's OpenAPI schema (`app.openapi()`, also served as
`/openapi.json`) rendered on the server as one HTML page in the dashboard's layout: for each
path and method, its summary and description, its parameters (where, type, bounds and default,
what it means) and its answers (status, what it means, the JSON's type), then the shapes its
errors refer to. No script and nothing from another host: FastAPI's own Swagger page, which
loads its script and stylesheet from a CDN, is switched off (`docs_url=None`)."""

from __future__ import annotations

from crowdstake.web.html import e, page, table

METHODS = ("get", "post", "put", "patch", "delete")


def type_of(schema: dict) -> str:
    """A schema's type in a few words: `integer`, `array of object`, `string or null`, or the
    name of a component it refers to."""
    if "$ref" in schema:
        return schema["$ref"].rsplit("/", 1)[-1]
    for several in ("anyOf", "oneOf"):
        if several in schema:
            return " or ".join(type_of(s) for s in schema[several])
    kind = schema.get("type", "any")
    if kind == "array":
        return f"array of {type_of(schema.get('items', {}))}"
    return " or ".join(kind) if isinstance(kind, list) else str(kind)


def bounds_of(schema: dict) -> str:
    """The schema's bounds and default, as `1 to 10000, default 20`."""
    lo, hi = schema.get("minimum"), schema.get("maximum")
    parts = [f"{lo} to {hi}" if lo is not None and hi is not None else
             f"at least {lo}" if lo is not None else f"at most {hi}" if hi is not None else ""]
    if "enum" in schema:
        parts.append("one of " + ", ".join(str(v) for v in schema["enum"]))
    if "pattern" in schema:
        parts.append(f"matching {schema['pattern']}")
    if "default" in schema:
        parts.append(f"default {schema['default']}")
    return ", ".join(p for p in parts if p)


def anchor(method: str, path: str) -> str:
    """The id of an operation's heading: `get-api-rounds-round_id`."""
    return f"{method}{path}".replace("/", "-").replace("{", "").replace("}", "")


def _answer_type(answer: dict) -> str:
    content = answer.get("content", {})
    return "; ".join(f"{kind}: {type_of(body.get('schema', {}))}" for kind, body in content.items())


def _operation(path: str, method: str, op: dict) -> str:
    out = [f'<h2 id="{e(anchor(method, path))}" class="mono">{e(method.upper())} {e(path)}</h2>',
           f'<p><b>{e(op.get("summary", ""))}</b></p>']
    if op.get("description"):
        out.append(f'<p>{e(op["description"])}</p>')
    parameters = op.get("parameters", [])
    if parameters:
        out.append(table([("name", "parameter"), ("in", "in"), ("required", "required"), ("type", "type"),
                          ("bounds", "bounds, default"), ("what", "what it is")],
                         [[f'<span class="mono">{e(p["name"])}</span>', e(p["in"]), "yes" if p.get("required") else "no",
                           e(type_of(p.get("schema", {}))), e(bounds_of(p.get("schema", {}))),
                           e(p.get("description", p.get("schema", {}).get("description", "")))]
                          for p in parameters], cls="parameters"))
    else:
        out.append('<p class="note">No parameters.</p>')
    out.append(table([("status", "status"), ("what", "what it means"), ("body", "body")],
                     [[e(status), e(answer.get("description", "")), e(_answer_type(answer))]
                      for status, answer in sorted(op.get("responses", {}).items())], cls="responses"))
    return "".join(out)


def _components(spec: dict) -> str:
    """The shapes the answers refer to (FastAPI's validation error): each one's fields."""
    schemas = spec.get("components", {}).get("schemas", {})
    out = []
    for name, schema in sorted(schemas.items()):
        required = set(schema.get("required", []))
        rows = [[f'<span class="mono">{e(field)}</span>', e(type_of(s)), "yes" if field in required else "no"]
                for field, s in schema.get("properties", {}).items()]
        out.append(f'<h3 id="{e(name)}">{e(name)}</h3>' + table([("field", "field"), ("type", "type"),
                                                                  ("required", "required")], rows, cls="fields"))
    return "<h2>Shapes</h2>" + "".join(out) if out else ""


def api_page(spec: dict) -> str:
    """The whole page for the OpenAPI document `spec`."""
    info = spec.get("info", {})
    operations = [(path, method, ops[method]) for path, ops in spec.get("paths", {}).items()
                  for method in METHODS if method in ops]
    index = "".join(f'<li><a href="#{e(anchor(m, p))}" class="mono">{e(m.upper())} {e(p)}</a>: '
                    f'{e(op.get("summary", ""))}</li>' for p, m, op in operations)
    body = (f'<p>{e(info.get("description", ""))} Version {e(info.get("version", ""))}; the OpenAPI '
            f'{e(spec.get("openapi", ""))} document itself: <a href="/openapi.json">/openapi.json</a>.</p>'
            f'<ul class="operations">{index}</ul>' + "".join(_operation(*o) for o in operations) + _components(spec))
    return page("API", body)
