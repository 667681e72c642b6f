"""Derives the contract spec from Corbado's published Backend API v2 spec.

The published `connectTokenData` is a `oneOf` whose branches overlap (`{"identifier"}` matches
three of them), so a strict validator such as Prism rejects every `POST /connectTokens` request.
The fix makes it unambiguous and changes nothing else: `oneOf` of the append shape and one
identifier-only shape (the list one), each with `additionalProperties: false`.

  corbado_contract_fix.py derive PUBLISHED OUT     writes the fixed spec to OUT
  corbado_contract_fix.py verify PUBLISHED CONTRACT
      exits 1 unless the fix applied to PUBLISHED equals CONTRACT as parsed data

Called by scripts/corbado-spec.sh.
"""

import os
import sys

import yaml

APPEND = "connectTokenDataPasskeyAppend"
IDENTIFIER_ONLY = "connectTokenDataPasskeyList"
PUBLISHED_BRANCHES = [
    APPEND,
    "connectTokenDataPasskeyDelete",
    "connectTokenDataPasskeyList",
    "connectTokenDataPasskeyLogin",
]


class FixError(Exception):
    pass


def schema_ref(name):
    return {"$ref": f"#/components/schemas/{name}"}


def closed(schema, name):
    if "additionalProperties" in schema:
        raise FixError(f"{name} already has additionalProperties: the published spec changed")
    # Placed after `type`, where a reader of the YAML looks for it.
    out = {}
    for key, value in schema.items():
        out[key] = value
        if key == "type":
            out["additionalProperties"] = False
    return out


def apply_fix(spec):
    schemas = spec["components"]["schemas"]
    token_data = schemas["connectTokenData"]
    # Refuse anything but the ambiguous schema the fix was written for.
    if token_data.get("oneOf") != [schema_ref(n) for n in PUBLISHED_BRANCHES]:
        raise FixError("connectTokenData is not the published four-branch oneOf: the spec changed")
    token_data["oneOf"] = [schema_ref(APPEND), schema_ref(IDENTIFIER_ONLY)]
    for name in (APPEND, IDENTIFIER_ONLY):
        schemas[name] = closed(schemas[name], name)
    return spec


def load(path):
    with open(path, encoding="utf-8") as f:
        return yaml.safe_load(f)


def differences(a, b, path="$"):
    """Where two parsed documents differ, as JSON-path-like strings."""
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for key in list(a) + [k for k in b if k not in a]:
            if key not in b:
                out.append(f"{path}.{key}: only in the derived spec")
            elif key not in a:
                out.append(f"{path}.{key}: only in the contract file")
            else:
                out += differences(a[key], b[key], f"{path}.{key}")
        return out
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [d for i, (x, y) in enumerate(zip(a, b)) for d in differences(x, y, f"{path}[{i}]")]
    return [] if a == b else [f"{path}: {a!r} != {b!r}"]


def derive(published, out):
    spec = apply_fix(load(published))
    tmp = out + ".part"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(
            f"# Derived by scripts/corbado_contract_fix.py from {os.path.basename(published)}:\n"
            "# connectTokenData made unambiguous, nothing else changed.\n"
        )
        yaml.safe_dump(spec, f, sort_keys=False, allow_unicode=True)
    os.replace(tmp, out)


def verify(published, contract):
    diffs = differences(apply_fix(load(published)), load(contract))
    if diffs:
        print(f"the fix applied to {published} differs from {contract}:", file=sys.stderr)
        for d in diffs[:20]:
            print(f"  {d}", file=sys.stderr)
        return 1
    return 0


def main(argv):
    if len(argv) != 4 or argv[1] not in ("derive", "verify"):
        print(__doc__, file=sys.stderr)
        return 2
    try:
        if argv[1] == "derive":
            derive(argv[2], argv[3])
            return 0
        return verify(argv[2], argv[3])
    except FixError as e:
        print(f"error: {e}; review the fix in {argv[0]}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
