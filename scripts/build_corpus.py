"""Rebuild ``sims/data/corpus.txt`` from the CPython standard library.

The committed corpus was built with CPython 3.11.7. Another version's sources differ, so a
rebuild there gives a different file and checksum; the committed file is the reference.

Usage: ``python scripts/build_corpus.py [--lib DIR]``, where ``DIR`` defaults to the
running interpreter's standard library.
"""

import argparse
import hashlib
import pathlib
import sysconfig

MODULES = (
    "argparse.py", "bisect.py", "calendar.py", "configparser.py", "copy.py", "csv.py",
    "dataclasses.py", "difflib.py", "enum.py", "fractions.py", "functools.py", "heapq.py",
    "inspect.py", "pathlib.py", "pprint.py", "random.py", "statistics.py", "string.py",
    "textwrap.py", "typing.py",
)
"""Standard-library modules in the corpus, in this order (about 0.95 MB)."""


def build(lib):
    """Return the corpus text: each module's source, ASCII only, after a header line."""
    parts = []
    for module in MODULES:
        source = (lib / module).read_text(encoding="utf-8")
        ascii_source = source.encode("ascii", errors="ignore").decode("ascii")
        ascii_source = ascii_source.replace("\t", "    ").replace("\r", "")
        parts.append(f"# ---- Lib/{module} ----\n{ascii_source}")
    return "".join(parts)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lib", type=pathlib.Path,
                        default=pathlib.Path(sysconfig.get_paths()["stdlib"]),
                        help="standard-library folder to read the modules from")
    args = parser.parse_args()

    text = build(args.lib)
    target = pathlib.Path(__file__).resolve().parent.parent / "sims" / "data" / "corpus.txt"
    target.write_text(text, encoding="ascii", newline="\n")
    digest = hashlib.sha256(text.encode("ascii")).hexdigest()
    print(f"wrote {target} ({len(text)} characters, sha256 {digest})")


if __name__ == "__main__":
    main()
