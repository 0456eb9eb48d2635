"""What the function ships: the unzipped size of its runtime dependencies, per distribution.

`make bench` measures the distributions `requirements.txt` pulls in (with their own dependencies) as
they are installed in this virtual environment, from each one's installed-files record, without
compiled `__pycache__` files (a SAM build does not ship them; Lambda compiles on import). That is
fast and needs no network; the wheels are this machine's (x86_64), which for the pure-Python bulk
(botocore's service models, phonenumbers' metadata) is byte for byte what Lambda gets.

    .venv/bin/python -m bench.package_size                    # installed footprint, as `make bench`
    .venv/bin/python -m bench.package_size --lambda-platform  # pip install --target for arm64 Lambda
    .venv/bin/python -m bench.package_size --lambda-platform --requirements OTHER.txt

`--lambda-platform` installs the requirements into a temporary folder the way a build for Lambda's
arm64 Python 3.13 does (`pip install --target DIR --platform manylinux2014_aarch64 --only-binary=:all:
--python-version 3.13`; needs the package index) and measures that folder, zipped size included.
"""

import argparse
import os
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from bench import ROOT

REQUIREMENTS = ROOT / "requirements.txt"
MB = 1_000_000


@dataclass(frozen=True, slots=True)
class Package:
    name: str
    version: str
    bytes: int
    files: int


def _requirement_lines(path: Path) -> list[Requirement]:
    requirements = []
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line or line.startswith("-"):
            continue
        requirements.append(Requirement(line))
    return requirements


def _closure(roots: Iterable[Requirement], distributions: dict[str, metadata.Distribution]) -> list[str]:
    """Canonical names of the distributions `roots` need, their extras and markers evaluated."""
    needed: list[str] = []
    pending = [(root, frozenset(root.extras)) for root in roots]
    seen: set[tuple[str, frozenset[str]]] = set()
    while pending:
        requirement, extras = pending.pop()
        name = canonicalize_name(requirement.name)
        if (name, extras) in seen:
            continue
        seen.add((name, extras))
        if name not in distributions:
            raise LookupError(f"{requirement.name} is required but not installed")
        if name not in needed:
            needed.append(name)
        for text in distributions[name].requires or ():
            child = Requirement(text)
            if child.marker is not None and not any(
                child.marker.evaluate({"extra": extra}) for extra in (extras or {""})
            ):
                continue
            pending.append((child, frozenset(child.extras)))
    return needed


def _size(distribution: metadata.Distribution) -> tuple[int, int]:
    total = count = 0
    for file in distribution.files or ():
        if "__pycache__" in file.parts or file.suffix == ".pyc":
            continue
        path = Path(str(distribution.locate_file(file)))
        if path.is_file():
            total += path.stat().st_size
            count += 1
    return total, count


def measure(distributions: dict[str, metadata.Distribution], names: Iterable[str]) -> list[Package]:
    """Unzipped bytes and file count of each named distribution, largest first."""
    packages = []
    for name in names:
        distribution = distributions[name]
        size, count = _size(distribution)
        packages.append(Package(distribution.metadata["Name"], distribution.version, size, count))
    return sorted(packages, key=lambda package: -package.bytes)


def _by_name(paths: Sequence[str] | None = None) -> dict[str, metadata.Distribution]:
    found = metadata.distributions(path=list(paths)) if paths is not None else metadata.distributions()
    result: dict[str, metadata.Distribution] = {}
    for distribution in found:
        result.setdefault(canonicalize_name(distribution.metadata["Name"]), distribution)
    return result


def installed_footprint(requirements: Path = REQUIREMENTS) -> list[Package]:
    """The runtime closure of `requirements` as installed in this interpreter's environment."""
    distributions = _by_name()
    return measure(distributions, _closure(_requirement_lines(requirements), distributions))


def lambda_build(requirements: Path = REQUIREMENTS) -> tuple[list[Package], int]:
    """Install `requirements` for Lambda arm64 / Python 3.13 into a temporary folder; sizes and zip size."""
    with tempfile.TemporaryDirectory(prefix="tiktok-package-") as folder:
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "install",
                "--quiet",
                "--no-compile",
                "--target",
                folder,
                "--platform",
                "manylinux2014_aarch64",
                "--implementation",
                "cp",
                "--python-version",
                "3.13",
                "--only-binary=:all:",
                "-r",
                str(requirements),
            ],
            check=True,
        )
        distributions = _by_name([folder])
        packages = measure(distributions, distributions)
        archive = Path(folder).with_suffix(".zip")
        try:
            with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as bundle:
                for root, _, files in os.walk(folder):
                    for file in files:
                        path = Path(root) / file
                        if "__pycache__" not in path.parts:
                            bundle.write(path, path.relative_to(folder))
            zipped = archive.stat().st_size
        finally:
            archive.unlink(missing_ok=True)
    return packages, zipped


def summary(packages: Sequence[Package], top: int = 6) -> str:
    """`65.2 MB: botocore 31.0, ...` (unzipped, MB = 10^6 bytes)."""
    total = sum(package.bytes for package in packages)
    parts = [f"{package.name} {package.bytes / MB:.1f}" for package in packages[:top]]
    rest = sum(package.bytes for package in packages[top:])
    if rest:
        parts.append(f"{len(packages) - top} others {rest / MB:.1f}")
    return f"{total / MB:.1f} MB ({', '.join(parts)})"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.package_size", description=__doc__.splitlines()[0])
    parser.add_argument("--requirements", type=Path, default=REQUIREMENTS)
    parser.add_argument("--lambda-platform", action="store_true", help="pip install --target for arm64")
    args = parser.parse_args(argv)
    if args.lambda_platform:
        packages, zipped = lambda_build(args.requirements)
    else:
        packages, zipped = installed_footprint(args.requirements), 0
    for package in packages:
        print(f"  {package.bytes / MB:7.2f} MB  {package.files:5d} files  {package.name} {package.version}")
    print(f"total unzipped: {sum(p.bytes for p in packages) / MB:.1f} MB in {len(packages)} distributions")
    if zipped:
        print(f"zipped (deflate): {zipped / MB:.1f} MB")
    print(summary(packages))
    return 0


if __name__ == "__main__":
    sys.exit(main())
