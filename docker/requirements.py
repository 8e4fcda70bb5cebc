"""Print the project's requirements from pyproject.toml, one per line, for pip.

    python requirements.py [EXTRA ...] [--only PACKAGE ...]

The core dependencies, plus those of each named extra (self-references such as ``smmu[local]`` are
expanded); with ``--only``, of the extras' requirements only the named packages (an image needs one Whisper
backend, not the extra's every package). The image builds use it, so pyproject.toml stays the one place where
dependencies and their versions are declared. Standard library only: it runs in a bare ``python`` image before
anything is installed. The versions come from requirements.lock: pip-install.sh applies it as constraints.
"""

import argparse
import re
import sys
import tomllib
from pathlib import Path


def requirements(pyproject: dict, extras: list[str]) -> list[str]:
    project = pyproject["project"]
    name = project["name"]
    optional = project.get("optional-dependencies", {})
    wanted: list[str] = list(project.get("dependencies", []))
    seen: set[str] = set()
    pending = list(extras)
    while pending:
        extra = pending.pop(0)
        if extra in seen:
            continue
        if extra not in optional:
            raise SystemExit(f"pyproject.toml has no extra {extra!r}")
        seen.add(extra)
        for requirement in optional[extra]:
            own = re.fullmatch(rf"{re.escape(name)}\s*\[([^\]]+)\]", requirement.strip())
            if own:
                pending.extend(part.strip() for part in own.group(1).split(","))
            else:
                wanted.append(requirement)
    return list(dict.fromkeys(wanted))


def name_of(requirement: str) -> str:
    """The normalised distribution name of a requirement (PEP 503): ``Faster_Whisper>=1`` -> ``faster-whisper``."""
    match = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", requirement.strip())
    if not match:
        raise SystemExit(f"cannot read a package name in {requirement!r}")
    return re.sub(r"[-_.]+", "-", match.group(0)).lower()


def select(pyproject: dict, extras: list[str], only: list[str] | None) -> list[str]:
    """The core requirements plus the extras' requirements, or only those of the extras named in ``only``."""
    core = requirements(pyproject, [])
    if only is None:
        return requirements(pyproject, extras)
    wanted = {name_of(name) for name in only}
    chosen = [r for r in requirements(pyproject, extras)[len(core) :] if name_of(r) in wanted]
    missing = wanted - {name_of(r) for r in chosen}
    if missing:
        raise SystemExit(f"not in the extras {extras} of pyproject.toml: {', '.join(sorted(missing))}")
    return list(dict.fromkeys(core + chosen))


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("extras", nargs="*", help="extras of pyproject.toml whose requirements to add")
    parser.add_argument("--only", nargs="+", metavar="PACKAGE", help="of the extras, only these packages")
    parser.add_argument("--pyproject", type=Path, default=None)
    args = parser.parse_args(argv)
    here = Path(__file__).resolve().parent
    path = args.pyproject or next(p for p in (here / "pyproject.toml", here.parent / "pyproject.toml") if p.exists())
    for line in select(tomllib.loads(path.read_text()), args.extras, args.only):
        print(line)


if __name__ == "__main__":
    main(sys.argv[1:])
