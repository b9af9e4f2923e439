"""Census batch geocoder client against a local stub server (127.0.0.1, random port; no internet)."""
from __future__ import annotations

import csv
import io
import threading
from email.parser import BytesParser
from email.policy import default
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pandas as pd
import pytest

from tasks.geocode.census import CensusBatchGeocoder, build_batch_csv, parse_batch_response
from schemas.errors import InputError, SourceError

RESPONSE = Path(__file__).resolve().parents[1] / "data" / "geocode" / "census_batch_response.csv"


def _replay_fixture(rows: list[list[str]]) -> str:
    """Answer the saved response lines of the ids that were uploaded, in reverse order."""
    saved = {line.split(",", 1)[0].strip('"'): line for line in RESPONSE.read_text().splitlines()}
    return "\n".join(saved[r[0]] for r in reversed(rows) if r[0] in saved) + "\n"


def _echo_house_number(rows: list[list[str]]) -> str:
    """Answer every row as a match whose longitude encodes the uploaded house number."""
    out = io.StringIO()
    writer = csv.writer(out, quoting=csv.QUOTE_ALL, lineterminator="\n")
    for r in rows:
        number = int(r[1].split()[0])
        writer.writerow([r[0], r[1], "Match", "Exact", r[1].upper(), f"{-87.0 - number / 1000:.3f},41.800", "1", "L"])
    return out.getvalue()


class _Stub(BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802 - http.server API
        body = self.rfile.read(int(self.headers["Content-Length"]))
        stub = self.server
        head = f"Content-Type: {self.headers['Content-Type']}\r\n\r\n".encode()
        message = BytesParser(policy=default).parsebytes(head + body)
        fields = {p.get_param("name", header="content-disposition"): p.get_content() for p in message.iter_parts()}
        stub.uploads.append(fields)
        if stub.statuses:
            status = stub.statuses.pop(0)
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        upload = fields["addressFile"]
        text = upload.decode() if isinstance(upload, bytes) else upload
        reply = stub.answer(list(csv.reader(io.StringIO(text)))).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/csv")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, *args):  # keep test output clean
        pass


@pytest.fixture
def stub():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Stub)
    server.uploads, server.statuses, server.answer = [], [], _replay_fixture
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    server.url = f"http://127.0.0.1:{server.server_address[1]}/geocoder/locations/addressbatch"
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def addresses() -> pd.DataFrame:
    return pd.DataFrame(
        {"address": ["3201 W Fillmore St", "4453 North Broadway Avenue", "1 Nowhere Rd", "100 Main St"],
         "zip": ["60624", "60640", None, "60601"]},
        index=["a", "b", "c", "d"],
    )


def test_geocode_retries_a_500_and_maps_answers_by_id(stub, addresses):
    stub.statuses = [500]
    coder = CensusBatchGeocoder(stub.url, backoff_s=0)
    out = coder.geocode(addresses, "address", "zip")
    assert len(stub.uploads) == 2
    assert stub.uploads[-1]["benchmark"].strip() == "Public_AR_Current"
    assert list(out.index) == ["a", "b", "c", "d"]
    assert out.loc["a", ["latitude", "longitude"]].tolist() == pytest.approx([41.868220, -87.705754])
    assert out["geocode_method"].tolist() == ["census_batch", "census_batch", "unmatched", "unmatched"]
    assert out["geocode_precision"].tolist() == ["street", "street", "none", "none"]
    assert out["match_score"].tolist() == [1.0, 0.8, 0.0, 0.0]
    assert out.loc["c", "geocode_note"] == "census: no match"
    assert out.loc["d", "geocode_note"] == "census: tie between several matches"
    assert pd.isna(out.loc["c", "latitude"])
    assert list(addresses.columns) == ["address", "zip"]  # input untouched


def test_upload_is_headerless_id_street_city_state_zip(stub, addresses):
    CensusBatchGeocoder(stub.url, backoff_s=0).geocode(addresses, "address", "zip")
    upload = stub.uploads[0]["addressFile"]
    lines = (upload.decode() if isinstance(upload, bytes) else upload).splitlines()
    assert lines[0] == "0,3201 W Fillmore St,Chicago,IL,60624"
    assert lines[2] == "2,1 Nowhere Rd,Chicago,IL,"


def test_batches_are_split_and_offsets_kept(stub):
    stub.answer = _echo_house_number
    frame = pd.DataFrame({"address": [f"{n} W Madison St" for n in (101, 202, 303, 404, 505)]})
    out = CensusBatchGeocoder(stub.url, backoff_s=0, batch_size=2).geocode(frame, "address")
    assert len(stub.uploads) == 3
    assert out["longitude"].tolist() == pytest.approx([-87.101, -87.202, -87.303, -87.404, -87.505])


def test_gives_up_after_the_last_retry(stub, addresses):
    stub.statuses = [503, 503, 503]
    with pytest.raises(SourceError, match="after 3 tries"):
        CensusBatchGeocoder(stub.url, retries=2, backoff_s=0).geocode(addresses, "address")
    assert len(stub.uploads) == 3


def test_client_error_is_not_retried(stub, addresses):
    stub.statuses = [400]
    with pytest.raises(SourceError, match="HTTP 400"):
        CensusBatchGeocoder(stub.url, backoff_s=0).geocode(addresses, "address")
    assert len(stub.uploads) == 1


def test_unanswered_rows_are_kept_as_unmatched(stub):
    stub.answer = lambda rows: ""
    frame = pd.DataFrame({"address": ["3201 W Fillmore St"]})
    out = CensusBatchGeocoder(stub.url, backoff_s=0).geocode(frame, "address")
    assert out.loc[0, "geocode_method"] == "unmatched"
    assert out.loc[0, "geocode_note"] == "census: no answer for this row"


def test_parse_batch_response_reads_all_row_shapes():
    parsed = parse_batch_response(RESPONSE.read_text())
    assert parsed["id"].tolist() == ["0", "1", "2", "3"]
    assert parsed["match_status"].tolist() == ["Match", "Match", "No_Match", "Tie"]
    assert parsed.loc[1, "match_type"] == "Non_Exact"
    assert parsed.loc[0, "tiger_line_id"] == "111222333"
    assert parsed.loc[1, "side"] == "R"
    assert parsed["longitude"].isna().tolist() == [False, False, True, True]


def test_build_batch_csv_quotes_commas():
    body = build_batch_csv(pd.Series(["1 Main St, Suite 2", None]), None, "Chicago", "IL").decode()
    assert body.splitlines() == ['0,"1 Main St, Suite 2",Chicago,IL,', "1,,Chicago,IL,"]


def test_missing_column_and_bad_batch_size_are_input_errors(addresses):
    with pytest.raises(InputError, match="column 'street'"):
        CensusBatchGeocoder("http://127.0.0.1:9/").geocode(addresses, "street")
    with pytest.raises(InputError, match="batch_size"):
        CensusBatchGeocoder(batch_size=20_000)
