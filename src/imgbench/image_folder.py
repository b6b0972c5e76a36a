"""A folder of the user's own images as a dataset: listed cheaply when the workflow is parsed, then
decoded on every core into one image pool per square side.

Two layouts, the ones PyTorch users already keep: an ImageFolder tree (`root/<class>/.../<image>`,
read as torchvision's `ImageFolder` reads it, labels numbering the sorted class folder names), or
a folder of images with a labels CSV (`filename,label` rows, labels numbering the sorted class
names). Hidden files and folders are ignored, and so are files directly in a tree's root (a
README or the labels CSV may sit there).

Every file that cannot be used is a `Problem` that names it and says why. By default any problem
stops the build, after all images were tried so that one error lists them all, and nothing is
written; with `skip_unreadable` the pool is built without them and its record lists them.
"""

from __future__ import annotations

import csv
import hashlib
import io
import multiprocessing
import os
import posixpath
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from imgbench import progress
from imgbench.atomic_files import write_json
from imgbench.errors import ImageFolderError
from imgbench.forked_arrays import result_array
from imgbench.pool import Pool
from imgbench.resizing import RESIZE_FILTER_NAME, square

# torchvision's IMG_EXTENSIONS, compared lower-cased as it does.
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")
MAX_CLASSES = 256  # imgbench's stores keep a label in one byte
SHOWN_PROBLEMS = 20  # an error lists this many bad files, then a count of the others
CHUNK_IMAGES = 32  # images per worker task: many tasks share both cores out evenly
PROGRESS_SECONDS = 5.0  # a line this often, so a long build never looks stuck
SKIP_ADVICE = (
    "Fix or remove them, or set `dataset.skip_unreadable: true` to build the pool without them "
    "(the pool's record then lists what was skipped)."
)
NOT_AN_IMAGE = f"not an image file (its extension is not one of {' '.join(IMAGE_EXTENSIONS)})"


@dataclass(frozen=True)
class Problem:
    """A file or folder that cannot go into the pool, why, and what to do if that is not plain."""

    path: str  # relative to the folder; a folder's ends in "/"
    reason: str
    advice: str = ""

    def line(self) -> str:
        text = f"{_shown(self.path)}: {self.reason}"
        return f"{text}; {self.advice}" if self.advice else text


@dataclass(frozen=True)
class Listing:
    """What `scan` found without decoding anything: the pool's images in order, with labels."""

    root: Path
    labels_csv: Path | None
    entries: tuple[tuple[str, int], ...]  # (path relative to root, label), in pool order
    classes: tuple[str, ...]  # the class name of each label
    problems: tuple[Problem, ...]
    files: tuple[str, ...]  # every file the pool depends on, relative to root, for `fingerprint`

    @property
    def layout(self) -> str:
        return "tree" if self.labels_csv is None else "csv"


def scan(folder: Path, labels_csv: Path | None = None) -> Listing:
    """List the images of `folder` (a tree, or labelled by `labels_csv`) and every problem that
    shows without decoding; no images at all is an error.

    Only names are read (plus the targets of symbolic links), so this stays well under a second
    for 10,000 images and can run whenever the workflow is parsed.
    """
    root = folder.absolute()
    if not root.is_dir():
        raise ImageFolderError(
            f"{root}: no such folder; point the dataset at the folder holding your images."
        )
    if not os.access(root, os.R_OK | os.X_OK):
        raise ImageFolderError(f"{root}: this user may not list the folder; make it readable.")
    if labels_csv is None:
        return _scan_tree(root)
    return _scan_csv(root, labels_csv.absolute())


def fingerprint(listing: Listing) -> str:
    """SHA-256 (hex) over the name, size and modification time of every file the pool depends
    on, and the labels CSV's bytes: it changes when a file is added, removed, renamed or
    rewritten, and not when the folder moves or files are only read."""
    digest = hashlib.sha256()
    root = str(listing.root)
    for path in sorted(listing.files):
        try:
            status = os.stat(f"{root}/{path}")
            facts = f"{status.st_size} {status.st_mtime_ns}"
        except OSError:  # gone since the scan: the pool would differ, and so does this
            facts = "missing"
        digest.update(os.fsencode(path) + b"\0" + facts.encode() + b"\n")
    if listing.labels_csv is not None:
        digest.update(b"labels\0" + listing.labels_csv.read_bytes())
    return digest.hexdigest()


def build_folder_pool(
    folder: Path,
    labels_csv: Path | None,
    side: int,
    *,
    skip_unreadable: bool,
    workers: int,
    out: Path,
    record: Path,
    limit: int | None = None,
    seed: int | None = None,
) -> None:
    """Decode every image of `folder` as a side×side square (`imgbench.resizing.square`) into the
    image pool at `out`, and say in the JSON `record` what it was built from. With `limit` and
    `seed`, only the pool's images (`chosen`) are decoded.

    Problems stop the build before anything is written, unless `skip_unreadable`. A file with
    more pixels than Pillow's `PIL.Image.MAX_IMAGE_PIXELS` (its default, unless the caller
    lowers it; forked workers inherit the caller's value) is refused as a decompression bomb.
    """
    listing = scan(folder, labels_csv)
    if len(listing.classes) > MAX_CLASSES:
        kind = "class folders" if labels_csv is None else "labels"
        raise ImageFolderError(
            f"{listing.root}: {len(listing.classes):,} classes, but imgbench's stores keep a "
            f"label in one byte, so at most {MAX_CLASSES} classes fit. Merge classes, or use a "
            f"dataset with at most {MAX_CLASSES} {kind}."
        )
    digest = fingerprint(listing)
    everything, listing = listing, chosen(listing, limit, seed)
    images, failures = _decode_all(listing, side, workers)
    problems = [*listing.problems, *failures]
    if problems and not skip_unreadable:
        raise ImageFolderError(_problems_message(listing.root, problems, SKIP_ADVICE))
    failed = {problem.path for problem in failures}
    kept = [row for row, (path, _) in enumerate(listing.entries) if path not in failed]
    if not kept:
        raise ImageFolderError(
            _problems_message(
                listing.root,
                problems,
                "None of its images can be used, so there is no pool to build: fix the files.",
            )
        )
    old_labels = np.array([listing.entries[row][1] for row in kept])
    # A class whose every image was skipped is dropped; one the pool's images only happen to
    # leave out keeps its label, so the pools of every size agree on labels.
    used = np.unique([label for path, label in everything.entries if path not in failed])
    labels = np.searchsorted(used, old_labels).astype(np.uint8)
    classes = [listing.classes[label] for label in used]
    if len(kept) < len(images):
        for new, old in enumerate(kept):  # in place: the array may be most of the memory
            images[new] = images[old]
        images = images[: len(kept)]
    if problems:
        _report_skipped(record, problems, set(listing.classes) - set(classes))
    Pool(images, labels).save(out)
    counts = np.bincount(labels, minlength=len(classes))
    write_json(
        record,
        {
            "source": "folder",
            "folder": str(listing.root),
            "layout": listing.layout,
            "labels_csv": None if listing.labels_csv is None else str(listing.labels_csv),
            "side": side,
            "resize_filter": RESIZE_FILTER_NAME,
            "images": len(labels),
            "classes": [
                {"label": label, "name": name, "images": int(counts[label])}
                for label, name in enumerate(classes)
            ],
            "skipped": [{"path": problem.path, "reason": problem.reason} for problem in problems],
            "fingerprint": digest,
        },
    )
    print(
        f"image pool {out}: {len(labels):,} images of {side} px in {len(classes)} classes "
        f"from {listing.root}",
        flush=True,
    )


def chosen(listing: Listing, limit: int | None, seed: int | None) -> Listing:
    """The images a pool holds, in pool order: every image in listing order, or with a `seed`
    in an order shuffled by it (so that the first N of a pool, a store's images, hold every
    class rather than the first class folder's), then the first `limit`."""
    entries = listing.entries
    if seed is not None:
        order = np.random.default_rng(seed).permutation(len(entries))
        entries = tuple(entries[index] for index in order)
    return replace(listing, entries=entries[:limit])


def _shown(path: str) -> str:
    """`path` as it can be printed on one line: quoted with escapes when it holds a newline, a
    control character or bytes that are not UTF-8."""
    if path.isprintable():
        return path
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        return repr(os.fsencode(path))
    return repr(path)


def _report_skipped(record: Path, problems: list[Problem], dropped: set[str]) -> None:
    lines = [f"skipped {len(problems):,} files that cannot be used (all listed in {record}):"]
    lines += _problem_lines(problems)
    if dropped:
        names = ", ".join(_shown(name) for name in sorted(dropped))
        lines.append(f"classes left without images, so not in the pool: {names}")
    print("\n".join(lines), flush=True)


def _problems_message(root: Path, problems: list[Problem], advice: str) -> str:
    return "\n".join(
        [f"{root}: {len(problems):,} files cannot be used:", *_problem_lines(problems), advice]
    )


def _problem_lines(problems: list[Problem]) -> list[str]:
    lines = [f"  {problem.line()}" for problem in problems[:SHOWN_PROBLEMS]]
    if len(problems) > SHOWN_PROBLEMS:
        lines.append(f"  and {len(problems) - SHOWN_PROBLEMS:,} more")
    return lines


# --- listing ---------------------------------------------------------------------------------


def _is_image(path: str) -> bool:
    return path.lower().endswith(IMAGE_EXTENSIONS)


def _unfit_class_name(name: str) -> str | None:
    """Why `name` cannot be a class label (it must print as itself on one line), or None."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return "is not valid UTF-8"
    if not name.isprintable():
        return "holds a newline, tab or other control character"
    if name != name.strip():
        return "begins or ends with whitespace"
    return None


class _Walker:
    """Walks the folder: hidden entries left out, symbolic links followed only while they stay
    inside it (a pool must not depend on files elsewhere), every refusal kept as a Problem."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.real_root = os.path.realpath(root)
        self.problems: list[Problem] = []

    def entries(
        self, relative: str, real: str, ancestors: frozenset[str], folders_only: bool = False
    ) -> Iterator[tuple[str, str, bool]]:
        """(path relative to the root, real path, is a folder) for each usable entry of the
        folder at `relative` (real path `real`, inside the real folders `ancestors`); only its
        subfolders if `folders_only`, and then its files are not looked at."""
        try:
            with os.scandir(real) as scanned:
                listed = list(scanned)
        except OSError as error:
            self.problems.append(
                Problem(f"{relative}/", f"cannot be listed ({error.strerror})", "make it readable")
            )
            return
        for entry in listed:
            if entry.name.startswith(".") or (folders_only and not entry.is_dir()):
                continue
            path = f"{relative}/{entry.name}" if relative else entry.name
            target = entry.path
            if entry.is_symlink():
                target = self._link_target(path, entry.path, ancestors)
                if target is None:
                    continue
            if entry.is_dir():
                yield path, target, True
            elif entry.is_file():
                yield path, target, False
            else:
                self.problems.append(
                    Problem(path, "not a regular file (a pipe, socket or device)", "remove it")
                )

    def files(self, relative: str, real: str, ancestors: frozenset[str]) -> Iterator[str]:
        """Every file under the folder at `relative`, as a path relative to the root."""
        ancestors = ancestors | {real}
        for path, target, is_folder in self.entries(relative, real, ancestors):
            if is_folder:
                yield from self.files(path, target, ancestors)
            else:
                yield path

    def _link_target(self, path: str, link: str, ancestors: frozenset[str]) -> str | None:
        target = os.path.realpath(link)
        if os.path.commonpath([target, self.real_root]) != self.real_root:
            reason = f"symbolic link to {target}, outside the folder"
            advice = "copy what it points to into the folder, or remove the link"
        elif not os.path.exists(target):
            reason, advice = "broken symbolic link", "remove it or point it at an existing file"
        elif target in ancestors:
            reason, advice = "symbolic link to a folder that holds it (a loop)", "remove it"
        else:
            return target
        self.problems.append(Problem(path, reason, advice))
        return None


def _scan_tree(root: Path) -> Listing:
    walker = _Walker(root)
    top = frozenset({walker.real_root})
    images_of: dict[str, list[str]] = {}
    files: list[str] = []
    for name, real, _ in walker.entries("", walker.real_root, top, folders_only=True):
        found = list(walker.files(name, real, top))
        files += found
        images = sorted(path for path in found if _is_image(path))
        walker.problems += [
            Problem(path, NOT_AN_IMAGE, "remove it or move it out of the class folders")
            for path in sorted(found)
            if not _is_image(path)
        ]
        unfit = _unfit_class_name(name)
        if unfit and images:
            walker.problems.append(
                Problem(
                    f"{name}/",
                    f"the folder name {unfit}, so it cannot be a class label",
                    "rename it",
                )
            )
        elif not images:
            walker.problems.append(
                Problem(f"{name}/", "class folder without image files", "add images or remove it")
            )
        else:
            images_of[name] = images
    if not any(_is_image(path) for path in files):
        loose_images = sum(
            _is_image(entry.name) and not entry.name.startswith(".") and entry.is_file()
            for entry in os.scandir(root)
        )
        loose = (
            f" {loose_images:,} image files lie directly in the folder: move them into class "
            "folders, or list them with their labels in a labels CSV (rows filename,label)."
            if loose_images
            else ""
        )
        raise ImageFolderError(
            f"{root}: no image files ({' '.join(IMAGE_EXTENSIONS)}) in class folders; expected "
            f"one subfolder per class holding its images, {root}/<class>/.../<image>.{loose}"
        )
    classes = tuple(sorted(images_of))
    entries = tuple((path, label) for label, name in enumerate(classes) for path in images_of[name])
    return Listing(root, None, entries, classes, tuple(walker.problems), tuple(files))


def _scan_csv(root: Path, labels_csv: Path) -> Listing:
    walker = _Walker(root)
    present = [path for path in walker.files("", walker.real_root, frozenset()) if _is_image(path)]
    if not present:
        raise ImageFolderError(
            f"{root}: no image files ({' '.join(IMAGE_EXTENSIONS)}) in the folder or its "
            f"subfolders, which {labels_csv} should label."
        )
    refused = {problem.path for problem in walker.problems}
    problems = walker.problems
    labelled: list[tuple[str, str]] = []
    line_of: dict[str, int] = {}
    for line, row in _labels_rows(labels_csv):
        where = f"{labels_csv.name} line {line}"
        if len(row) != 2 or not all(row):
            problems.append(
                Problem(where, f"expected filename,label, found {row}", "fix or remove the row")
            )
            continue
        filename, label = row
        path = posixpath.normpath(filename)
        unfit = _unfit_class_name(label)
        if path.startswith(("/", "../")) or path == "..":
            problems.append(Problem(filename, f"{where}: outside the folder", "fix its path"))
        elif path in line_of:
            problems.append(
                Problem(
                    path, f"{where}: listed again (first on line {line_of[path]})", "keep one row"
                )
            )
        elif unfit:
            problems.append(Problem(path, f"{where}: the label {label!r} {unfit}", "fix the label"))
        elif not _is_image(path):
            problems.append(Problem(path, f"{where}: {NOT_AN_IMAGE}", "remove the row"))
        elif any(part.startswith(".") for part in path.split("/")):
            problems.append(
                Problem(path, f"{where}: hidden, and hidden files are ignored", "rename it")
            )
        elif path not in refused:
            labelled.append((path, label))
        line_of.setdefault(path, line)
    present_set = set(present)
    entries_named = [(path, label) for path, label in labelled if path in present_set]
    problems += [
        Problem(
            path,
            f"listed in {labels_csv.name} (line {line_of[path]}) but missing",
            "remove the row or add the file",
        )
        for path, _ in labelled
        if path not in present_set
    ]
    problems += [
        Problem(
            path,
            f"image file not listed in {labels_csv.name}",
            "add a row for it or move it out of the folder",
        )
        for path in sorted(present_set - line_of.keys())
    ]
    classes = tuple(sorted({label for _, label in entries_named}))
    label_of = {name: label for label, name in enumerate(classes)}
    entries = tuple((path, label_of[name]) for path, name in entries_named)
    return Listing(root, labels_csv, entries, classes, tuple(problems), tuple(present))


def _labels_rows(labels_csv: Path) -> Iterator[tuple[int, list[str]]]:
    """(line number, fields) of each non-blank row after the header of the labels CSV."""
    try:
        text = labels_csv.read_bytes().decode("utf-8-sig")
    except FileNotFoundError:
        raise ImageFolderError(
            f"{labels_csv}: no such labels CSV; create it (rows filename,label) or leave it out "
            "to read the folder as one subfolder per class."
        ) from None
    except OSError as error:
        raise ImageFolderError(
            f"{labels_csv}: cannot be read ({error.strerror}); make it a readable file."
        ) from None
    except UnicodeDecodeError as error:
        raise ImageFolderError(
            f"{labels_csv}: not UTF-8 text ({error.reason} at byte {error.start}); save it as "
            "UTF-8."
        ) from None
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next((row for row in reader if row), None)
    if header != ["filename", "label"]:
        raise ImageFolderError(
            f"{labels_csv}: the first row must be the header filename,label, found {header}; "
            "add it, then one row per image: its path relative to the folder, its class name."
        )
    for row in reader:
        if row:
            yield reader.line_num, row


# --- decoding --------------------------------------------------------------------------------

# What forked workers decode: set in the parent just before forking, inherited by the children.
_work: dict[str, Any] = {}


def _decode_all(listing: Listing, side: int, workers: int) -> tuple[np.ndarray, list[Problem]]:
    """Every image of `listing` as a side×side square, and a Problem for each that failed."""
    paths = [str(listing.root / path) for path, _ in listing.entries]
    chunks = [
        (start, min(start + CHUNK_IMAGES, len(paths)))
        for start in range(0, len(paths), CHUNK_IMAGES)
    ]
    processes = max(1, min(workers, len(chunks)))
    images = result_array(len(paths), (side, side, 3), processes)
    progress = _Progress(len(paths), side)
    failed: list[tuple[int, str]] = []
    _work.update(paths=paths, side=side, images=images)
    try:
        if processes == 1:
            for count, failures in map(_decode_chunk, chunks):
                progress.advance(count)
                failed += failures
        else:
            with multiprocessing.get_context("fork").Pool(processes) as pool:
                for count, failures in pool.imap_unordered(_decode_chunk, chunks):
                    progress.advance(count)
                    failed += failures
    finally:
        _work.clear()
    progress.finish()
    return images, [Problem(listing.entries[row][0], reason) for row, reason in sorted(failed)]


def _decode_chunk(bounds: tuple[int, int]) -> tuple[int, list[tuple[int, str]]]:
    paths, side, images = _work["paths"], _work["side"], _work["images"]
    failures = []
    with warnings.catch_warnings():
        # Pillow only warns between MAX_IMAGE_PIXELS and twice that: a bomb all the same.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        for row in range(*bounds):
            reason = _decode_into(paths[row], side, images[row])
            if reason is not None:
                failures.append((row, reason))
    return bounds[1] - bounds[0], failures


def _decode_into(path: str, side: int, into: np.ndarray) -> str | None:
    """Decode the image at `path` as it is shown (EXIF orientation applied) into `into`, a
    (side, side, 3) square; None, or why the file cannot be used."""
    try:
        with Image.open(path) as image:
            if image.format == "JPEG":
                # Decode at the smallest of 1/8, 1/4, 1/2 or full scale that keeps both sides
                # >= side, so the centred square still has >= side pixels a side to shrink.
                image.draft("RGB", (side, side))
            ImageOps.exif_transpose(image, in_place=True)
            into[...] = square(image, side)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        return f"decompression bomb: {error}"
    except UnidentifiedImageError:
        return "not an image Pillow can read (unknown format, or not an image at all)"
    except OSError as error:
        return f"unreadable: {error}"
    except Exception as error:  # a damaged file can make a Pillow plugin raise almost anything
        return f"cannot be decoded: {type(error).__name__}: {error}"
    return None


class _Progress:
    """Prints how far decoding is to the job's log every PROGRESS_SECONDS, and a last line with
    the rate; tells the job's progress too, which shows a line on the terminal once the build
    runs long (`imgbench.progress`)."""

    def __init__(self, total: int, side: int) -> None:
        self.total, self.side, self.done = total, side, 0
        self.start = self.printed = time.monotonic()

    def advance(self, count: int) -> None:
        self.done += count
        now = time.monotonic()
        progress.advanced(self.done, self.total, f"images decoded at {self.side} px")
        if now - self.printed >= PROGRESS_SECONDS and self.done < self.total:
            self.printed = now
            rate = self.done / max(now - self.start, 1e-9)
            print(
                f"decoded {self.done:,} / {self.total:,} images at {self.side} px "
                f"({rate:,.0f}/s), about {(self.total - self.done) / rate:,.0f} s left",
                flush=True,
            )

    def finish(self) -> None:
        seconds = time.monotonic() - self.start
        print(
            f"decoded {self.total:,} images at {self.side} px in {seconds:,.1f} s "
            f"({self.total / max(seconds, 1e-9):,.0f}/s)",
            flush=True,
        )
