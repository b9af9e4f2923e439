"""Local copies of the CSS/JS that GX Data Docs load from CDNs, so the docs work offline.

GX 1.24's page templates load jQuery, Bootstrap, bootstrap-table, Font Awesome, vega and a few
more from CDNs; opened offline, the index's list of validation runs (drawn by bootstrap-table) is
empty and every page is unstyled. The same files are published as npm packages (the CDNs serve
them from npm), so the install step fetches each package at the pinned version with the npm
client (``npm pack``: the package tarball only, no dependencies) and keeps the files the pages
use; ``localize_site`` then copies them into the site's ``static/vendor/`` and points every page
at them.

Install (part of the project's setup)::

    python -m tasks.ingest.docs_assets install [DEST]     # default: <venv>/share/community-pulse/docs-assets
"""
from __future__ import annotations

import logging
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

DEFAULT_ASSETS_DIR = Path(sys.prefix) / "share" / "community-pulse" / "docs-assets"
VENDOR = Path("static") / "vendor"


@dataclass(frozen=True)
class Asset:
    url: str  # exactly as GX 1.24's templates (render/view/templates/*.j2) write it
    package: str  # npm package@version the CDN serves it from
    path: str  # file inside the package

    @property
    def local(self) -> Path:
        return Path(self.package.replace("/", "__")) / self.path


ASSETS = (
    Asset("https://cdn.jsdelivr.net/npm/vega@5", "vega@5.33.1", "build/vega.min.js"),
    Asset("https://cdn.jsdelivr.net/npm/vega-lite@5", "vega-lite@5.23.0", "build/vega-lite.min.js"),
    Asset("https://cdn.jsdelivr.net/npm/vega-embed@6", "vega-embed@6.29.0", "build/vega-embed.min.js"),
    Asset("https://cdnjs.cloudflare.com/ajax/libs/font-awesome/6.6.0/css/all.min.css",
          "@fortawesome/fontawesome-free@6.6.0", "css/all.min.css"),
    Asset("https://code.jquery.com/jquery-3.7.1.min.js", "jquery@3.7.1", "dist/jquery.min.js"),
    Asset("https://cdnjs.cloudflare.com/ajax/libs/popper.js/1.12.9/umd/popper.min.js", "popper.js@1.12.9",
          "dist/umd/popper.min.js"),
    Asset("https://stackpath.bootstrapcdn.com/bootstrap/4.3.1/js/bootstrap.min.js", "bootstrap@4.3.1",
          "dist/js/bootstrap.min.js"),
    Asset("https://maxcdn.bootstrapcdn.com/bootstrap/4.3.1/css/bootstrap.min.css", "bootstrap@4.3.1",
          "dist/css/bootstrap.min.css"),
    Asset("https://unpkg.com/bootstrap-table@1.19.1/dist/bootstrap-table.min.js", "bootstrap-table@1.19.1",
          "dist/bootstrap-table.min.js"),
    Asset("https://unpkg.com/bootstrap-table@1.19.1/dist/bootstrap-table.min.css", "bootstrap-table@1.19.1",
          "dist/bootstrap-table.min.css"),
    Asset("https://unpkg.com/bootstrap-table@1.19.1/dist/extensions/filter-control/bootstrap-table-filter-control.min.js",
          "bootstrap-table@1.19.1", "dist/extensions/filter-control/bootstrap-table-filter-control.min.js"),
    # NOTE: GX's templates load the filter-control CSS from 1.19.0 and its JS from 1.19.1; one
    # version (1.19.1) serves both here.
    Asset("https://unpkg.com/bootstrap-table@1.19.0/dist/extensions/filter-control/bootstrap-table-filter-control.min.css",
          "bootstrap-table@1.19.1", "dist/extensions/filter-control/bootstrap-table-filter-control.min.css"),
    Asset("https://unpkg.com/bootstrap-table@1.19.0/dist/extensions/filter-control/bootstrap-table-filter-control.css",
          "bootstrap-table@1.19.1", "dist/extensions/filter-control/bootstrap-table-filter-control.css"),
    Asset("https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0/js/bootstrap-datepicker.min.js",
          "bootstrap-datepicker@1.9.0", "dist/js/bootstrap-datepicker.min.js"),
    Asset("https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0/css/bootstrap-datepicker.min.css",
          "bootstrap-datepicker@1.9.0", "dist/css/bootstrap-datepicker.min.css"),
    Asset("https://cdn.jsdelivr.net/npm/@forevolve/bootstrap-dark@1.1.0/dist/css/bootstrap-prefers-dark.css",
          "@forevolve/bootstrap-dark@1.1.0", "dist/css/bootstrap-prefers-dark.css"),
)
# Folders a stylesheet reads relative to itself (Font Awesome's url(../webfonts/...)).
EXTRA_DIRS = {"@fortawesome/fontawesome-free@6.6.0": ("webfonts",)}
# GX's logos come from an S3 bucket (navbar, and a dark-mode background in the index's inline
# CSS); the site's own static/images (written by GX) has the logo.
_LOGO = re.compile(r"https://great-expectations-web-assets\.s3\.[^\"')]*?/[a-z_-]*logo[a-z_-]*\.png[^\"')]*")
# SRI and CORS attributes: Chromium refuses crossorigin requests for file:// pages.
_SRI = re.compile(r'\s+(integrity="[^"]*"|crossorigin="[^"]*")')


def installed(assets_dir: Path = DEFAULT_ASSETS_DIR) -> bool:
    """Return True when every asset file is present in ``assets_dir``."""
    return all((Path(assets_dir) / a.local).is_file() for a in ASSETS)


def install_assets(dest: Path = DEFAULT_ASSETS_DIR, npm: str = "npm") -> list[str]:
    """Fetch every package with ``npm pack`` and keep the files the pages use; return the packages fetched."""
    dest = Path(dest)
    packages = sorted({a.package for a in ASSETS})
    with tempfile.TemporaryDirectory() as tmp:
        for package in packages:
            out = subprocess.run([npm, "pack", package, "--silent", "--pack-destination", tmp],
                                 capture_output=True, text=True, check=True, timeout=300)
            tarball = Path(tmp) / out.stdout.strip().splitlines()[-1]
            wanted = [a.path for a in ASSETS if a.package == package] + list(EXTRA_DIRS.get(package, ()))
            _extract(tarball, wanted, dest / package.replace("/", "__"))
    return packages


def _extract(tarball: Path, wanted: list[str], target: Path) -> None:
    with tarfile.open(tarball) as tar:
        for member in tar.getmembers():
            inner = member.name.split("/", 1)[1] if "/" in member.name else ""
            if member.isfile() and any(inner == w or inner.startswith(w.rstrip("/") + "/") for w in wanted):
                out = target / inner
                out.parent.mkdir(parents=True, exist_ok=True)
                with tar.extractfile(member) as src:
                    out.write_bytes(src.read())


def _copy_vendor(site: Path, assets_dir: Path) -> None:
    vendor = site / VENDOR
    for package in {a.package for a in ASSETS}:
        src, dst = Path(assets_dir) / package.replace("/", "__"), vendor / package.replace("/", "__")
        if not dst.exists():
            shutil.copytree(src, dst)


def localize_page(html: str, prefix: str) -> str:
    """Return a page with every CDN asset pointed at ``prefix`` + static/vendor/... (``prefix`` ends in / or is '')."""
    out = html
    for asset in ASSETS:
        local = f"{prefix}{(VENDOR / asset.local).as_posix()}"
        out = re.sub(rf'(<(?:script|link)\b[^>]*?(?:src|href)=")({re.escape(asset.url)})("[^>]*>)',
                     lambda m: _SRI.sub("", m.group(1)) + local + _SRI.sub("", m.group(3)), out)
    return _LOGO.sub(f"{prefix}static/images/logo-long.png", out)


def localize_site(site: Path, assets_dir: Path = DEFAULT_ASSETS_DIR) -> int:
    """Serve the site's CDN assets from ``site/static/vendor``; return the pages rewritten (0 when not installed)."""
    site = Path(site)
    if not installed(assets_dir):
        log.warning("data docs in %s load their styles and scripts from CDNs (offline the index is empty): "
                    "run `python -m tasks.ingest.docs_assets install`", site)
        return 0
    _copy_vendor(site, assets_dir)
    changed = 0
    for page in site.rglob("*.html"):
        if VENDOR.parts[0] == page.relative_to(site).parts[0]:
            continue
        html = page.read_text(encoding="utf-8")
        if "https://" not in html:
            continue
        depth = len(page.relative_to(site).parts) - 1
        new = localize_page(html, "../" * depth)
        if new != html:
            page.write_text(new, encoding="utf-8")
            changed += 1
    return changed


def main(argv: list[str]) -> int:  # pragma: no cover - install tool
    if not argv or argv[0] != "install":
        print("usage: python -m tasks.ingest.docs_assets install [DEST]", file=sys.stderr)
        return 2
    dest = Path(argv[1]) if len(argv) > 1 else DEFAULT_ASSETS_DIR
    packages = install_assets(dest)
    print(f"GX Data Docs assets: {len(packages)} npm packages in {dest}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main(sys.argv[1:]))
