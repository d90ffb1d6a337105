"""docs/api.md, written from the app's OpenAPI schema (never by hand):

    .venv/bin/python -m graphrec.api.reference > docs/api.md

tests/test_serve.py checks that the file matches what this prints.
"""

from __future__ import annotations

import json

from graphrec.api.app import create_app
from graphrec.settings import Settings


def _ref(schema: dict) -> str:
    """A schema as a short type: `Pair`, `list[Pair]`, `Pair | list[Pair]`, `integer`."""
    if "$ref" in schema:
        return f"`{schema['$ref'].rsplit('/', 1)[-1]}`"
    if "anyOf" in schema:
        return " or ".join(_ref(s) for s in schema["anyOf"])
    if schema.get("type") == "array":
        return f"list of {_ref(schema.get('items', {}))}"
    if "enum" in schema:
        return " / ".join(f"`{v}`" for v in schema["enum"])
    return f"`{schema.get('type', 'any')}`"


def markdown(schema: dict) -> str:
    lines = [
        "# The HTTP API (`graphrec serve`)",
        "",
        "Written from the OpenAPI schema by `python -m graphrec.api.reference`; the running",
        "server publishes the same schema at `/openapi.json`. Every error body is",
        '`{"error": "..."}`; with `GRAPHREC_API_KEY` set, every request needs `X-API-Key`.',
        "",
    ]
    for path, methods in schema["paths"].items():
        for method, op in methods.items():
            lines += [f"## `{method.upper()} {path}`", "", op.get("description", "").strip(), ""]
            params = op.get("parameters", [])
            if params:
                lines += ["| parameter | in | type | default | |", "|---|---|---|---|---|"]
                for p in params:
                    s = p.get("schema", {})
                    lines.append(
                        f"| `{p['name']}` | {p['in']} | {_ref(s)} | "
                        f"{s.get('default', '')} | {p.get('description', '')} |"
                    )
                lines.append("")
            body = op.get("requestBody", {}).get("content", {}).get("application/json")
            if body:
                lines += [f"Body: {_ref(body['schema'])}.", ""]
            lines += ["| status | body |", "|---|---|"]
            for status, response in op.get("responses", {}).items():
                content = response.get("content", {}).get("application/json", {})
                shape = _ref(content["schema"]) if content.get("schema") else "text"
                lines.append(f"| {status} | {shape} ({response.get('description', '')}) |")
            lines.append("")
    lines += ["## Schemas", ""]
    for name, model in schema["components"]["schemas"].items():
        lines += [f"### `{name}`", ""]
        if model.get("description"):
            lines += [model["description"].strip(), ""]
        lines += ["| field | type | required |", "|---|---|---|"]
        required = set(model.get("required", []))
        for field, s in model.get("properties", {}).items():
            lines.append(f"| `{field}` | {_ref(s)} | {'yes' if field in required else ''} |")
        lines.append("")
    return "\n".join(line.rstrip() for line in lines).rstrip() + "\n"


def schema() -> dict:
    """The OpenAPI schema of the app (connects to nothing)."""
    app = create_app(Settings("bolt://127.0.0.1:7687", "neo4j", None))
    return json.loads(json.dumps(app.openapi()))


if __name__ == "__main__":
    print(markdown(schema()), end="")
