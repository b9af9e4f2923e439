"""``pulse config check``: a parsed city config checked against the data directory, reading headers only.

``check_city_config(city, data_dir)`` returns one ``CheckLine`` per table that is fine (``ok``) and
one per problem, each naming the key and what to do. It checks that every file or glob a table
names exists under the data directory, that the boundary file has the id and name fields and lies
inside ``[city] bbox`` (its field list and extent only, no geometry is read), that the population table and code table have their
columns, and, for ``mapped`` sources, that every mapped column is in each file's header (the
first line only, decoded with the source's encodings, after the layout's renames). Nothing is
loaded and nothing is written.
"""
from __future__ import annotations

import csv
import difflib
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

from schemas.city_config import CityConfig, SourceConfig
from schemas.errors import PulseError
from tasks.sources.csv_reader import BOM, _open_text_head
from tasks.sources.mapped import choose_layout, mapping_from_config
from tasks.sources.mapped_config import MappedSourceConfig, resolve_files

GLOB_CHARS = "*?["


@dataclass(frozen=True)
class CheckLine:
    ok: bool
    where: str  # "[neighborhoods]", "[sources.police_boston]"
    text: str  # what is fine, or "key ...: problem. What to do."

    def __str__(self) -> str:
        return f"{'ok' if self.ok else 'problem'}  {self.where} {self.text}"


def _hint(name: str, found: list[str]) -> str:
    close = difflib.get_close_matches(name, found, n=1, cutoff=0.6)
    return f"found '{close[0]}' instead" if close else f"found {', '.join(found[:8])}{' ...' if len(found) > 8 else ''}"


def _resolve(data_dir: Path, where: str, key: str, patterns: list[str]) -> tuple[list[Path], list[CheckLine]]:
    files, problems = [], []
    for pattern in patterns:
        try:
            files.extend(resolve_files(data_dir, [pattern]))
        except PulseError as exc:
            problems.append(CheckLine(False, where, f"{key} entry {pattern!r}: {exc.problem}. {exc.action or ''}"
                                      .strip()))
    return files, problems


def csv_header(path: Path, encodings: tuple[str, ...] | list[str] = ("utf-8",)) -> list[str]:
    """Return the first line of a CSV/CSV.gz file as fields (BOM dropped, first encoding that decodes)."""
    line = _open_text_head(path).removeprefix(BOM)
    for enc in encodings:
        try:
            text = line.decode(enc)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise ValueError(f"header bytes are not {' or '.join(encodings)}")
    fields = [f.strip() for f in next(csv.reader([text.rstrip("\r\n")]), [])]
    if not any(fields):
        raise ValueError("the file is empty or has no header line")
    return fields


def _table_columns(where: str, key: str, path: Path, wanted: dict[str, str | None], action: str) -> list[CheckLine]:
    """Check that a CSV table (population, code table) has the ``wanted`` columns, reading its header only."""
    try:
        header = csv_header(path, ("utf-8", "cp1252"))
    except (PulseError, ValueError) as exc:
        problem = exc.problem if isinstance(exc, PulseError) else str(exc)
        return [CheckLine(False, where, f"{key} {path.name}: {problem}. Re-export it as a CSV with a header row")]
    return [CheckLine(False, where, f"{k} = {col!r}: column not in the header of {path.name} ({_hint(col, header)}). "
                                    f"{action}")
            for k, col in wanted.items() if col and col not in header]


def check_neighborhoods(city: CityConfig, data_dir: Path) -> list[CheckLine]:
    nb, where = city.neighborhoods, "[neighborhoods]"
    files, problems = _resolve(data_dir, where, "file", [nb.file])
    if files:
        try:
            import pyogrio

            info = pyogrio.read_info(files[0], force_total_bounds=True)
            fields = [str(f) for f in info["fields"]]
            extent = _lonlat_bounds(info, nb.crs)
        except Exception as exc:  # noqa: BLE001 - any reader failure is one line
            problems.append(CheckLine(False, where, f"file {nb.file!r}: cannot be read as a boundary file "
                                                    f"({str(exc).splitlines()[0].split(';')[0]}). Use a format geopandas reads"))
        else:
            problems += [CheckLine(False, where, f"{key} = {value!r}: no such field in {nb.file} "
                                                 f"({_hint(value, fields)}). Set {key} to one of its fields")
                         for key, value in (("id_field", nb.id_field), ("name_field", nb.name_field))
                         if value not in fields]
            count = info.get("features", 0)
            problems += _bbox_problems(city, extent)
    pop_text = "no population table (rates are NULL)"
    if nb.population_file:
        pop_files, pop_problems = _resolve(data_dir, where, "population_file", [nb.population_file])
        problems += pop_problems
        if pop_files:
            problems += _table_columns(where, "population_file", pop_files[0],
                                       {"population_id_field": nb.population_id_field,
                                        "population_field": nb.population_field},
                                       "Name a column of the population table")
            pop_text = f"population {nb.population_field} from {nb.population_file}"
    if problems:
        return problems
    return [CheckLine(True, where, f"{nb.file}: {count} areas, fields {nb.id_field}/{nb.name_field}; {pop_text}")]


def _lonlat_bounds(info: dict, default_crs: str) -> tuple[float, float, float, float]:
    from pyproj import Transformer

    to_lonlat = Transformer.from_crs(info.get("crs") or default_crs, "EPSG:4326", always_xy=True)
    return tuple(to_lonlat.transform_bounds(*info["total_bounds"]))


def _bbox_problems(city: CityConfig, extent: tuple[float, float, float, float], slack: float = 0.01) -> list[CheckLine]:
    """The boundary file's extent must lie inside [city] bbox, or every point in it would be quarantined."""
    lon0, lat0, lon1, lat1 = city.city.bbox
    x0, y0, x1, y1 = extent
    if x0 >= lon0 - slack and y0 >= lat0 - slack and x1 <= lon1 + slack and y1 <= lat1 + slack:
        return []
    shown = ", ".join(f"{v:.2f}" for v in extent)
    return [CheckLine(False, "[city]", f"bbox = {list(city.city.bbox)}: does not contain the boundary file's extent "
                                       f"[{shown}], so points there would be quarantined. Set bbox to lon_min, "
                                       "lat_min, lon_max, lat_max covering it")]


def _path_fields(cfg: SourceConfig) -> dict[str, list[str]]:
    """Return the keys of a source table that name data-dir inputs: ``files``, ``*_file``, ``code_table.file``."""
    out: dict[str, list[str]] = {}
    for name in type(cfg).model_fields:
        value = getattr(cfg, name)
        if name == "files" and value:
            out["files"] = list(value)
        elif name.endswith("_file") and isinstance(value, str):
            out[name] = [value]
    code_table = getattr(cfg, "code_table", None)
    if isinstance(code_table, str):  # a plain data-dir path (e.g. the arrests export's charge codes)
        out["code_table"] = [code_table]
    elif code_table is not None:
        out["code_table.file"] = [code_table.file]
    return out


def mapped_columns(cfg: MappedSourceConfig) -> dict[str, str]:
    """Return every source column a mapped table names: key label (e.g. ``columns.block``) -> column."""
    out: dict[str, str] = {}
    for i, col in enumerate(cfg.incident_key or ()):
        out[f"incident_key[{i + 1}]" if len(cfg.incident_key or ()) > 1 else "incident_key"] = col
    for name, value in cfg.columns:
        if isinstance(value, list):
            out.update({f"columns.{name}[{i + 1}]": v for i, v in enumerate(value)})
        elif isinstance(value, str):
            out[f"columns.{name}"] = value
        elif value is not None:  # a flag table
            out[f"columns.{name}.column"] = value.column
    for name in ("latitude", "longitude", "x", "y"):
        if getattr(cfg.coordinates, name):
            out[f"coordinates.{name}"] = getattr(cfg.coordinates, name)
    for name in ("code_column", "group_column", "description_column"):
        if getattr(cfg.offenses, name):
            out[f"offenses.{name}"] = getattr(cfg.offenses, name)
    if cfg.offense_rows and cfg.offense_rows.count_column:
        out["offense_rows.count_column"] = cfg.offense_rows.count_column
    return out


def check_mapped_headers(cfg: MappedSourceConfig, where: str, files: list[Path], city_timezone: str) -> \
        tuple[list[CheckLine], str]:
    """Check each file's header against the mapping; return the problems and a summary (layouts used)."""
    mapping = mapping_from_config(cfg, city_timezone)
    wanted = mapped_columns(cfg)
    layouts: Counter[str] = Counter()
    missing: dict[tuple[str, str], list[Path]] = defaultdict(list)
    headers: dict[tuple[str, str], list[str]] = {}  # the first header lacking the column, for a hint
    required_missing: set[tuple[str, str]] = set()
    problems: list[CheckLine] = []
    for path in files:
        try:
            header = csv_header(path, cfg.encodings)
        except PulseError as exc:
            problems.append(CheckLine(False, where, f"files: {path.name}: {exc.problem}. {exc.action}".strip()))
            continue
        except ValueError as exc:
            problems.append(CheckLine(False, where, f"files: {path.name}: {exc}. Fix the file or add its encoding "
                                                    "to `encodings`"))
            continue
        m, rename = choose_layout(mapping, header)
        if mapping.layouts and not m.layouts:
            problems.append(CheckLine(False, where, f"layouts: the header of {path.name} matches no layout's "
                                                    "when_columns. Add a [[layouts]] entry for it"))
            continue
        layouts[m.name] += 1
        names = {rename.get(h, h) for h in header}
        required = set(m.required_columns)
        for key, col in wanted.items():
            if key.startswith("incident_key") and m.derived_key:
                continue
            if col not in names:
                missing[(key, col)].append(path)
                headers.setdefault((key, col), sorted(names))
                if col in required:
                    required_missing.add((key, col))
        for col in required - names - set(wanted.values()):
            missing[("incident_key", col)].append(path)
            headers.setdefault(("incident_key", col), sorted(names))
            required_missing.add(("incident_key", col))
    notes = []
    for (key, col), where_missing in missing.items():
        shown = where_missing[0].name + (f" and {len(where_missing) - 1} more" if len(where_missing) > 1 else "")
        if (key, col) in required_missing or len(where_missing) == len(files):
            problems.append(CheckLine(False, where, f"{key} = {col!r}: column not in the header of {shown} "
                                                    f"({len(where_missing)} of {len(files)} files; "
                                                    f"{_hint(col, headers[(key, col)])}). Fix the name, or add a "
                                                    "layout whose rename maps that file's column"))
        else:  # an optional column some layouts lack: that field is empty in those files
            notes.append(f"{key} = {col!r} is in no header of {len(where_missing)} file(s), read as empty there")
    summary = f"{len(files)} file(s), every required column in each header"
    if cfg.layouts:
        summary += " (layouts: " + ", ".join(f"{name} {n}" for name, n in sorted(layouts.items())) + ")"
    if notes:
        summary += "; note: " + "; ".join(notes)
    return problems, summary


def check_source(slug: str, cfg: SourceConfig, data_dir: Path, city_timezone: str) -> list[CheckLine]:
    where = f"[sources.{slug}]"
    problems: list[CheckLine] = []
    resolved: dict[str, list[Path]] = {}
    for key, patterns in _path_fields(cfg).items():
        resolved[key], found = _resolve(data_dir, where, key, patterns)
        problems += found
    summary = ", ".join(f"{key}: {len(paths)} file(s)" for key, paths in resolved.items()) or "no input files"
    if isinstance(cfg, MappedSourceConfig):
        if resolved.get("files"):
            header_problems, summary = check_mapped_headers(cfg, where, resolved["files"], city_timezone)
            problems += header_problems
        elif cfg.api_base_url and cfg.dataset_id:
            summary = f"reads the API {cfg.api_base_url} dataset {cfg.dataset_id} (not contacted)"
    elif not getattr(cfg, "files", None) and getattr(cfg, "api_base_url", None):
        summary = f"reads the API {cfg.api_base_url} (not contacted)"
    code_table = getattr(cfg, "code_table", None)
    if code_table is not None and resolved.get("code_table.file"):
        problems += _table_columns(where, "code_table.file", resolved["code_table.file"][0],
                                   {"code_table.column": code_table.column}, "Name the code column of the table")
        summary += f"; code table {code_table.file}"
    return problems or [CheckLine(True, where, summary)]


def check_city_config(city: CityConfig, data_dir: Path) -> list[CheckLine]:
    """Return the check of every table: ``[neighborhoods]`` then each ``[sources.<slug>]``."""
    lines = check_neighborhoods(city, data_dir)
    if not city.sources:
        lines.append(CheckLine(False, "[sources]", "no [sources.<slug>] table. Add a police source "
                                                   "(see docs/configuration.md)"))
    for slug, cfg in city.sources.items():
        lines += check_source(slug, cfg, data_dir, city.city.timezone)
    return lines
