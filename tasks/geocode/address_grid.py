"""Chicago's address grid fitted to the street intersection table: where a house number lies.

Chicago numbers addresses on a grid, 800 numbers per mile from State St (0 E/W) and Madison
St (0 N/S); 3200 W is four miles west of State. The grid is not exact in projected space
(it is rotated about half a degree from Illinois East state-plane north, and south of
Madison the first mile holds 1200 numbers), so each intersection's grid numbers are
calibrated on the streets whose number is known: the numbered streets (``W 63RD ST`` is
6300 S) and the section-line arterials listed in ``CHICAGO_GRID``. A house is then placed
by interpolating between the known intersections of its own street at its grid number,
which follows the street's real course (diagonals such as Lincoln Ave included).
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Mapping, NamedTuple

import numpy as np
import pandas as pd
from scipy.interpolate import LinearNDInterpolator, NearestNDInterpolator
from scipy.spatial import cKDTree

from tasks.geocode.address_parser import SUFFIXES, street_key
from schemas.errors import InputError

# Spellings people use for streets whose official name differs (name without direction/suffix).
NAME_ALIASES = {
    "MLK": "DR MARTIN LUTHER KING JR", "MARTIN LUTHER KING": "DR MARTIN LUTHER KING JR",
    "MARTIN LUTHER KING JR": "DR MARTIN LUTHER KING JR", "KING": "DR MARTIN LUTHER KING JR",
    "LAKESHORE": "LAKE SHORE", "CRAWFORD": "PULASKI",
}
_LONG_DIRECTIONS = {"N": "NORTH", "S": "SOUTH", "E": "EAST", "W": "WEST"}


@dataclass(frozen=True)
class AddressGrid:
    """An address grid: baselines, numbers per mile and streets whose grid number is known.

    Anchors map ``name suffix`` (no direction) to the signed grid number (east/north
    positive). Only streets running across the axis count: x anchors need N/S, y anchors E/W.
    Anchor points that disagree with their neighbours by more than ``max_anchor_deviation``
    numbers (diagonal stretches such as Clark St north of North Ave) are ignored.
    """

    origin: tuple[str, str] = ("STATE ST", "MADISON ST")
    numbers_per_mile: float = 800.0
    crs: str = "EPSG:3435"
    crs_feet_per_unit: float = 1.0
    x_anchors: Mapping[str, float] = field(default_factory=dict)
    y_anchors: Mapping[str, float] = field(default_factory=dict)
    numbered_streets_south: bool = True
    max_anchor_deviation: float = 75.0
    even_side: str = "north_west"  # where even house numbers are: "north_west" or "south_east"
    setback: float = 50.0  # CRS units (feet) from the centreline to a house

    @property
    def feet_per_number(self) -> float:
        return 5280.0 / self.numbers_per_mile / self.crs_feet_per_unit


_W = {"HALSTED ST": 800, "RACINE AVE": 1200, "LOOMIS ST": 1400, "ASHLAND AVE": 1600, "WOOD ST": 1800,
      "DAMEN AVE": 2000, "WESTERN AVE": 2400, "ROCKWELL ST": 2600, "CALIFORNIA AVE": 2800,
      "SACRAMENTO AVE": 3000, "KEDZIE AVE": 3200, "HOMAN AVE": 3400, "CENTRAL PARK AVE": 3600,
      "HAMLIN AVE": 3800, "PULASKI RD": 4000, "KEELER AVE": 4200, "KOSTNER AVE": 4400,
      "CICERO AVE": 4800, "LAVERGNE AVE": 5000, "LARAMIE AVE": 5200, "CENTRAL AVE": 5600,
      "AUSTIN AVE": 6000, "NARRAGANSETT AVE": 6400, "OAK PARK AVE": 6800, "HARLEM AVE": 7200,
      "CUMBERLAND AVE": 8400, "DEARBORN ST": 36, "WELLS ST": 200, "CANAL ST": 500,
      "MORGAN ST": 1000, "WENTWORTH AVE": 200, "PRINCETON AVE": 300, "WALLACE ST": 600,
      "UNION AVE": 700}
_E = {"STATE ST": 0, "MICHIGAN AVE": 100, "INDIANA AVE": 200, "DR MARTIN LUTHER KING JR DR": 400,
      "COTTAGE GROVE AVE": 800, "WOODLAWN AVE": 1200, "STONY ISLAND AVE": 1600,
      "JEFFERY BLVD": 2000, "YATES BLVD": 2400, "COMMERCIAL AVE": 3000}
_N = {"MADISON ST": 0, "WASHINGTON BLVD": 100, "LAKE ST": 200, "KINZIE ST": 400, "OHIO ST": 600,
      "CHICAGO AVE": 800, "AUGUSTA BLVD": 1000, "DIVISION ST": 1200, "NORTH AVE": 1600,
      "ARMITAGE AVE": 2000, "FULLERTON AVE": 2400, "DIVERSEY PKWY": 2800, "DIVERSEY AVE": 2800,
      "WELLINGTON AVE": 3000, "BELMONT AVE": 3200, "ADDISON ST": 3600, "IRVING PARK RD": 4000,
      "MONTROSE AVE": 4400, "WILSON AVE": 4600, "LAWRENCE AVE": 4800, "FOSTER AVE": 5200,
      "BRYN MAWR AVE": 5600, "PETERSON AVE": 6000, "DEVON AVE": 6400, "PRATT BLVD": 6800,
      "TOUHY AVE": 7200, "HOWARD ST": 7600}
_S = {"MONROE ST": 100, "ADAMS ST": 200, "JACKSON BLVD": 300, "VAN BUREN ST": 400,
      "CONGRESS PKWY": 500, "HARRISON ST": 600, "POLK ST": 800, "TAYLOR ST": 1000,
      "ROOSEVELT RD": 1200, "CERMAK RD": 2200, "PERSHING RD": 3900, "GARFIELD BLVD": 5500}
# NOTE: grid numbers from the City's street guide. Checked against the intersection table: the
# median disagreement of each anchor's points with the anchors of other streets around them is
# under 5 numbers for most, and at most ~65 downtown and in the near south side (Wells, Madison,
# Harrison, Taylor), where blocks are shorter than 100 numbers per 1/8 mile.
CHICAGO_GRID = AddressGrid(
    x_anchors={**{k: -v for k, v in _W.items()}, **_E},
    y_anchors={**_N, **{k: -v for k, v in _S.items()}},
)


def _split_reference_name(full: str, suffixes: frozenset[str]) -> tuple[str | None, str, str | None]:
    words = full.split()
    predir = words.pop(0) if len(words) > 1 and words[0] in ("N", "S", "E", "W") else None
    suffix = words.pop() if len(words) > 1 and words[-1] in suffixes else None
    return predir, " ".join(words), suffix


def reference_streets(intersections: pd.DataFrame, street_names: pd.DataFrame) -> pd.DataFrame:
    """Return one row per street key of the intersection table with its parts and number range."""
    names = street_names.rename(columns=lambda c: str(c).strip())
    names = names.assign(key=names["Full Street Name"].astype(str).str.strip())
    ranges = names.groupby("key").agg(min_number=("Min Address", "min"), max_number=("Max Address", "max"))
    parts = names.drop_duplicates("key").set_index("key")
    counts = pd.concat([intersections["street_1"], intersections["street_2"]]).value_counts()
    suffixes = frozenset(SUFFIXES.values())
    rows = []
    for key, n_points in counts.items():
        if key in parts.index:
            p = parts.loc[key]
            cols = ("Direction", "Street", "Suffix", "Suffix Direction")
            parsed = tuple((str(p[c]).strip() if p[c] == p[c] else "") or None for c in cols)
        else:
            parsed = (*_split_reference_name(key, suffixes), None)
        rows.append((key, *parsed, int(n_points)))
    out = pd.DataFrame(rows, columns=["key", "predir", "name", "suffix", "postdir", "n_points"])
    out["compact"] = out["name"].str.replace(" ", "", regex=False)
    return out.set_index("key").join(ranges)


class Street(NamedTuple):
    """One reference street: its axis, number sign and intersections sorted by grid number."""

    axis: str  # "x" for E-W streets (numbers count east/west), "y" for N-S streets
    sign: int  # +1 for N/E numbering, -1 for S/W
    along: np.ndarray  # calibrated grid number of each intersection along the street
    x: np.ndarray  # projected coordinates of those intersections
    y: np.ndarray
    cross: float  # the street's own grid number across its axis (median)


class StreetGrid:
    """Street index over the intersection table: name resolution, intersections, grid positions."""

    def __init__(self, intersections: pd.DataFrame, street_names: pd.DataFrame,
                 x: np.ndarray, y: np.ndarray, grid: AddressGrid = None) -> None:
        """``x``/``y`` are the intersections' coordinates in ``grid.crs`` (same row order)."""
        self.grid = grid or CHICAGO_GRID
        self.streets = reference_streets(intersections, street_names)
        self._parts = {k: {c: (None if isinstance(v, float) and v != v and c in ("predir", "suffix", "postdir") else v)
                           for c, v in row.items()} for k, row in self.streets.to_dict("index").items()}
        self._by_compact: dict[str, list[str]] = {}
        # Index "LINCOLN PARK" under LINCOLN (name + suffix PARK) and LINCOLNPARK (the whole name).
        for key, p in self._parts.items():
            for compact in {p["compact"], p["compact"] + (p["suffix"] or "")}:
                self._by_compact.setdefault(compact, []).append(key)
        self.pairs = {frozenset((a, b)): (px, py) for a, b, px, py in
                      zip(intersections["street_1"], intersections["street_2"], x, y)}
        gx, gy = self._calibrate(intersections, x, y)
        self.geometry = self._street_geometry(intersections, x, y, gx, gy)

    def candidates(self, predir: str | None, name: str, suffix: str | None,
                   postdir: str | None = None) -> list[tuple[float, str]]:
        """Return (score 0..1, street key) of reference streets a parsed street may mean, best first."""
        variants = [(name.replace(" ", ""), 0.0)]
        alias = NAME_ALIASES.get(name)
        if alias:
            variants.append((alias.replace(" ", ""), 0.05))
        words = name.split()
        if "LOWER" in words:  # Lower Wacker Dr lies under Wacker Dr: same place on a map
            variants.append(("".join(w for w in words if w != "LOWER"), 0.05))
        if predir in _LONG_DIRECTIONS:  # "South Chicago Ave" is S SOUTH CHICAGO AVE, not S CHICAGO AVE
            variants.append((_LONG_DIRECTIONS[predir] + name.replace(" ", ""), 0.05))
        out = []
        for variant, penalty in variants:
            for key in self._by_compact.get(variant, ()):
                p = self._parts[key]
                if predir and p["predir"] != predir:
                    continue
                pen = penalty + (0.0 if predir else 0.05)
                pen += 0.0 if suffix == p["suffix"] else (0.05 if suffix is None else 0.1)
                pen += 0.0 if postdir == p["postdir"] else 0.1
                out.append((round(1.0 - pen, 3), key))
        return sorted(out, key=lambda t: (-t[0], -self._parts[t[1]]["n_points"], t[1]))

    def in_range(self, key: str, number: int) -> bool:
        """Return False only when the street table gives a number range that excludes ``number``."""
        p = self._parts[key]
        lo, hi = p["min_number"], p["max_number"]
        return not (lo == lo and hi == hi) or lo <= number <= hi

    def locate(self, key: str, number: float, side: bool = False) -> tuple[float, float, float]:
        """Return (x, y, numbers beyond the street's last known intersection) for a house number.

        With ``side`` the point is moved ``grid.setback`` off the centreline to the side of the
        street the number's parity puts it on (in Chicago even numbers are on the north and west
        sides), which matters for streets that are community area boundaries.
        """
        s = self.geometry[key]
        target = s.sign * number
        a = s.along
        f = self.grid.feet_per_number
        if len(a) > 1 and a[0] <= target <= a[-1]:
            i = min(max(int(np.searchsorted(a, target)), 1), len(a) - 1)
            x, y, beyond = float(np.interp(target, a, s.x)), float(np.interp(target, a, s.y)), 0.0
            dx, dy = s.x[i] - s.x[i - 1], s.y[i] - s.y[i - 1]
        else:
            end = 0 if target < a[0] else len(a) - 1
            step = target - a[end]
            # Extend along the end segment when it is long enough to give a direction, else along the axis.
            far = np.flatnonzero(np.abs(a - a[end]) >= 50)
            if far.size:
                j = far[0] if end == 0 else far[-1]
                dx, dy = (s.x[j] - s.x[end]) / (a[j] - a[end]), (s.y[j] - s.y[end]) / (a[j] - a[end])
            else:
                dx, dy = (f, 0.0) if s.axis == "x" else (0.0, f)
            x, y, beyond = float(s.x[end] + step * dx), float(s.y[end] + step * dy), float(abs(step))
        length = float(np.hypot(dx, dy))
        if side and length > 0 and self.grid.setback:
            nx, ny = -dy / length, dx / length  # a normal; turn it to the even side
            if (s.axis == "x" and ny < 0) or (s.axis == "y" and nx > 0):
                nx, ny = -nx, -ny
            if self.grid.even_side == "south_east":
                nx, ny = -nx, -ny
            d = self.grid.setback if int(number) % 2 == 0 else -self.grid.setback
            x, y = x + d * nx, y + d * ny
        return x, y, beyond

    def crossing(self, first: str, second: str) -> tuple[float, float] | None:
        """Return where two perpendicular streets cross on the grid, or None if they never meet."""
        a, b = self.geometry[first], self.geometry[second]
        if a.axis == b.axis:
            return None
        slack = 100.0
        if not (a.along[0] - slack <= b.cross <= a.along[-1] + slack
                and b.along[0] - slack <= a.cross <= b.along[-1] + slack):
            return None
        x, y, _ = self.locate(first, a.sign * b.cross)
        return x, y

    def _anchor(self, key: str) -> tuple[str, float] | None:
        p = self._parts[key]
        if p["postdir"]:
            return None  # ramps, service drives, "DR E": not the grid line itself
        bare = street_key(None, p["name"], p["suffix"])
        if p["predir"] in ("N", "S") and bare in self.grid.x_anchors:
            return "x", float(self.grid.x_anchors[bare])
        if p["predir"] in ("E", "W"):
            if bare in self.grid.y_anchors:
                return "y", float(self.grid.y_anchors[bare])
            digits, ending = p["name"][:-2], p["name"][-2:]
            is_numbered = digits.isdigit() and ending in ("ST", "ND", "RD", "TH") and p["suffix"] == "ST"
            if self.grid.numbered_streets_south and is_numbered:
                return "y", -100.0 * int(digits)
        return None

    def _calibrate(self, inter: pd.DataFrame, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Return calibrated grid numbers (gx, gy) of every intersection (east/north positive)."""
        anchors = {k: a for k in self.streets.index if (a := self._anchor(k))}
        bare = {k: street_key(None, p["name"], p["suffix"]) for k, p in self._parts.items()}
        b1, b2 = inter["street_1"].map(bare), inter["street_2"].map(bare)
        a, b = self.grid.origin
        is_origin = ((b1 == a) & (b2 == b) | (b1 == b) & (b2 == a)).to_numpy()
        if not is_origin.any():
            raise InputError("intersections reference", f"no intersection of the grid origin {self.grid.origin}",
                             "Pass the full intersection table")
        f = self.grid.feet_per_number
        raw = {"x": (x - x[is_origin].mean()) / f, "y": (y - y[is_origin].mean()) / f}
        streets = pd.concat([inter["street_1"], inter["street_2"]], ignore_index=True)
        rows_all = np.tile(np.arange(len(inter)), 2)
        street_ids = streets.map(bare).factorize()[0]
        calibrated = {}
        for axis in ("x", "y"):
            value = streets.map({k: v for k, (ax, v) in anchors.items() if ax == axis}).to_numpy(float)
            on = ~np.isnan(value)
            rows, values, ids = rows_all[on], value[on], street_ids[on]
            if len(rows) < 3:  # too few known streets to fit a correction: the plain grid
                calibrated[axis] = raw[axis]
                continue
            residual = values - raw[axis][rows]
            pts = np.column_stack([x[rows], y[rows]])
            # Compare each anchor point with the anchor points of other streets around it.
            _, idx = cKDTree(pts).query(pts, k=min(40, len(pts)))
            others = np.where(ids[idx] != ids[:, None], residual[idx], np.nan)
            with np.errstate(all="ignore"), warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                local = np.nanmedian(others, axis=1)
            keep = np.isnan(local) | (np.abs(residual - local) <= self.grid.max_anchor_deviation)
            linear = LinearNDInterpolator(pts[keep], residual[keep])
            nearest = NearestNDInterpolator(pts[keep], residual[keep])
            field_at = linear(x, y)
            field_at = np.where(np.isnan(field_at), nearest(x, y), field_at)
            out = raw[axis] + field_at
            out[rows[keep]] = values[keep]
            calibrated[axis] = out
        return calibrated["x"], calibrated["y"]

    def _street_geometry(self, inter, x, y, gx, gy) -> dict[str, Street]:
        long = pd.DataFrame({
            "street": pd.concat([inter["street_1"], inter["street_2"]], ignore_index=True),
            "x": np.tile(x, 2), "y": np.tile(y, 2), "gx": np.tile(gx, 2), "gy": np.tile(gy, 2),
        })
        predir = long["street"].map({k: p["predir"] for k, p in self._parts.items()})
        bounds = long.groupby("street")[["x", "y"]].agg(["min", "max"])
        span = pd.DataFrame({c: bounds[(c, "max")] - bounds[(c, "min")] for c in ("x", "y")})
        tall = long["street"].map(span["y"] > span["x"])  # no direction given: the longer extent
        on_y = predir.isin(["N", "S"]) | (~predir.isin(["E", "W"]) & tall)
        long["along"] = np.where(on_y, long["gy"], long["gx"])
        long["cross"] = np.where(on_y, long["gx"], long["gy"])
        long["key"] = long["along"].round(1)
        per_street = long.groupby("street").agg(cross=("cross", "median"), along=("along", "median"))
        pts = long.groupby(["street", "key"], sort=True)[["x", "y"]].mean()
        keys = pts.index.get_level_values(0).to_numpy(object)
        along, px, py = pts.index.get_level_values(1).to_numpy(float), pts["x"].to_numpy(), pts["y"].to_numpy()
        starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
        geometry = {}
        for start, stop in zip(starts, np.r_[starts[1:], len(keys)]):
            key = keys[start]
            d = self._parts[key]["predir"]
            sign = {"N": 1, "E": 1, "S": -1, "W": -1}.get(d, 1 if per_street.at[key, "along"] >= 0 else -1)
            axis = "y" if d in ("N", "S") or (d not in ("E", "W") and span.at[key, "y"] > span.at[key, "x"]) else "x"
            geometry[key] = Street(axis, sign, along[start:stop], px[start:stop], py[start:stop],
                                   float(per_street.at[key, "cross"]))
        return geometry
