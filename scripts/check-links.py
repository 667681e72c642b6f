#!/usr/bin/env python3
"""Checks that every relative link and #anchor in README.md and docs/*.md resolves.

A link must name a file or folder inside the repository; its #anchor must name a heading of the
Markdown file it points to (or an <a name|id="…"> there), by GitHub's rule: the heading's text in
lower case, markup and punctuation dropped, spaces turned into hyphens, and -1, -2, … appended to
repeats. Links to other sites are not fetched. Code blocks and inline code hold no links and no
headings. Exits 1 and names each broken link if any. Called by scripts/test.sh.
"""

import functools
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
HEADING = re.compile(r"^ {0,3}#{1,6}[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$")
INLINE_CODE = re.compile(r"(`+)(?:(?!\1).)+?\1")
# [text](target "title") and ![alt](target); the target may be wrapped in <>.
INLINE_LINK = re.compile(r"\]\(\s*(<[^>]*>|[^)\s]+)(?:\s+(?:\"[^\"]*\"|'[^']*'))?\s*\)")
REFERENCE_DEFINITION = re.compile(r"^ {0,3}\[[^\]]+\]:\s*(<[^>]*>|\S+)")
HTML_TARGET = re.compile(r"<(?:a|img)\b[^>]*?\b(?:href|src)=\"([^\"]*)\"", re.IGNORECASE)
HTML_ANCHOR = re.compile(r"<a\b[^>]*?\b(?:name|id)=\"([^\"]*)\"", re.IGNORECASE)
SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:|^//")


def prose_lines(text):
    """(line number, line) of each line outside fenced code blocks."""
    fence = None
    for number, line in enumerate(text.splitlines(), start=1):
        opening = FENCE.match(line)
        if fence is None and opening:
            fence = opening.group(1)
            continue
        if fence is not None:
            if line.strip().startswith(fence[0] * len(fence)) and line.strip().strip(fence[0]) == "":
                fence = None
            continue
        yield number, line


def slug(heading):
    """GitHub's anchor for a heading's Markdown text."""
    text = re.sub(r"!\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # images: their alt text
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)  # links: their text
    text = re.sub(r"<[^>]+>", "", text)  # inline HTML
    text = text.lower()
    # Keep letters, digits, underscores, hyphens and spaces; drop all other punctuation.
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


@functools.cache
def anchors(path):
    """Every anchor a Markdown file defines."""
    seen = {}
    found = set()
    for _, line in prose_lines(path.read_text(encoding="utf-8")):
        found.update(HTML_ANCHOR.findall(line))
        heading = HEADING.match(line)
        if not heading:
            continue
        base = slug(heading.group(1))
        count = seen.get(base, 0)
        seen[base] = count + 1
        found.add(base if count == 0 else f"{base}-{count}")
    return found


def targets(line):
    """The link targets written on one line of prose."""
    line = INLINE_CODE.sub("", line)
    found = [m.group(1) for m in INLINE_LINK.finditer(line)]
    found += HTML_TARGET.findall(line)
    definition = REFERENCE_DEFINITION.match(line)
    if definition:
        found.append(definition.group(1))
    return [t[1:-1] if t.startswith("<") and t.endswith(">") else t for t in found]


def problem(source, target):
    """Why `target`, written in `source`, does not resolve; None when it does."""
    if SCHEME.match(target):
        return None
    path_part, _, fragment = target.partition("#")
    destination = (source.parent / path_part).resolve() if path_part else source
    if destination != ROOT and ROOT not in destination.parents:
        return "points outside the repository"
    if not destination.exists():
        return f"{destination.relative_to(ROOT)} does not exist"
    if fragment:
        if destination.suffix.lower() != ".md" or destination.is_dir():
            return None  # anchors into other files (line numbers, YAML) are not checked
        if fragment not in anchors(destination):
            return f"{destination.relative_to(ROOT)} has no heading with the anchor #{fragment}"
    return None


def main():
    documents = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    checked = 0
    broken = []
    for document in documents:
        for number, line in prose_lines(document.read_text(encoding="utf-8")):
            for target in targets(line):
                checked += 1
                why = problem(document, target)
                if why:
                    broken.append(f"{document.relative_to(ROOT)}:{number}: ({target}) {why}")
    for line in broken:
        print(line, file=sys.stderr)
    names = ", ".join(str(d.relative_to(ROOT)) for d in documents)
    print(f"links: {checked} checked in {names}; {len(broken)} broken")
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
