"""Checks Lambda function packages for Amazon Linux 2023 (provided.al2023): each `bootstrap`
is an ELF executable of the expected machine whose symbols need no glibc newer than 2.34, and
each zip is at most 8 MB. Prints a table of sizes.

    python scripts/check_packages.py build/package      # <name>/bootstrap.zip
    python scripts/check_packages.py build/lambda       # <name>/bootstrap (unzipped)
"""

import re
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

MAX_GLIBC = (2, 34)
MAX_ZIP_BYTES = 8 * 1024 * 1024
MACHINES = {b"\x3e\x00": "x86-64", b"\xb7\x00": "aarch64"}


def glibc_versions(binary: Path) -> list[tuple[int, ...]]:
    """The glibc versions the binary's dynamic symbols ask for."""
    symbols = subprocess.run(["objdump", "-T", str(binary)], capture_output=True, text=True, check=True).stdout
    return sorted({tuple(int(p) for p in v.split(".")) for v in re.findall(r"GLIBC_([0-9.]+)", symbols)})


def check_binary(name: str, binary: Path) -> list[str]:
    problems = []
    header = binary.read_bytes()[:20]
    if header[:4] != b"\x7fELF" or header[4] != 2:
        return [f"{name}: bootstrap is not a 64-bit ELF file"]
    # 2: executable; 3: position-independent executable (what Rust links by default).
    if header[16] not in (2, 3):
        problems.append(f"{name}: bootstrap is not an executable (ELF type {header[16]})")
    if header[18:20] not in MACHINES:
        problems.append(f"{name}: bootstrap is for machine {header[18:20].hex()}, not x86-64 or aarch64")
    versions = glibc_versions(binary)
    if versions and versions[-1] > MAX_GLIBC:
        newest = ".".join(map(str, versions[-1]))
        problems.append(f"{name}: needs glibc {newest}; Amazon Linux 2023 has 2.34")
    return problems


def main(directory: str) -> int:
    root = Path(directory)
    problems, rows = [], []
    for function in sorted(p for p in root.iterdir() if p.is_dir()):
        archive, plain = function / "bootstrap.zip", function / "bootstrap"
        if archive.exists():
            size = archive.stat().st_size
            if size > MAX_ZIP_BYTES:
                problems.append(f"{function.name}: bootstrap.zip is {size / 2**20:.1f} MB, over 8 MB")
            with zipfile.ZipFile(archive) as zipped, tempfile.TemporaryDirectory() as tmp:
                binary = Path(zipped.extract("bootstrap", tmp))
                problems += check_binary(function.name, binary)
                rows.append((function.name, size, binary.stat().st_size, glibc_versions(binary)))
        elif plain.exists():
            problems += check_binary(function.name, plain)
            rows.append((function.name, None, plain.stat().st_size, glibc_versions(plain)))
    if not rows:
        problems.append(f"no function packages under {root}")
    for name, zipped, size, versions in rows:
        newest = ".".join(map(str, versions[-1])) if versions else "none"
        zip_text = f"{zipped / 2**20:5.1f} MB zip, " if zipped is not None else ""
        print(f"  {name:<16} {zip_text}{size / 2**20:5.1f} MB bootstrap, newest glibc symbol {newest}")
    for problem in problems:
        print(f"PROBLEM: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "build/package"))
