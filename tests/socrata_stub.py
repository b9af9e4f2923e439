"""A local SODA-shaped HTTP server for tests: serves real rows from shared data as Socrata JSON.

Faults are scripted per request number: ``{n: "500" | "429" | "truncate" | "reset" | "empty" | "garbage"
| "slow" | "reset_mid" | "401"}``: ``slow`` answers after ``slow_seconds``; ``reset_mid`` sends the headers
and half the body, then drops the connection.
"""
from __future__ import annotations

import json
import threading
import time
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import pandas as pd

from tasks.sources.police_chicago import SOCRATA_FIELDS

CSV_TO_API = {v: k for k, v in SOCRATA_FIELDS.items()}


def csv_rows_to_socrata(frame: pd.DataFrame) -> list[dict]:
    """Return portal CSV rows as SODA JSON records (ISO dates, booleans, strings)."""
    out = []
    for _, row in frame.iterrows():
        rec = {}
        for csv_name, api_name in CSV_TO_API.items():
            v = row.get(csv_name)
            if v is None or (isinstance(v, float) and pd.isna(v)) or v == "":
                continue
            if csv_name in ("Date", "Updated On"):
                v = datetime.strptime(v, "%m/%d/%Y %I:%M:%S %p").strftime("%Y-%m-%dT%H:%M:%S.000")
            elif csv_name in ("Arrest", "Domestic"):
                v = str(v).lower() == "true"
            rec[api_name] = v
        rec[":id"] = f"row-{row['ID']}"
        out.append(rec)
    return out


class SocrataStub:
    def __init__(self, records: list[dict], faults: dict[int, str] | None = None, slow_seconds: float = 2.0):
        self.slow_seconds = slow_seconds
        self.records = sorted(records, key=lambda r: r[":id"])
        self.faults = dict(faults or {})
        self.requests: list[dict] = []
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output clean
                pass

            def do_GET(self):  # noqa: N802
                q = {k: v[0] for k, v in parse_qs(urlparse(self.path).query).items()}
                n = len(stub.requests)
                stub.requests.append({"path": urlparse(self.path).path, **q, "token": self.headers.get("X-App-Token")})
                fault = stub.faults.pop(n, None)
                if fault == "500":
                    return self._send(500, b'{"error": "boom"}')
                if fault == "401":
                    return self._send(401, b'{"error": "invalid app token"}')
                if fault == "429":
                    return self._send(429, b'{"error": "slow down"}', {"Retry-After": "1"})
                if fault == "reset":
                    self.connection.close()
                    return
                if fault == "shift":  # a record inserted at the front between two pages: the pages slide by one
                    first = dict(stub.records[0])
                    stub.records.insert(0, {**first, ":id": "row-0000-inserted", "id": "99999999",
                                            "case_number": "JZ000000"})
                rows = stub.select(q)
                body = json.dumps(rows).encode()
                if fault == "slow":
                    time.sleep(stub.slow_seconds)
                if fault == "reset_mid":
                    self.send_response(200)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body[: len(body) // 2])
                    self.wfile.flush()
                    self.connection.shutdown(2)
                    return
                if fault == "truncate":
                    return self._send(200, body[: len(body) // 2])
                if fault == "garbage":
                    return self._send(200, b"<html>maintenance</html>")
                if fault == "empty":
                    return self._send(200, b"[]")
                return self._send(200, body)

            def _send(self, status, body, headers=None):
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def select(self, q: dict) -> list[dict]:
        rows = self.records
        where = q.get("$where")
        if where:  # only the form this project sends: updated_on > 'ISO'
            since = where.split(">", 1)[1].strip().strip("'")
            rows = [r for r in rows if r.get("updated_on", "") > since]
        if q.get("$select", "").startswith("count(*)"):
            return [{"n": str(len(rows))}]
        offset, limit = int(q.get("$offset", 0)), int(q.get("$limit", 1000))
        return rows[offset: offset + limit]

    @property
    def base_url(self) -> str:
        host, port = self.server.server_address
        return f"http://{host}:{port}"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
