#!/usr/bin/env python3
"""Glue between run.sh, newman and Microsoft's Postman collection (Python 3 stdlib only).

  postman.py prepare COLLECTION OUT_DIR BASE_URL TOKEN
      Writes OUT_DIR/collection.json (the collection minus the requests listed in SKIP_REQUESTS)
      and OUT_DIR/environment.json (Protocol/Server/Port/Api taken from BASE_URL, token = TOKEN).
  postman.py evaluate COLLECTION REPORT_JSON
      Reads newman's JSON report, prints one line per assertion (PASS / FAIL / XFAIL), then
      `N passed, M failed`; exits 1 if any failure is not in ALLOWED_FAILURES.

Every deviation below is explained in docs/conformance.md; keep both in step.
"""
import json
import sys
import urllib.parse

# Requests removed from the run (item name at the top of the collection's folder tree).
SKIP_REQUESTS = {
    # Fetches a dev token from Microsoft's reference server (`GET /Token` with body "SecureLogin")
    # and stores it in {{token}}. Not SCIM (RFC 7644 §2 leaves authentication to the provider) and
    # not something Entra does: run.sh injects scimd's token through the environment instead.
    # Running it would also overwrite {{token}} with `undefined`. Its one assertion ("Status code
    # is 200") is therefore not run.
    ("Get Token", "Get Token"),
}

# Assertions that contradict RFC 7644 / Entra / docs/conformance.md; their failure is tolerated.
# Key: (folder, request name, assertion name) -> (HTTP status the deviation produces, reason): a
# failure is tolerated only with that status, so any other breakage still fails. An allow-listed
# assertion that passes is reported as PASS (and the entry flagged as stale), never hidden.
_PATCH_200 = ("RFC 7644 §3.5.2 lets a PATCH answer either 200 with the resource or 204; scimd "
              "answers user PATCHes 200 with the resource (what Entra reads; issue #2 contract). "
              "Groups answer 204, as the collection expects.")
ALLOWED_FAILURES = {
    ("User tests with garbage", "Patch user omalley new username", "Status code is 204"): (200, _PATCH_200),
    ("User tests with garbage", "patch user omalley active with boolean", "Status code is 204"): (200, _PATCH_200),
}


def prepare(collection_path, out_dir, base_url, token):
    with open(collection_path, encoding="utf-8") as f:
        coll = json.load(f)

    def prune(items, folder):
        kept = []
        for it in items:
            if "item" in it:
                it["item"] = prune(it["item"], it["name"])
                kept.append(it)
            elif (folder, it["name"]) in SKIP_REQUESTS:
                continue
            else:
                kept.append(it)
        return kept

    coll["item"] = prune(coll["item"], "")
    coll["item"] = [it for it in coll["item"] if "item" not in it or it["item"]]

    # The export's items carry no ids, so newman invents random ones; give each request a stable
    # id so that `evaluate` can tell which folder an execution belongs to (names repeat).
    counter = iter(range(1, 10_000))

    def number(items):
        for it in items:
            if "item" in it:
                number(it["item"])
            else:
                it["id"] = f"scimd-conformance-{next(counter)}"

    number(coll["item"])

    u = urllib.parse.urlsplit(base_url)
    # URLs are `{{Protocol}}://{{Server}}{{Port}}/{{Api}}/…`: Port carries its own colon.
    env = {
        "name": "scimd conformance",
        "values": [
            {"key": "Protocol", "value": u.scheme, "enabled": True},
            {"key": "Server", "value": u.hostname, "enabled": True},
            {"key": "Port", "value": f":{u.port}" if u.port else "", "enabled": True},
            {"key": "Api", "value": u.path.strip("/"), "enabled": True},
            {"key": "token", "value": token, "enabled": True},
        ],
    }
    with open(f"{out_dir}/collection.json", "w", encoding="utf-8") as f:
        json.dump(coll, f, indent=1)
    with open(f"{out_dir}/environment.json", "w", encoding="utf-8") as f:
        json.dump(env, f, indent=1)


def item_folders(collection_path):
    """item id -> folder name ('' at top level)."""
    with open(collection_path, encoding="utf-8") as f:
        coll = json.load(f)
    out = {}

    def walk(items, folder):
        for it in items:
            if "item" in it:
                walk(it["item"], it["name"])
            else:
                out[it.get("id") or it.get("_postman_id")] = folder

    walk(coll["item"], "")
    return out


def url_text(url):
    if not isinstance(url, dict):
        return str(url)
    text = "{}://{}{}/{}".format(
        url.get("protocol", "http"), ".".join(url.get("host") or []),
        f":{url['port']}" if url.get("port") else "", "/".join(url.get("path") or []))
    query = url.get("query") or []
    if query:
        text += "?" + "&".join(f"{p.get('key')}={p.get('value')}" for p in query)
    return text


def body_text(response):
    stream = (response or {}).get("stream")
    if isinstance(stream, dict) and stream.get("type") == "Buffer":
        return bytes(stream.get("data", [])).decode("utf-8", "replace")
    return ""


def evaluate(collection_path, report_path):
    folders = item_folders(collection_path)
    with open(report_path, encoding="utf-8") as f:
        report = json.load(f)
    run = report["run"]
    passed = failed = tolerated = 0
    details = []

    for ex in run["executions"]:
        item = ex.get("item", {})
        folder = folders.get(item.get("id"), "?")
        name = item.get("name", "?")
        resp = ex.get("response") or {}
        status = resp.get("code")
        where = f"{folder} / {name}" if folder else name
        results = [(a.get("assertion"), a.get("error")) for a in ex.get("assertions") or []]
        for assertion, error in results:
            key = (folder, name, assertion)
            if error is None:
                passed += 1
                mark = "PASS"
                if key in ALLOWED_FAILURES:
                    mark = "PASS (allow-listed deviation no longer needed?)"
                print(f"{mark:5} postman  {where} :: {assertion} [HTTP {status}]")
            elif key in ALLOWED_FAILURES and ALLOWED_FAILURES[key][0] == status:
                tolerated += 1
                print(f"XFAIL postman  {where} :: {assertion} [HTTP {status}] "
                      f"-- tolerated: {ALLOWED_FAILURES[key][1]}")
            else:
                failed += 1
                msg = error.get("message", str(error)) if isinstance(error, dict) else str(error)
                print(f"FAIL  postman  {where} :: {assertion} [HTTP {status}]: {msg}")
                req = ex.get("request") or {}
                details.append(f"  {where}: {req.get('method')} {url_text(req.get('url'))}\n"
                               f"    request body: {((req.get('body') or {}).get('raw') or '')[:600]}\n"
                               f"    response {status}: {body_text(resp)[:1200]}")

    # Failures outside pm.test(): a test script that throws (e.g. pm.response.json() on a
    # non-JSON body), a request that could not be sent (server down). Never tolerated.
    for f in run.get("failures") or []:
        at = f.get("at") or ""
        if at.startswith("assertion") or "assertion:" in at:
            continue
        failed += 1
        err = f.get("error") or {}
        print(f"FAIL  postman  {(f.get('source') or {}).get('name', '?')} :: ({at}) "
              f"{err.get('name', 'error')}: {(err.get('message') or '').splitlines()[0] if err.get('message') else ''}")

    if details:
        print("\nDetails of unexpected failures:")
        print("\n".join(details))
    if tolerated:
        print(f"{tolerated} failed assertions tolerated as documented deviations "
              f"(docs/conformance.md)")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


def main(argv):
    if len(argv) == 6 and argv[1] == "prepare":
        prepare(*argv[2:])
        return 0
    if len(argv) == 4 and argv[1] == "evaluate":
        return evaluate(argv[2], argv[3])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
