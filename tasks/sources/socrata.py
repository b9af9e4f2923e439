"""Socrata SODA API pages: ``$limit``/``$offset`` ordered by ``:id``, incremental by watermark.

Retries with exponential backoff on 5xx, 429 (honouring ``Retry-After``), timeouts, dropped
connections and truncated/malformed bodies; gives up with one clear ``SourceError``.
"""
from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import httpx

from schemas.errors import SourceError

RETRY_STATUS = {429, 500, 502, 503, 504}


@dataclass(frozen=True)
class Page:
    offset: int
    records: list[dict]
    body_sha256: str
    url: str


def _retry_after(resp: httpx.Response, default: float) -> float:
    value = resp.headers.get("Retry-After")
    try:
        return min(float(value), 60.0) if value is not None else default
    except ValueError:
        return default


def fetch_json(client: httpx.Client, url: str, params: dict, *, max_attempts: int = 5, backoff: float = 1.0,
               sleep: Callable[[float], None] = time.sleep, log: Callable[[str], None] | None = None) -> tuple[list, bytes]:
    """GET ``url`` and return (parsed JSON list, body bytes), retrying transient failures."""
    last = ""
    for attempt in range(1, max_attempts + 1):
        delay = backoff * 2 ** (attempt - 1)
        try:
            resp = client.get(url, params=params)
            if resp.status_code in RETRY_STATUS:
                last = f"HTTP {resp.status_code}"
                delay = _retry_after(resp, delay) if resp.status_code == 429 else delay
            elif resp.status_code >= 400:
                hint = "Check the app token (PULSE_SOCRATA_APP_TOKEN)" if resp.status_code in (401, 403) else \
                    "Check the dataset id and query in the city config"
                raise SourceError(f"{url}", f"HTTP {resp.status_code} {resp.reason_phrase}", hint)
            else:
                body = resp.content
                data = json.loads(body)
                if not isinstance(data, list):
                    raise ValueError("response is not a JSON array")
                return data, body
        except (httpx.TimeoutException, httpx.TransportError) as exc:
            last = type(exc).__name__
        except (json.JSONDecodeError, UnicodeDecodeError, ValueError) as exc:
            last = f"malformed or truncated body ({type(exc).__name__})"
        if attempt < max_attempts:
            if log:
                log(f"{url} offset={params.get('$offset')}: {last}; retry {attempt}/{max_attempts - 1} in {delay:.1f}s")
            sleep(delay)
    raise SourceError(f"{url} (offset {params.get('$offset')})", f"failed after {max_attempts} attempts: {last}",
                      "Nothing past the last loaded watermark was recorded; rerun when the source is back")


def count_rows(base_url: str, dataset_id: str, *, watermark_field: str, since: str | None,
               app_token: str | None = None, timeout: float = 60.0, transport: httpx.BaseTransport | None = None,
               max_attempts: int = 5, backoff: float = 1.0, sleep: Callable[[float], None] = time.sleep) -> int:
    """Return how many records are newer than ``since`` (``$select=count(*)``)."""
    url = f"{base_url.rstrip('/')}/resource/{dataset_id}.json"
    params = {"$select": "count(*) AS n"}
    if since:
        params["$where"] = f"{watermark_field} > '{since}'"
    headers = {"X-App-Token": app_token} if app_token else {}
    with httpx.Client(timeout=timeout, headers=headers, transport=transport) as client:
        data, _ = fetch_json(client, url, params, max_attempts=max_attempts, backoff=backoff, sleep=sleep)
    try:
        return int(data[0]["n"])
    except (IndexError, KeyError, TypeError, ValueError):
        raise SourceError(url, f"unexpected count response {str(data)[:80]}", "Check the dataset id") from None


def iter_pages(base_url: str, dataset_id: str, *, page_size: int, watermark_field: str, since: str | None,
               app_token: str | None = None, timeout: float = 60.0, transport: httpx.BaseTransport | None = None,
               max_attempts: int = 5, backoff: float = 1.0, sleep: Callable[[float], None] = time.sleep,
               log: Callable[[str], None] | None = None) -> Iterator[Page]:
    """Yield pages of records newer than ``since`` (all when None), ordered by ``:id``."""
    url = f"{base_url.rstrip('/')}/resource/{dataset_id}.json"
    headers = {"X-App-Token": app_token} if app_token else {}
    offset = 0
    with httpx.Client(timeout=timeout, headers=headers, transport=transport) as client:
        while True:
            params = {"$limit": page_size, "$offset": offset, "$order": ":id"}
            if since:
                params["$where"] = f"{watermark_field} > '{since}'"
            records, body = fetch_json(client, url, params, max_attempts=max_attempts, backoff=backoff,
                                       sleep=sleep, log=log)
            if not records:
                return
            yield Page(offset=offset, records=records, body_sha256=hashlib.sha256(body).hexdigest(), url=url)
            if len(records) < page_size:
                return
            offset += len(records)
