#!/usr/bin/env python3
"""Replays Okta's "SCIM 2.0 SPEC Test" (a Runscope API-test export) against a SCIM server.

Python 3 standard library only. Reads the export's steps, sets the variables that Okta's
initial script would set, sends each request, evaluates its Runscope assertions and variable
extractions, prints one line per assertion and finally `N passed, M failed`. Exit status 1 when an
assertion failed that is not in ALLOWED_FAILURES (each entry explained in docs/conformance.md).

Usage:
  okta_replay.py --base http://127.0.0.1:8080/scim/v2 --token scimd_… [--export FILE]
                 [--no-seed] [--honor-pauses]
"""
import argparse
import json
import random
import re
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

HERE = __file__.rsplit("/", 1)[0] if "/" in __file__ else "."
DEFAULT_EXPORT = f"{HERE}/data/Okta-SCIM-20-SPEC-Test.json"

# (step note, assertion source, comparison, property) -> why a failure is tolerated.
# An entry only tolerates a failure; if the assertion passes it is reported as PASS.
ALLOWED_FAILURES = {
    ("Optional Test: Verify Groups endpoint", "response_time", "is_less_than", None):
        "latency budget (600 ms), not SCIM behaviour: it measures the CI machine, and a debug "
        "build on a loaded 2-core runner may exceed it",
}

MISSING = object()


def js_str(v):
    """String form of a JSON value the way Runscope (JavaScript) compares it."""
    if v is MISSING:
        return "undefined"
    if v is None:
        return "null"
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    if isinstance(v, (dict, list)):
        return json.dumps(v, separators=(",", ":"))
    return str(v)


def lookup(doc, prop):
    """`Resources[0].name.familyName` in a parsed JSON body."""
    if prop in (None, ""):
        return doc
    cur = doc
    for part in re.findall(r"[^.\[\]]+|\[\d+\]", prop):
        if part.startswith("["):
            idx = int(part[1:-1])
            if not isinstance(cur, list) or idx >= len(cur):
                return MISSING
            cur = cur[idx]
        else:
            if not isinstance(cur, dict) or part not in cur:
                return MISSING
            cur = cur[part]
    return cur


def is_number(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def as_float(v):
    try:
        return float(v) if not isinstance(v, bool) else None
    except (TypeError, ValueError):
        return None


def compare(comparison, actual, expected):
    """Runscope comparisons. Returns True/False, or None for an unsupported comparison."""
    a_str = js_str(actual)
    if comparison == "equal":
        return a_str == expected
    if comparison == "not_equal":
        return a_str != expected
    if comparison == "empty":
        return actual in (MISSING, None, "", [], {})
    if comparison == "not_empty":
        return actual not in (MISSING, None, "", [], {})
    if comparison in ("contains", "does_not_contain"):
        if isinstance(actual, list):
            found = any(js_str(x) == expected for x in actual) or expected in a_str
        elif actual is MISSING:
            found = False
        else:
            found = expected in a_str
        return found if comparison == "contains" else not found
    if comparison == "has_value":
        return isinstance(actual, list) and any(js_str(x) == expected for x in actual)
    if comparison == "has_key":
        return isinstance(actual, dict) and expected in actual
    if comparison == "is_a_number":
        return is_number(actual)
    if comparison == "is_null":
        return actual is None
    if comparison == "equal_number":
        a, e = as_float(actual), as_float(expected)
        return a is not None and e is not None and a == e
    ops = {
        "is_less_than": lambda a, e: a < e,
        "is_less_than_or_equal": lambda a, e: a <= e,
        "is_greater_than": lambda a, e: a > e,
        "is_greater_than_or_equal": lambda a, e: a >= e,
    }
    if comparison in ops:
        a, e = as_float(actual), as_float(expected)
        return a is not None and e is not None and ops[comparison](a, e)
    return None


# Runscope steps may carry JavaScript. It is not executed; a step whose script matters has its
# equivalent here, keyed by the step note, as (name, check(status, body)) pairs.
def _groups_script(status, body):
    # The export's script: totalResults 0 -> assert("nogroups", …) (a truthy string: passes);
    # totalResults >= 1 -> assert.ok(Array.isArray(Resources)).
    if not isinstance(body, dict):
        return False
    total = body.get("totalResults")
    return total == 0 or (is_number(total) and total >= 1 and isinstance(body.get("Resources"), list))


SCRIPT_EQUIVALENTS = {
    "Optional Test: Verify Groups endpoint": [
        ("script: totalResults is 0, or Resources is an array", _groups_script),
    ],
}


def initial_variables(base, token):
    """What Okta's `Initial_Script_Spec.txt` and the Runscope environment provide."""
    n = random.randint(1_000_000, 9_999_999)
    username = f"Runscope{n}Test@atko.com"
    return {
        "SCIMBaseURL": base.rstrip("/"),
        "auth": f"Bearer {token}",
        "randomUsername": username,
        "randomUsernameCaps": username.upper(),
        "randomEmail": username,
        "randomGivenName": f"Runscope{n}",
        "randomFamilyName": f"Test{n}",
        "InvalidUserEmail": f"nonexistent{n}@atko.com",
        "UserIdThatDoesNotExist": "010101001010101010",
    }


def substitute(text, variables):
    def repl(m):
        name = m.group(1).strip()
        return variables[name] if name in variables else m.group(0)

    return re.sub(r"\{\{([^{}]+)\}\}", repl, text)


def send(method, url, headers, body, timeout=30):
    # Runscope sends the URL as written in the step, percent-encoding spaces and quotes.
    url = urllib.parse.quote(url, safe=":/?#[]@!$&'()*+,;=%~")
    data = body.encode("utf-8") if body is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers=headers)
    start = time.monotonic()
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            status, raw = resp.status, resp.read()
    except urllib.error.HTTPError as e:
        status, raw = e.code, e.read()
    elapsed_ms = (time.monotonic() - start) * 1000
    text = raw.decode("utf-8", "replace")
    try:
        doc = json.loads(text) if text.strip() else MISSING
    except json.JSONDecodeError:
        doc = MISSING
    return status, text, doc, elapsed_ms


def seed_user(variables):
    """The SPEC test expects the app to hold at least one user (its first step reads
    `Resources[0].name.familyName`, `…emails[0].value`); Okta runs it against a populated app.
    Create one ordinary user, as a fixture, before the replay."""
    body = {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": "okta.fixture@example.com",
        "name": {"givenName": "Okta", "familyName": "Fixture"},
        "emails": [{"primary": True, "type": "work", "value": "okta.fixture@example.com"}],
        "active": True,
    }
    status, text, _, _ = send(
        "POST", variables["SCIMBaseURL"] + "/Users",
        {"Authorization": variables["auth"], "Content-Type": "application/scim+json"},
        json.dumps(body))
    if status != 201:
        raise SystemExit(f"okta: could not create the fixture user: HTTP {status}: {text[:500]}")


def describe(a, variables):
    prop = a.get("property")
    value = a.get("value")
    parts = [a.get("source", "?")]
    if prop:
        parts.append(prop)
    parts.append(a.get("comparison", "?"))
    if value is not None:
        parts.append(repr(substitute(str(value), variables)))
    return " ".join(parts)


def run(export, variables, honor_pauses):
    passed = failed = tolerated = 0
    for step in export["steps"]:
        if step.get("skipped"):
            continue
        if step.get("step_type") == "pause":
            if honor_pauses:
                time.sleep(float(step.get("duration", 0)))
            continue
        if step.get("step_type") != "request":
            print(f"SKIP  okta  unsupported step type {step.get('step_type')!r}")
            continue
        note = step.get("note", "").strip()
        url = substitute(step["url"], variables)
        headers = {k: substitute(", ".join(v), variables) for k, v in (step.get("headers") or {}).items()}
        body = step.get("body")
        body = substitute(body, variables) if body else None
        try:
            status, text, doc, elapsed = send(step["method"], url, headers, body)
        except OSError as e:
            n = len(step.get("assertions") or []) or 1
            failed += n
            print(f"FAIL  okta  {note} :: request {step['method']} {url} failed: {e}")
            continue

        checks = []
        for a in step.get("assertions") or []:
            source = a.get("source")
            prop = a.get("property") or None
            expected = substitute(str(a["value"]), variables) if a.get("value") is not None else None
            if source == "response_status":
                actual = status
            elif source == "response_json":
                actual = lookup(doc, prop) if doc is not MISSING else MISSING
            elif source == "response_time":
                actual = round(elapsed, 1)
            elif source == "response_text":
                actual = text
            elif source == "response_headers":
                actual = MISSING  # not used by the export; reported as unsupported below
            else:
                actual = MISSING
            ok = compare(a.get("comparison"), actual, expected)
            key = (note, source, a.get("comparison"), prop)
            label = describe(a, variables)
            if ok is None:
                ok, label = False, label + " (unsupported comparison)"
            checks.append((key, label, ok, js_str(actual)))
        for name, check in SCRIPT_EQUIVALENTS.get(note, []):
            checks.append(((note, "script", name, None), name, bool(check(status, doc)), f"HTTP {status}"))
        scripts = [s for s in step.get("scripts") or [] if s.strip()]
        if scripts and note not in SCRIPT_EQUIVALENTS:
            print(f"SKIP  okta  {note} :: JavaScript step script not executed (no equivalent)")

        for key, label, ok, actual in checks:
            if ok:
                passed += 1
                print(f"PASS  okta  {note} :: {label}")
            elif key in ALLOWED_FAILURES:
                tolerated += 1
                print(f"XFAIL okta  {note} :: {label} (actual {actual[:200]}) "
                      f"-- tolerated: {ALLOWED_FAILURES[key]}")
            else:
                failed += 1
                print(f"FAIL  okta  {note} :: {label} (actual {actual[:200]}; "
                      f"{step['method']} {url} -> HTTP {status}: {text[:600]})")

        for v in step.get("variables") or []:
            if v.get("source") == "response_json" and doc is not MISSING:
                value = lookup(doc, v.get("property"))
                if value is not MISSING:
                    variables[v["name"]] = js_str(value)

    if tolerated:
        print(f"{tolerated} failed assertions tolerated as documented deviations (docs/conformance.md)")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--base", required=True, help="SCIM base URL, e.g. http://127.0.0.1:8080/scim/v2")
    p.add_argument("--token", required=True, help="bearer token of the tenant under test")
    p.add_argument("--export", default=DEFAULT_EXPORT, help="the Runscope JSON export")
    p.add_argument("--no-seed", action="store_true", help="do not create the fixture user first")
    p.add_argument("--honor-pauses", action="store_true",
                   help="sleep through the export's pause steps (5-10 s each; pointless locally)")
    args = p.parse_args()
    with open(args.export, encoding="utf-8") as f:
        export = json.load(f)
    variables = initial_variables(args.base, args.token)
    if not args.no_seed:
        seed_user(variables)
    return run(export, variables, args.honor_pauses)


if __name__ == "__main__":
    sys.exit(main())
